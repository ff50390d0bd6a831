"""MLflow's own client logs and loads artifacts, datasets and models through ``lakeml server``,
and lakeml reads the same files, inputs and models from the store.

The MLflow client runs in its side virtualenv (see test_mlflow_client.py); without it the
test skips, except in CI, where that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lakeml
from lakeml.models import logged
from tests.server.conftest import ROOT, Server, settled
from tests.server.test_mlflow_client import mlflow_python

SCRIPT = r'''
import json, os, sys, tempfile
import mlflow, numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression

experiment, name, work = sys.argv[1:4]
mlflow.set_experiment(experiment)
X = pd.DataFrame({"a": np.linspace(0, 1, 40), "b": np.linspace(1, 0, 40) ** 2})
y = (X["a"] > 0.45).astype(int)
model = LogisticRegression().fit(X, y)
with mlflow.start_run() as run:
    mlflow.log_artifact(os.path.join(work, "notes.txt"))
    mlflow.log_artifacts(os.path.join(work, "plots"), artifact_path="plots")
    mlflow.log_input(mlflow.data.from_pandas(X.assign(label=y), name="train", targets="label"),
                     context="training")
    mlflow.log_metric("acc", 0.9, step=0)  # log_model logs it again, linked to the model
    info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(3))
    run_id = run.info.run_id
client = mlflow.MlflowClient()
listed = [[f.path, f.is_dir, f.file_size] for f in client.list_artifacts(run_id)]
nested = [[f.path, f.is_dir, f.file_size] for f in client.list_artifacts(run_id, "plots")]
local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="plots",
                                            dst_path=tempfile.mkdtemp())
downloaded = {os.path.relpath(os.path.join(r, f), local): os.path.getsize(os.path.join(r, f))
              for r, _, files in os.walk(local) for f in files}
by_run = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(X)
mv = mlflow.register_model(f"runs:/{run_id}/model", name)
client.set_registered_model_alias(name, "champion", mv.version)
by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(X)
by_id = mlflow.pyfunc.load_model(info.model_uri).predict(X)
with mlflow.start_run():  # registered by log_model itself: the source is models:/<model_id>
    direct = mlflow.sklearn.log_model(model, name="direct", registered_model_name=name + "-d")
by_direct = mlflow.pyfunc.load_model(f"models:/{name}-d/1").predict(X)
exp_id = client.get_run(run_id).info.experiment_id
client.set_logged_model_tags(info.model_id, {"stage": "candidate", "owner": "lake"})
client.delete_logged_model_tag(info.model_id, "owner")
found = client.search_logged_models([exp_id], filter_string="name = 'model' AND "
                                    "tags.stage = 'candidate'")
got = client.get_logged_model(info.model_id)
print(json.dumps({
    "run_id": run_id, "model_id": info.model_id, "model_uri": info.model_uri,
    "artifact_uri": client.get_run(run_id).info.artifact_uri,
    "model_location": got.artifact_location, "model_status": str(got.status),
    "model_tags": got.tags, "found": [m.model_id for m in found],
    "listed": listed, "nested": nested, "downloaded": downloaded,
    "by_run": by_run.tolist(), "by_alias": by_alias.tolist(), "by_id": by_id.tolist(),
    "by_direct": by_direct.tolist(), "direct_version": direct.registered_model_version,
    "expected": model.predict(X).tolist(),
    "inputs": [[d.dataset.name, d.dataset.digest, [t.value for t in d.tags]]
               for d in client.get_run(run_id).inputs.dataset_inputs],
    "version": mv.version, "source": mv.source,
}))
'''


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"a": np.linspace(0, 1, 40), "b": np.linspace(1, 0, 40) ** 2})


def _run_mlflow(server: Server, script: str, *args: str) -> dict:
    python = mlflow_python()
    if python is None:
        message = ("no MLflow virtualenv: run `bash benchmarks/setup_mlflow.sh` (make test "
                   "does) or set LAKEML_MLFLOW_PYTHON")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MLFLOW_", "LAKEML_", "PYTHONPATH"))}
    env["MLFLOW_TRACKING_URI"] = server.url
    proc = subprocess.run([str(python), "-c", script, *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log.read_text()[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mlflow_client_logs_and_loads_artifacts_and_models(server: Server, tmp_path) -> None:
    work = tmp_path / "work"
    (work / "plots" / "sub").mkdir(parents=True)
    (work / "notes.txt").write_text("hello lake")
    (work / "plots" / "a.csv").write_text("x,y\n1,2\n")
    blob = bytes(range(256)) * 12_288  # 3 MiB: several chunks each way
    (work / "plots" / "sub" / "b.bin").write_bytes(blob)
    name = "mlflow-logged-model"
    out = _run_mlflow(server, SCRIPT, "mlflow-models", name, str(work))
    run_id, model_id = out["run_id"], out["model_id"]

    # what MLflow's client saw through the proxy
    assert out["artifact_uri"].startswith("mlflow-artifacts:/")
    assert out["artifact_uri"].endswith(f"/{run_id}/artifacts")
    assert out["model_location"] == out["artifact_uri"] + "/model"
    assert out["listed"] == [["model", True, None], ["notes.txt", False, 10],
                             ["plots", True, None]]
    assert out["nested"] == [["plots/a.csv", False, 8], ["plots/sub", True, None]]
    assert out["downloaded"] == {"a.csv": 8, os.path.join("sub", "b.bin"): len(blob)}
    assert out["by_run"] == out["expected"] == out["by_alias"] == out["by_id"] == \
        out["by_direct"]
    assert out["direct_version"] == "1"
    assert 0 < sum(out["expected"]) < 40  # both classes: equal predictions mean something
    assert out["inputs"] == [["train", out["inputs"][0][1], ["training"]]]
    assert out["model_uri"] == f"models:/{model_id}" and model_id.startswith("m-")
    assert out["model_status"] == "READY" and out["model_tags"]["stage"] == "candidate"
    assert "owner" not in out["model_tags"] and "mlflow.user" in out["model_tags"]
    assert out["found"] == [model_id]
    assert out["version"] == "1" and out["source"] == out["model_location"]

    # ...and lakeml reads the same things from the store
    settled(server)  # the server's journal is committed: read the store
    client = lakeml.Client(server.store)
    run = client.get_run(run_id)
    root = run.info.artifact_uri
    assert root.startswith(server.store) and not root.startswith("mlflow-artifacts:")
    assert [(i.path, i.is_dir) for i in client.list_artifacts(run_id)] == \
        [("model", True), ("notes.txt", False), ("plots", True)]
    assert Path(root, "notes.txt").read_text() == "hello lake"
    assert Path(root, "plots", "sub", "b.bin").read_bytes() == blob
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.context == "training" and dataset_input.dataset.name == "train"
    assert dataset_input.dataset.digest == out["inputs"][0][1]
    assert "label" in dataset_input.dataset.schema and "num_rows" in dataset_input.dataset.profile

    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "acc")] == [(0, 0.9)]

    lakeml.set_store(server.store)
    expected = np.array(out["expected"])
    by_run = lakeml.pyfunc.load_model(f"runs:/{run_id}/model")
    assert (by_run.predict(_frame()) == expected).all()
    assert (lakeml.pyfunc.load_model(f"models:/{name}@champion").predict(_frame())
            == expected).all()
    assert (lakeml.pyfunc.load_model(out["model_uri"]).predict(_frame()) == expected).all()
    assert (lakeml.pyfunc.load_model(f"models:/{name}-d/1").predict(_frame()) == expected).all()
    assert (lakeml.sklearn.load_model(f"runs:/{run_id}/model").predict(_frame())
            == expected).all()
    version = client.get_model_version(name, 1)
    assert version.storage_location == os.path.join(root, "model")
    assert version.aliases == ["champion"] and version.run_id == run_id

    lineage = client.sql("SELECT model_uuid, artifact_path, flavors, loader_module FROM "
                         "logged_models WHERE run_id = ?", [run_id]).fetchall()
    assert lineage == [(model_id, "model", ["python_function", "sklearn"], "mlflow.sklearn")]
    state = logged.get(client, model_id)
    assert state.status == logged.READY and state.source_run_id == run_id
    assert state.artifact_location == os.path.join(root, "model")
