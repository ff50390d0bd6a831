"""MLflow's own Python client, unchanged, against ``lakeml server``.

mlflow is not a dependency of lakeml: it lives in a side virtualenv,
benchmarks/.venv-mlflow, that ``make test`` creates (benchmarks/setup_mlflow.sh;
LAKEML_MLFLOW_PYTHON names another interpreter). Without it the test skips, except
in CI (``CI=true``), where a missing MLflow is a failure, not a silent skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import lakeml
from tests.server.conftest import ROOT, Server, settled

SCRIPT = r'''
import json, sys
import mlflow

mlflow.set_experiment(sys.argv[1])
with mlflow.start_run(run_name="from-mlflow") as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_params({"layers": 3, "act": "relu"})
    for step in range(3):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.9, "f1": 0.8})
    mlflow.set_tag("team", "lake")
    run_id = run.info.run_id
found = mlflow.search_runs(experiment_names=[sys.argv[1]], filter_string="metrics.acc > 0.5")
client = mlflow.MlflowClient()
history = client.get_metric_history(run_id, "loss")
experiment_id = found["experiment_id"][0]
client.set_experiment_tag(experiment_id, "owner", "lake")
client.set_experiment_tag(experiment_id, "draft", "yes")
client.delete_experiment_tag(experiment_id, "draft")
scratch = client.create_run(experiment_id).info.run_id
client.delete_run(scratch)
try:
    client.set_tag(scratch, "late", "1")
    refused = None
except mlflow.exceptions.MlflowException as exc:
    refused = exc.error_code
from mlflow.utils.rest_utils import MlflowHostCreds
from mlflow.utils.server_info import fetch_server_info
info = fetch_server_info(MlflowHostCreds(mlflow.get_tracking_uri()))
print(json.dumps({
    "server_info": [info.status_code, info.data], "refused": refused,
    "run_id": run_id, "found": list(found["run_id"]),
    "experiment_tags": client.get_experiment(experiment_id).tags,
    "status": client.get_run(run_id).info.status,
    "history": [[m.step, m.value] for m in history],
    "version": mlflow.__version__,
}))
'''


def mlflow_python() -> Path | None:
    named = os.environ.get("LAKEML_MLFLOW_PYTHON")
    python = Path(named) if named else ROOT / "benchmarks" / ".venv-mlflow" / "bin" / "python"
    return python if python.is_file() else None


@pytest.mark.slow
def test_mlflow_client_logs_and_searches_through_the_server(server: Server) -> None:
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
    experiment = "mlflow-client"
    proc = subprocess.run([str(python), "-c", SCRIPT, experiment], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log.read_text()[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    run_id = out["run_id"]
    assert out["found"] == [run_id] and out["status"] == "FINISHED"
    assert out["history"] == [[0, 1.0], [1, 0.5], [2, 1.0 / 3]]
    assert out["experiment_tags"] == {"owner": "lake"}
    # a deleted run's log call: MLflow's 400 (a 500 would have its client retry it)
    assert out["refused"] == "INVALID_PARAMETER_VALUE"
    status, info = out["server_info"]  # what MLflow 3's client asks before some calls
    assert status == 200
    assert info["multipart_uploads_enabled"] is False and info["workspaces_enabled"] is False

    # MLflow's writes are in the lake, read by lakeml itself
    settled(server)  # the server's journal is committed: read the store
    client = lakeml.Client(server.store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "from-mlflow"
    assert run.data.params == {"alpha": "0.5", "layers": "3", "act": "relu"}
    assert run.data.metrics == {"loss": pytest.approx(1 / 3), "acc": 0.9, "f1": 0.8}
    assert run.data.tags["team"] == "lake"
    assert client.get_experiment_by_name(experiment).experiment_id == run.info.experiment_id


REGISTRY_SCRIPT = r"""
import json, sys
from mlflow import MlflowClient

name, source, run_id = sys.argv[1:4]
c = MlflowClient()
c.create_registered_model(name, tags={"team": "ml"}, description="churn")
mv = c.create_model_version(name, source, run_id=run_id)
c.set_registered_model_alias(name, "champion", mv.version)
by_alias = c.get_model_version_by_alias(name, "champion")
c.set_registered_model_alias(name, "other", mv.version)
c.transition_model_version_stage(name, mv.version, "Production")
latest = c.get_latest_versions(name, stages=["Production"])
c.set_model_version_tag(name, mv.version, "k", "v")
c.delete_model_version_tag(name, mv.version, "k")
c.set_registered_model_tag(name, "x", "y")
c.delete_registered_model_tag(name, "team")
c.update_registered_model(name, description="new")
c.update_model_version(name, mv.version, description="first")
found = c.search_registered_models(filter_string=f"name = '{name}'")
versions = c.search_model_versions(f"name = '{name}'")
c.delete_registered_model_alias(name, "champion")
rm = c.get_registered_model(name)
print(json.dumps({
    "version": mv.version, "source": mv.source, "alias": by_alias.version,
    "latest": [v.version for v in latest], "found": [m.name for m in found],
    "versions": [v.version for v in versions], "aliases": rm.aliases, "tags": rm.tags,
    "description": rm.description,
    "uri": c.get_model_version_download_uri(name, mv.version),
}))
"""


@pytest.mark.slow
def test_mlflow_client_uses_the_registry_through_the_server(server: Server) -> None:
    from sklearn.linear_model import LogisticRegression

    python = mlflow_python()
    if python is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("no MLflow virtualenv")
        pytest.skip("no MLflow virtualenv: run `bash benchmarks/setup_mlflow.sh` or set "
                    "LAKEML_MLFLOW_PYTHON")
    # the model is logged with lakeml here (test_mlflow_models.py has MLflow's client log one)
    lakeml.set_store(server.store)
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    with lakeml.start_run() as run:
        info = lakeml.sklearn.log_model(model, "model")
    lakeml.flush()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MLFLOW_", "LAKEML_", "PYTHONPATH"))}
    env["MLFLOW_TRACKING_URI"] = server.url
    name = f"mlflow-registry-{run.info.run_id[:8]}"
    proc = subprocess.run([str(python), "-c", REGISTRY_SCRIPT, name, info.model_uri,
                           run.info.run_id], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log.read_text()[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["version"] == "1" and out["alias"] == "1" and out["latest"] == ["1"]
    assert out["found"] == [name] and out["versions"] == ["1"]
    assert out["aliases"] == {"other": "1"} and out["tags"] == {"x": "y"}
    assert out["description"] == "new" and out["uri"] == info.model_uri

    mv = lakeml.Client(server.store).get_model_version(name, 1)
    assert mv.current_stage == "Production" and mv.description == "first"
    assert mv.aliases == ["other"] and mv.run_id == run.info.run_id
