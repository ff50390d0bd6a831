"""MLflow's side of bench_registry.py: run inside benchmarks/.venv-mlflow, print JSON.

A fresh SQLite tracking/registry store, one logged scikit-learn model, then
registry_scenario.run with mlflow.register_model. Only the JSON goes to stdout.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})

import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
import registry_scenario  # noqa: E402
from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def main(versions: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tracking_uri(f"sqlite:///{Path(tmp, 'mlflow.db')}")
        mlflow.set_experiment("bench")
        X, y = load_iris(return_X_y=True)
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y), name="model")
        source = f"runs:/{run.info.run_id}/model"
        client = MlflowClient()
        return registry_scenario.run(
            client, lambda src, name: mlflow.register_model(src, name), source, versions,
            ModelsArtifactRepository.get_underlying_uri)


if __name__ == "__main__":
    sys.stderr = open(os.devnull, "w")  # MLflow prints progress there
    print(json.dumps(main(int(sys.argv[1]))))
