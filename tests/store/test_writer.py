"""The batched writer: buffering, background commits, idempotent retries."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from lakeml.errors import CommitConflict, StoreUnavailable
from lakeml.store import Store
from lakeml.store.table import DeltaTableHandle

US = 1_700_000_000_000_000


def metric_rows(n: int, run: str = "r") -> list[tuple]:
    return [(run, "m", float(i), i, US + i) for i in range(n)]


def count(store: Store, table: str) -> int:
    _, files = store.snapshot_files(table)
    if not files:
        return 0
    return duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r})").fetchall()[0][0]


def test_log_calls_buffer_until_flush(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    for row in metric_rows(1000):
        store.append("metrics", row)
    assert count(store, "metrics") == 0  # nothing committed by a log call
    version_before = store.snapshot_files("metrics")[0]
    store.flush()
    assert count(store, "metrics") == 1000
    assert store.snapshot_files("metrics")[0] == version_before + 1  # one commit
    store.close()


def test_background_flusher_commits_by_interval(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=0.1).open()
    store.writer.extend("metrics", metric_rows(10))
    deadline = time.monotonic() + 10
    while count(store, "metrics") < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(store, "metrics") == 10
    store.close()


def test_background_flusher_commits_by_size(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60, flush_rows=500).open()
    for row in metric_rows(600):
        store.append("metrics", row)
    deadline = time.monotonic() + 10
    while count(store, "metrics") < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(store, "metrics") >= 500
    store.close()
    assert count(store, "metrics") == 600


def test_retry_after_lost_acknowledgement_does_not_duplicate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append
    calls = []

    def lost_ack(handle, data, **kw):  # noqa: ANN001
        """Fault injection: the commit lands, then the writer is told it failed."""
        calls.append(1)
        real(handle, data, **kw)
        if len(calls) == 1:
            raise CommitConflict("injected: acknowledgement lost after the commit landed")

    monkeypatch.setattr(DeltaTableHandle, "append", lost_ack)
    store.writer.extend("metrics", metric_rows(100))
    store.flush()
    assert len(calls) == 1  # the retry asked the table and saw the batch had landed
    store.writer.extend("metrics", metric_rows(50, run="r2"))
    store.flush()
    assert count(store, "metrics") == 150
    store.close()


def test_transient_failure_is_retried_once(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append
    calls = []

    def flaky(handle, data, **kw):  # noqa: ANN001
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailable("injected: network blip before the commit")
        real(handle, data, **kw)

    monkeypatch.setattr(DeltaTableHandle, "append", flaky)
    store.writer.extend("metrics", metric_rows(100))
    store.flush()
    assert len(calls) == 2 and count(store, "metrics") == 100
    store.close()


def test_a_failed_flush_keeps_rows_for_the_next(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append
    broken = {"on": True}

    def maybe(handle, data, **kw):  # noqa: ANN001
        if broken["on"]:
            raise StoreUnavailable("injected: store down")
        real(handle, data, **kw)

    monkeypatch.setattr(DeltaTableHandle, "append", maybe)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # skip retry back-off
    store.writer.extend("metrics", metric_rows(10))
    with pytest.raises(StoreUnavailable):
        store.flush()
    store.writer.extend("metrics", metric_rows(5, run="later"))
    assert store.writer.unflushed_rows() == 15
    broken["on"] = False
    store.flush()
    assert count(store, "metrics") == 15
    store.close()


def test_tables_are_plain_delta_tables(tmp_path: Path) -> None:
    import polars as pl
    from deltalake import DeltaTable

    store = Store(tmp_path / "s").open()
    store.writer.extend("metrics", [("r", "m", float("nan"), 0, US)])
    store.close()
    dt = DeltaTable(store.table_uri("metrics"))
    assert dt.protocol().min_reader_version == 1
    assert {f.name for f in dt.schema().fields} == {"run_id", "key", "value", "step",
                                                    "timestamp"}
    frame = pl.read_delta(store.table_uri("metrics"))
    assert frame.height == 1 and frame["value"].is_nan()[0]
