"""``lakeml import mlflow``: stores written by the real MLflow come over whole, once.

Every value MLflow's own client reads (tests/migrate/conftest.py) must read the same
through lakeml's Client after the import: experiments, runs, params, metric histories,
tags, inputs, artifacts, the registry; and the registered model must load and predict
as MLflow's. A second import adds nothing; an interrupted one continues; what MLflow
adds later comes over incrementally.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import lakeml
import lakeml.pyfunc
from lakeml.entities import ViewType
from lakeml.errors import AlreadyExists, NotSupported
from lakeml.migrate import import_mlflow, verify

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _points(points: Any) -> list[tuple[int, int, str]]:
    """Distinct (step, timestamp, value) points, NaN equal to NaN. lakeml's history shows a
    point logged twice once; MLflow 3's file store writes some points twice (log_model
    links a run's metrics to its model by logging them again)."""
    return sorted({(int(s), int(t), "nan" if math.isnan(v) else repr(float(v)))
                   for s, t, v in points})


def _same_history(got: list[Any], expected: list[list[Any]]) -> None:
    assert _points((m.step, m.timestamp, m.value) for m in got) == _points(expected)


def assert_same(client: lakeml.Client, expected: dict[str, Any]) -> None:
    """Everything MLflow's client read is what lakeml's client reads."""
    for exp_id, exp in expected["experiments"].items():
        got = client.get_experiment(exp_id)
        assert (got.name, got.lifecycle_stage) == (exp["name"], exp["lifecycle_stage"])
        assert got.creation_time == exp["creation_time"]
        assert got.tags == exp["tags"]
    for run_id, run in expected["runs"].items():
        got = client.get_run(run_id)
        info = got.info
        assert (info.experiment_id, info.run_name, info.user_id, info.status, info.start_time,
                info.end_time, info.lifecycle_stage) == (
            run["experiment_id"], run["run_name"], run["user_id"], run["status"],
            run["start_time"], run["end_time"], run["lifecycle_stage"]), run_id
        assert got.data.params == run["params"]
        assert got.data.tags == run["tags"]
        assert info.parent_run_id == run["tags"].get("mlflow.parentRunId")
        assert set(got.data.metrics) == set(run["metrics"])
        for key, history in run["metrics"].items():
            _same_history(client.get_metric_history(run_id, key), history)
        inputs = [[d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
                   d.dataset.schema, d.dataset.profile] for d in got.inputs.dataset_inputs]
        assert inputs == [i[:6] for i in run["inputs"]]
        assert [d.context for d in got.inputs.dataset_inputs] == [
            i[6].get("mlflow.data.context") for i in run["inputs"]]
        listed = sorted(f.path for f in client.list_artifacts(run_id, "docs"))
        assert listed == run["artifacts"]
    reg = expected["registry"]
    model = client.get_registered_model("reg")
    assert (model.description, model.tags, model.creation_timestamp) == (
        reg["description"], reg["tags"], reg["creation_timestamp"])
    assert model.aliases == {k: int(v) for k, v in reg["aliases"].items()}
    for number, version in reg["versions"].items():
        got = client.get_model_version("reg", number)
        assert (got.current_stage, got.description, got.tags, got.run_id,
                got.creation_timestamp) == (
            version["current_stage"], version["description"], version["tags"],
            version["run_id"], version["creation_timestamp"])


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_every_value_comes_over(mlflow_stores: dict[str, Any], kind: str,
                                tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    summary = import_mlflow(mlflow_stores["uris"][kind], store)
    expected = mlflow_stores[kind]
    assert summary.counts["runs"] == len(expected["runs"])
    assert summary.counts["model_versions"] == 3
    assert summary.counts["artifact_files"] > 0
    client = lakeml.Client(store)
    assert_same(client, expected)
    figures, differences = verify(mlflow_stores["uris"][kind], store)
    assert differences == [] and figures["metric_points"][0] > 0

    # The model: by runs:/ (MLflow 3 keeps it outside the run; lakeml puts it under it),
    # by stage, by alias; it predicts as MLflow's own load of it did.
    parent = next(r for r, v in expected["runs"].items() if v["run_name"] == "parent")
    predicted = np.load(mlflow_stores["folder"] / kind / "pred.npy")
    lakeml.set_store(store)
    for uri in (f"runs:/{parent}/model", "models:/reg/Production", "models:/reg@champion"):
        model = lakeml.pyfunc.load_model(uri)
        np.testing.assert_array_equal(model.predict(np.array(mlflow_stores["X"])), predicted)
    assert client.get_model_version("reg", 2).source == f"runs:/{parent}/model"


def _table_versions(store: str) -> dict[str, int]:
    from deltalake import DeltaTable

    return {path.name: DeltaTable(str(path)).version()
            for path in sorted(Path(store, "tables").iterdir())}


def test_second_import_adds_nothing(mlflow_stores: dict[str, Any], tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    import_mlflow(mlflow_stores["uris"]["sqlite"], store)
    versions = _table_versions(store)
    again = import_mlflow(mlflow_stores["uris"]["sqlite"], store)
    assert again.runs_skipped == len(mlflow_stores["sqlite"]["runs"])
    assert {k: v for k, v in again.counts.items() if v} == {}
    assert _table_versions(store) == versions  # not one commit


def test_interrupted_import_continues(mlflow_stores: dict[str, Any], tmp_path: Path) -> None:
    """Stopped after two runs, the next import brings the rest; and an import killed after
    it committed rows but before it recorded them (the state table lost) adds no row twice."""
    store = str(tmp_path / "lake")
    source = mlflow_stores["uris"]["sqlite"]
    n = len(mlflow_stores["sqlite"]["runs"])
    first = import_mlflow(source, store, batch_runs=1, max_runs=2)
    assert (first.counts["runs"], first.runs_left) == (2, n - 2)
    rest = import_mlflow(source, store, batch_runs=1)
    assert rest.counts["runs"] == n - 2 and rest.runs_skipped == 2
    shutil.rmtree(Path(store, "migrations"))  # as if every run's record were lost
    redo = import_mlflow(source, store)
    assert (redo.counts["metric_points"], redo.counts["params"], redo.counts["tags"],
            redo.counts["dataset_inputs"], redo.counts["model_versions"]) == (0, 0, 0, 0, 0)
    assert verify(source, store)[1] == []
    assert_same(lakeml.Client(store), mlflow_stores["sqlite"])


def test_killed_import_process_resumes(mlflow_stores: dict[str, Any], tmp_path: Path) -> None:
    """A real ``kill -9`` of ``lakeml import`` part-way, then the import again: whole."""
    store = str(tmp_path / "lake")
    source = mlflow_stores["uris"]["sqlite"]
    proc = subprocess.Popen([sys.executable, "-m", "lakeml", "import", "mlflow", source,
                             "--store", store, "--batch-runs", "1"], cwd=str(ROOT),
                            stderr=subprocess.PIPE, text=True,
                            env={"LAKEML_PROGRESS": "lines", "PATH": "/usr/bin:/bin",
                                 "PYTHONPATH": str(ROOT)})
    assert proc.stderr is not None
    with proc.stderr:
        for line in proc.stderr:  # kill it once the first batch of runs is in
            if "import" in line and "runs: 1/" in line:
                proc.kill()
                break
    proc.wait()
    summary = import_mlflow(source, store)
    assert summary.runs_skipped >= 1
    assert verify(source, store)[1] == []
    assert_same(lakeml.Client(store), mlflow_stores["sqlite"])


def test_new_and_changed_runs_come_over_incrementally(mlflow_stores: dict[str, Any],
                                                      tmp_path: Path) -> None:
    """The same MLflow database imported, then changed by MLflow (a new run, a point and a
    tag on a finished run), imported again: only the changed and new runs are read."""
    store = str(tmp_path / "lake")
    folder = mlflow_stores["folder"] / "sqlite"
    db = tmp_path / "mlflow.db"
    shutil.copy(folder / "mlflow-v1.db", db)
    import_mlflow(f"sqlite:///{db}", store)
    assert_same(lakeml.Client(store), mlflow_stores["sqlite_v1"])
    shutil.copy(folder / "mlflow.db", db)  # what MLflow did since
    later = import_mlflow(f"sqlite:///{db}", store)
    late_tags = len(mlflow_stores["sqlite"]["runs"][mlflow_stores["late_run"]]["tags"])
    assert (later.counts["runs"], later.counts["metric_points"], later.counts["tags"]) == (
        2, 1, 1 + late_tags)
    assert later.runs_skipped == len(mlflow_stores["sqlite"]["runs"]) - 2
    client = lakeml.Client(store)
    assert_same(client, mlflow_stores["sqlite"])
    assert client.get_run(mlflow_stores["late_run"]).data.params == {"late": "yes"}
    assert verify(f"sqlite:///{db}", store)[1] == []


def test_cli_import_with_verify(mlflow_stores: dict[str, Any], tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    proc = subprocess.run([sys.executable, "-m", "lakeml", "import", "mlflow",
                           mlflow_stores["uris"]["file"], "--store", store, "--verify",
                           "--format", "json"], cwd=str(ROOT), capture_output=True, text=True,
                          env={"LAKEML_PROGRESS": "off", "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(ROOT)}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert '"imported": "runs"' in proc.stdout and '"same": false' not in proc.stdout
    experiments = lakeml.Client(store).search_experiments(ViewType.ALL)
    assert {e.name for e in experiments} >= {"exp-a", "exp-gone"}


def test_verify_names_a_difference(mlflow_stores: dict[str, Any], tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    source = mlflow_stores["uris"]["sqlite"]
    import_mlflow(source, store)
    client = lakeml.Client(store)
    parent = next(r for r, v in mlflow_stores["sqlite"]["runs"].items()
                  if v["run_name"] == "parent")
    client.log_metric_histories(pa.table({  # lakeml now has one point more
        "run_id": [parent], "key": ["loss"], "value": [9.0], "step": [99],
        "timestamp": [1_700_000_000_099]}))
    client.flush()
    _, differences = verify(source, store)
    assert {d.what for d in differences} == {"metric_points", "metrics_checksum"}
    proc = subprocess.run([sys.executable, "-m", "lakeml", "import", "mlflow", source,
                           "--store", store, "--verify"], cwd=str(ROOT), capture_output=True,
                          text=True, env={"LAKEML_PROGRESS": "off", "PATH": "/usr/bin:/bin",
                                          "PYTHONPATH": str(ROOT)}, timeout=600)
    assert proc.returncode == 1 and "metric_points" in proc.stderr


def test_conflicting_experiment_name_is_refused(mlflow_stores: dict[str, Any],
                                                tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    lakeml.Client(store).create_experiment("exp-a")  # another id, same name
    with pytest.raises(AlreadyExists, match="exp-a"):
        import_mlflow(mlflow_stores["uris"]["sqlite"], store)


def test_unsupported_source_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotSupported, match="mssql://"):
        import_mlflow("mssql://u:secret@localhost/mlflow", str(tmp_path / "lake"))


def test_artifact_root_reads_artifacts_where_they_moved(mlflow_stores: dict[str, Any],
                                                        tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(mlflow_stores["folder"] / "sqlite" / "mlruns", moved)
    for notes in moved.glob("*/*/artifacts/docs/notes.txt"):
        notes.write_text("read from the new place")
    store = str(tmp_path / "lake")
    import_mlflow(mlflow_stores["uris"]["sqlite_v1"], store, artifact_root=str(moved))
    client = lakeml.Client(store)
    parent = next(r for r, v in mlflow_stores["sqlite_v1"]["runs"].items()
                  if v["run_name"] == "parent")
    local = client.download_artifacts(parent, "docs/notes.txt", str(tmp_path / "out"))
    assert Path(local).read_text() == "read from the new place"
    assert Path(client.get_run(parent).info.artifact_uri, "model", "MLmodel").is_file()
