"""``lakeml export mlflow``: a lakeml store goes back to MLflow, and MLflow's client reads it.

The store is the one imported from the real MLflow's sqlite store (conftest): exported
to a file store folder, what MLflow's own client reads there must equal what it read
from the original store, value for value (ids kept); exported to a real ``mlflow
server`` (a session fixture on loopback), the same values under the server's new ids.
MLflow loads the exported registered model and predicts as before. A second export
adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakeml.errors import AlreadyExists, InvalidArgument
from lakeml.migrate import import_mlflow
from lakeml.migrate.exporter import export_mlflow
from lakeml.migrate.mlflow_rest import MlflowRest
from tests.migrate.conftest import DUMP
from tests.mlflow_venv import run_mlflow

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]

READ_BACK = DUMP + r'''
import numpy as np
uri = sys.argv[1]
out = dump(uri)
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
X = np.array(json.loads(sys.argv[2]))
client = MlflowClient(uri, uri)
exp_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
out["logged_models"] = {m.model_id: {
    "name": m.name, "status": str(m.status), "source_run_id": m.source_run_id,
    "tags": m.tags, "outputs_of_run": [o.model_id for o in
                                       client.get_run(m.source_run_id).outputs.model_outputs]}
    for m in mlflow.search_logged_models(experiment_ids=exp_ids, output_format="list")}
out["predictions"] = {u: np.asarray(mlflow.pyfunc.load_model(u).predict(X)).tolist()
                      for u in ("models:/reg/Production", "models:/reg@champion",
                                *(f"models:/{m}" for m in out["logged_models"]))}
print(json.dumps(out))
'''


def read_back(uri: str, mlflow_stores: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """What MLflow's client (its side venv) reads at ``uri``, and its predictions."""
    return run_mlflow(READ_BACK, uri, json.dumps(mlflow_stores["X"]), cwd=cwd,
                      env={"MLFLOW_ALLOW_FILE_STORE": "true"})


@pytest.fixture(scope="module")
def lake(mlflow_stores: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A lakeml store holding everything of MLflow's sqlite store."""
    store = str(tmp_path_factory.mktemp("export") / "lake")
    import_mlflow(mlflow_stores["uris"]["sqlite"], store)
    return store


def _points(history: list[list[Any]]) -> list[tuple[int, int, str]]:
    """Distinct points (lakeml shows a point logged twice once), NaN equal to NaN."""
    return sorted({(int(s), int(t), "nan" if math.isnan(v) else repr(float(v)))
                   for s, t, v in history})


def normalised(dump: dict[str, Any], *, by_name: bool = False) -> dict[str, Any]:
    """A dump comparable across stores: distinct metric points; with ``by_name``,
    experiments and runs keyed by name, ids replaced by names (a server gives new ids)."""
    exp_names = {k: e["name"] for k, e in dump["experiments"].items()}
    run_names = {k: r["run_name"] for k, r in dump["runs"].items()}
    runs = {}
    for run_id, run in dump["runs"].items():
        run = dict(run, metrics={k: _points(h) for k, h in run["metrics"].items()})
        if by_name:
            tags = dict(run["tags"])
            if "mlflow.parentRunId" in tags:
                tags["mlflow.parentRunId"] = run_names[tags["mlflow.parentRunId"]]
            run.update(tags=tags, experiment_id=exp_names[run["experiment_id"]])
        runs[run_names[run_id] if by_name else run_id] = run
    experiments = {exp_names[k] if by_name else k: e for k, e in dump["experiments"].items()}
    registry = json.loads(json.dumps(dump["registry"]))
    # MLflow's file store reads an alias's version as the text of its file
    registry["aliases"] = {k: str(v) for k, v in registry["aliases"].items()}
    for version in registry["versions"].values():
        if by_name:
            version["run_id"] = run_names[version["run_id"]]
    return {"experiments": experiments, "runs": runs, "registry": registry}


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_to_a_folder_reads_back_equal(lake: str, mlflow_stores: dict[str, Any],
                                             tmp_path: Path) -> None:
    target = tmp_path / "mlruns"
    summary = export_mlflow(lake, str(target))
    expected = mlflow_stores["sqlite"]
    assert summary.counts["runs"] == len(expected["runs"])
    assert (summary.counts["registered_models"], summary.counts["model_versions"]) == (1, 3)
    got = read_back(target.as_uri(), mlflow_stores, tmp_path)
    assert normalised(got) == normalised(expected)
    predicted = __import__("numpy").load(mlflow_stores["folder"] / "sqlite" / "pred.npy")
    for uri, values in got["predictions"].items():
        assert values == predicted.tolist(), uri
    # the run's model is an MLflow 3 logged model again, with its id, READY, an output of
    # its run, loaded by models:/<id> above
    parent = next(r for r, v in expected["runs"].items() if v["run_name"] == "parent")
    assert summary.counts["logged_models"] == 1
    [(model_id, model)] = got["logged_models"].items()
    assert (model["name"], model["status"], model["source_run_id"]) == (
        "model", "READY", parent)
    assert model["outputs_of_run"] == [model_id] and f"models:/{model_id}" in got["predictions"]

    files = _tree(target)
    again = export_mlflow(lake, str(target))
    assert again.runs_skipped == len(expected["runs"])
    assert {k: v for k, v in again.counts.items() if v and k in (
        "runs", "params", "tags", "metric_points", "dataset_inputs", "artifact_files",
        "logged_models")} == {}
    assert _tree(target) == files


def test_export_restores_a_run_the_target_lost(lake: str, mlflow_stores: dict[str, Any],
                                               tmp_path: Path) -> None:
    """The export's memory says "sent", the folder says otherwise: the folder wins."""
    import shutil

    target = tmp_path / "mlruns"
    export_mlflow(lake, str(target))
    parent = next(r for r, v in mlflow_stores["sqlite"]["runs"].items()
                  if v["run_name"] == "parent")
    shutil.rmtree(next(target.glob(f"*/{parent}")))
    again = export_mlflow(lake, str(target))
    assert again.counts["runs"] == 1 and again.counts["artifact_files"] > 0
    assert next(target.glob(f"*/{parent}/artifacts/docs/notes.txt")).is_file()


def test_export_refuses_a_folder_whose_ids_mean_other_experiments(
        lake: str, tmp_path: Path) -> None:
    target = tmp_path / "mlruns"
    (target / "1").mkdir(parents=True)
    (target / "1" / "meta.yaml").write_text("experiment_id: '1'\nname: someone-else\n")
    with pytest.raises(AlreadyExists, match="someone-else"):
        export_mlflow(lake, str(target))


def test_bad_target_is_named(lake: str) -> None:
    with pytest.raises(InvalidArgument, match="postgresql"):
        export_mlflow(lake, "postgresql://u@localhost/mlflow")


def test_cli_export(lake: str, tmp_path: Path) -> None:
    target = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "lakeml", "export", "mlflow", "--store", lake,
                           "--to", str(target), "--format", "json"], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=600,
                          env={"LAKEML_PROGRESS": "off", "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    rows = {r["exported"]: r["count"] for r in json.loads(proc.stdout)}
    assert rows["runs"] > 0 and rows["model_versions"] == 3
    assert (target / "models" / "reg" / "version-2" / "meta.yaml").is_file()


def _without_server_choices(dump: dict[str, Any]) -> dict[str, Any]:
    """What a client cannot set through MLflow's REST API dropped (creation times of
    experiments, models and versions), and the export's own tags."""
    out = json.loads(json.dumps(dump))
    for exp in out["experiments"].values():
        exp.pop("creation_time")
    for run in out["runs"].values():
        run["tags"].pop("lakeml.source_run_id", None)
    out["registry"].pop("creation_timestamp")
    out["registry"]["tags"].pop("lakeml.exported", None)
    for version in out["registry"]["versions"].values():
        version.pop("creation_timestamp")
        version["tags"].pop("lakeml.source_version", None)
    return out


@pytest.fixture(scope="module")
def on_server(lake: str, mlflow_stores: dict[str, Any], mlflow_server: str,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The store exported to the real MLflow server, and what MLflow's client reads there."""
    summary = export_mlflow(lake, mlflow_server)
    return {"summary": summary, "dump": read_back(mlflow_server, mlflow_stores,
                                                  tmp_path_factory.mktemp("read-back"))}


def test_export_to_a_server_reads_back_equal(lake: str, mlflow_stores: dict[str, Any],
                                             mlflow_server: str,
                                             on_server: dict[str, Any]) -> None:
    summary, got = on_server["summary"], on_server["dump"]
    expected = mlflow_stores["sqlite"]
    assert summary.counts["runs"] == len(expected["runs"])
    assert (summary.counts["model_versions"], summary.counts["versions_renumbered"]) == (3, 0)
    assert all(r["tags"]["lakeml.source_run_id"] in expected["runs"]
               for r in got["runs"].values())
    assert _without_server_choices(normalised(got, by_name=True)) == \
        _without_server_choices(normalised(expected, by_name=True))
    predicted = __import__("numpy").load(mlflow_stores["folder"] / "sqlite" / "pred.npy")
    for uri, values in got["predictions"].items():
        assert values == predicted.tolist(), uri
    # the run's model: a logged model of the server's, tagged with its id in lakeml, READY,
    # an output of its run (under the server's run id), loaded by models:/<id> above
    assert summary.counts["logged_models"] == 1
    [(model_id, model)] = got["logged_models"].items()
    parent = next(r for r, v in got["runs"].items() if v["run_name"] == "parent")
    assert (model["name"], model["status"], model["source_run_id"]) == (
        "model", "READY", parent)
    assert model["tags"]["lakeml.source_model_id"].startswith("m-")
    assert model["outputs_of_run"] == [model_id] and f"models:/{model_id}" in got["predictions"]

    again = export_mlflow(lake, mlflow_server)
    assert again.runs_skipped == len(expected["runs"])
    assert {k: v for k, v in again.counts.items() if v and k != "experiments"} == {}
    # Without the export's memory, the runs are found on the server by their tag: all
    # re-sent, none created twice.
    import shutil

    shutil.rmtree(Path(lake, "migrations"))
    state_lost = export_mlflow(lake, mlflow_server)
    assert state_lost.counts["runs"] == len(expected["runs"])
    rest = MlflowRest(mlflow_server)
    exp_ids = [e["experiment_id"] for e in rest.pages(
        "experiments/search", {"view_type": "ALL"}, "experiments")]
    on_server = list(rest.pages("runs/search", {"experiment_ids": exp_ids,
                                                "run_view_type": "ALL"}, "runs"))
    rest.close()
    assert len(on_server) == len(expected["runs"])


def test_import_from_a_server(mlflow_stores: dict[str, Any], mlflow_server: str,
                              on_server: dict[str, Any], tmp_path: Path) -> None:
    """``lakeml import mlflow http://…``: everything MLflow's client reads on the server
    reads the same in lakeml (artifacts through the server's proxy), the model predicts
    as before, and a second import adds nothing."""
    import numpy as np

    import lakeml
    import lakeml.pyfunc
    from lakeml.migrate import verify
    from tests.migrate.test_import_mlflow import assert_same

    store = str(tmp_path / "lake")
    summary = import_mlflow(mlflow_server, store)
    dump = on_server["dump"]
    assert summary.counts["runs"] == len(dump["runs"]) and summary.counts["artifact_files"]
    assert_same(lakeml.Client(store), dump)
    assert verify(mlflow_server, store)[1] == []
    lakeml.set_store(store)
    predicted = np.load(mlflow_stores["folder"] / "sqlite" / "pred.npy")
    model = lakeml.pyfunc.load_model("models:/reg@champion")
    np.testing.assert_array_equal(model.predict(np.array(mlflow_stores["X"])), predicted)
    again = import_mlflow(mlflow_server, store)
    assert again.runs_skipped == len(dump["runs"])
    assert {k: v for k, v in again.counts.items() if v} == {}


def test_a_run_changed_since_is_sent_again_without_duplicates(
        lake: str, mlflow_stores: dict[str, Any], mlflow_server: str,
        on_server: dict[str, Any], tmp_path: Path) -> None:
    """(After the import test, which compares with the server as first exported.)"""
    import shutil

    import lakeml

    copy = str(tmp_path / "lake")
    shutil.copytree(lake, copy)
    parent = next(r for r, v in mlflow_stores["sqlite"]["runs"].items()
                  if v["run_name"] == "parent")
    client = lakeml.Client(copy)
    client.log_metric_histories(pa.table({  # the bulk path writes to a finished run
        "run_id": [parent], "key": ["loss"], "value": [0.01], "step": [6],
        "timestamp": [1_700_000_000_006]}))
    client.flush()
    summary = export_mlflow(copy, mlflow_server)
    assert summary.counts["runs"] == 1  # only the changed run
    rest = MlflowRest(mlflow_server)
    try:
        exp_ids = [e["experiment_id"] for e in rest.pages(
            "experiments/search", {"view_type": "ALL"}, "experiments")]
        (run,) = rest.pages("runs/search", {
            "experiment_ids": exp_ids, "run_view_type": "ALL",
            "filter": f"tags.`lakeml.source_run_id` = '{parent}'"}, "runs")
        points = [(m["step"], m["timestamp"], m["value"]) for m in rest.call(
            "GET", "metrics/get-history", params={"run_id": run["info"]["run_id"],
                                                  "metric_key": "loss"})["metrics"]]
    finally:
        rest.close()
    assert len(points) == len(set(points)) == 7  # six points once each, and the new one
    assert (6, 1_700_000_000_006, 0.01) in points
