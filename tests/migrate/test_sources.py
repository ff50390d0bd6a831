"""The MLflow store readers themselves: both sqlite paths agree, bad sources are named."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from lakeml.errors import InvalidArgument, NotFound, NotSupported, StoreUnavailable
from lakeml.migrate.readers import open_source
from lakeml.migrate.sqlite_source import SqliteSource

pytestmark = pytest.mark.slow


def _rows(table: Any) -> list[tuple]:
    """Rows, sorted, with NaN as a string (NaN never equals itself)."""
    return sorted(tuple("nan" if isinstance(v, float) and math.isnan(v) else v
                        for v in row.values()) for row in table.to_pylist())


def test_sqlite3_fallback_reads_what_adbc_reads(mlflow_stores: dict[str, Any]) -> None:
    pytest.importorskip("adbc_driver_sqlite")
    fast = SqliteSource(mlflow_stores["uris"]["sqlite"])
    slow = SqliteSource(mlflow_stores["uris"]["sqlite"])
    slow._adbc = False  # as without the optional driver
    try:
        ids = sorted(fast.run_index())
        some = ids[::2]  # not a contiguous range: the rows of other runs are filtered out
        for wanted in (ids, some):
            a, b = fast.read_runs(wanted), slow.read_runs(wanted)
            for kind in ("runs", "params", "tags", "metrics", "inputs"):
                assert getattr(a, kind).schema == getattr(b, kind).schema
                assert _rows(getattr(a, kind)) == _rows(getattr(b, kind)), kind
            assert set(a.runs["run_id"].to_pylist()) == set(wanted)
            assert set(a.metrics["run_id"].to_pylist()) <= set(wanted)
    finally:
        fast.close()
        slow.close()


def test_file_and_sqlite_sources_agree(mlflow_stores: dict[str, Any]) -> None:
    """The same MLflow script wrote both stores: the same shapes of rows come out."""
    counts = []
    for kind in ("sqlite_v1", "file"):  # (the later sqlite store has a run more)
        source = open_source(mlflow_stores["uris"][kind])
        try:
            batch = source.read_runs(sorted(source.run_index()))
            counts.append((batch.runs.num_rows, batch.params.num_rows, batch.inputs.num_rows,
                           len(source.experiments()), len(source.registered_models())))
        finally:
            source.close()
    assert counts[0] == counts[1]


def test_bad_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="nothing.db"):
        open_source(f"sqlite:///{tmp_path}/nothing.db")
    not_mlflow = tmp_path / "other.db"
    import sqlite3

    con = sqlite3.connect(not_mlflow)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(InvalidArgument, match="not an MLflow database"):
        open_source(f"sqlite:///{not_mlflow}")
    with pytest.raises(InvalidArgument, match="not an MLflow file store"):
        open_source(str(tmp_path))
    with pytest.raises(NotSupported, match="mssql://"):
        open_source("mssql://u@localhost/mlflow")
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for scheme in ("postgresql", "mysql+pymysql"):
        with pytest.raises(StoreUnavailable, match=f"u@127.0.0.1:{port}/mlflow"):
            open_source(f"{scheme}://u:secret@127.0.0.1:{port}/mlflow")
    with pytest.raises(InvalidArgument, match="names no database"):
        open_source(f"postgresql://u@127.0.0.1:{port}")
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
        open_source(f"http://127.0.0.1:{port}").experiments()
