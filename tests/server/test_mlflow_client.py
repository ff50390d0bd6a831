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
from tests.server.conftest import ROOT, Server

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
print(json.dumps({
    "run_id": run_id, "found": list(found["run_id"]),
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

    # MLflow's writes are in the lake, read by lakeml itself
    client = lakeml.Client(server.store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "from-mlflow"
    assert run.data.params == {"alpha": "0.5", "layers": "3", "act": "relu"}
    assert run.data.metrics == {"loss": pytest.approx(1 / 3), "acc": 0.9, "f1": 0.8}
    assert run.data.tags["team"] == "lake"
    assert client.get_experiment_by_name(experiment).experiment_id == run.info.experiment_id
