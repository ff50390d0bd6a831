"""``lakeml import mlflow postgresql://… / mysql://…``: MLflow stores on real database
servers (PostgreSQL 15 and MariaDB from Debian, on loopback) come over whole, once.

The real MLflow wrote the same population as into the sqlite and file stores
(conftest); every value its client read must read the same through lakeml, the
registered model must predict as MLflow's, ``--verify`` finds no difference, and a
second import commits nothing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import lakeml
import lakeml.pyfunc
from lakeml.entities import ViewType
from lakeml.errors import InvalidArgument, StoreUnavailable
from lakeml.migrate import import_mlflow, verify
from lakeml.migrate.readers import open_source
from tests.migrate.test_import_mlflow import ROOT, _table_versions, assert_same

pytestmark = pytest.mark.slow
KINDS = ["postgresql", "mysql"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_value_comes_over_once(mlflow_databases: dict[str, Any], kind: str,
                                     tmp_path: Path) -> None:
    uri, expected = mlflow_databases["uris"][kind], mlflow_databases[kind]
    store = str(tmp_path / "lake")
    summary = import_mlflow(uri, store)
    assert summary.counts["runs"] == len(expected["runs"])
    assert summary.counts["model_versions"] == 3 and summary.counts["artifact_files"] > 0
    client = lakeml.Client(store)
    assert_same(client, expected)
    parent = next(r for r, v in expected["runs"].items() if v["run_name"] == "parent")
    # the tags a CSV reading could get wrong: an empty string, a newline, quotes, digits
    tags = client.get_run(parent).data.tags
    assert (tags["empty"], tags["note"], tags["digits"]) == ("", 'two\nlines, a "quote"',
                                                             "007")
    figures, differences = verify(uri, store)
    assert differences == [] and figures["metric_points"][0] > 0

    lakeml.set_store(store)
    predicted = np.load(mlflow_databases["folder"] / kind / "pred.npy")
    model = lakeml.pyfunc.load_model("models:/reg@champion")
    np.testing.assert_array_equal(model.predict(np.array(mlflow_databases["X"])), predicted)

    versions = _table_versions(store)
    again = import_mlflow(uri, store)
    assert again.runs_skipped == len(expected["runs"])
    assert {k: v for k, v in again.counts.items() if v} == {}
    assert _table_versions(store) == versions  # not one commit


@pytest.mark.parametrize("kind", KINDS)
def test_cli_import_with_verify(mlflow_databases: dict[str, Any], kind: str,
                                tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    command = [sys.executable, "-m", "lakeml", "import", "mlflow",
               mlflow_databases["uris"][kind], "--store", store, "--verify", "--format", "json"]
    env = {"LAKEML_PROGRESS": "off", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    for _ in range(2):  # the second time: nothing new, the same verified store
        proc = subprocess.run(command, cwd=str(ROOT), capture_output=True, text=True, env=env,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert '"imported": "runs"' in proc.stdout and '"same": false' not in proc.stdout
    experiments = lakeml.Client(store).search_experiments(ViewType.ALL)
    assert {e.name for e in experiments} >= {"exp-a", "exp-gone"}


def test_the_password_stays_out_of_names(mlflow_databases: dict[str, Any]) -> None:
    """The import state names a store without its password; a wrong one is refused with
    the URI, its password left out."""
    uri = mlflow_databases["uris"]["mysql"]
    assert "p%40ss" in uri
    source = open_source(uri)
    try:
        assert source.uri.startswith("mysql://mlflow@127.0.0.1:") and "ss" not in source.uri
    finally:
        source.close()
    wrong = uri.replace("p%40ss%3Aword", "wrong-secret")
    with pytest.raises(StoreUnavailable, match="mlflow@127.0.0.1") as raised:
        open_source(wrong)
    assert "wrong-secret" not in str(raised.value)
    pg = mlflow_databases["uris"]["postgresql"]
    with pytest.raises(StoreUnavailable, match="nosuchdb"):
        open_source(pg.rsplit("/", 1)[0] + "/nosuchdb")
    with pytest.raises(InvalidArgument, match="not an MLflow database"):
        open_source(pg.rsplit("/", 1)[0] + "/postgres")  # a database, but no MLflow tables


def test_connectorx_reads_what_pymysql_reads(mlflow_databases: dict[str, Any]) -> None:
    """MySQL's two paths for a batch of rows (connectorx into Arrow, PyMySQL's cursor)
    give the same tables, for every run and for runs that are not next to each other."""
    pytest.importorskip("connectorx")
    from tests.migrate.test_sources import _rows

    fast = open_source(mlflow_databases["uris"]["mysql"])
    slow = open_source(mlflow_databases["uris"]["mysql"])
    slow._cx_uri = None  # as without connectorx
    try:
        ids = sorted(fast.run_index())
        for wanted in (ids, ids[::2]):
            a, b = fast.read_runs(wanted), slow.read_runs(wanted)
            for kind in ("runs", "params", "tags", "metrics", "inputs"):
                assert getattr(a, kind).schema == getattr(b, kind).schema
                assert _rows(getattr(a, kind)) == _rows(getattr(b, kind)), kind
            assert set(a.runs["run_id"].to_pylist()) == set(wanted)
        assert fast._cx_uri  # (connectorx did read: a failure would have cleared it)
    finally:
        fast.close()
        slow.close()
