"""MLflow's side of bench_autolog.py: run inside MLflow's venv, print JSON.

Usage (bench_autolog.py does this for you):
    <mlflow venv>/bin/python benchmarks/mlflow_autolog_worker.py '<sizes json>'

The same fits as lakeml's side (autolog_fits.py), a fresh SQLite tracking
store and local artifact root, telemetry off, MLflow's autolog defaults. Each
autologged fit opens and ends its own run, as on lakeml's side. Only the final
JSON document goes to stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                   "MLFLOW_ENABLE_ASYNC_LOGGING": "false"})

import mlflow  # noqa: E402
from autolog_fits import one_thread, sklearn_fit, times, xgboost_train  # noqa: E402


def main(sizes: dict[str, int]) -> dict[str, Any]:
    one_thread()
    out: dict[str, Any] = {"mlflow_version": mlflow.__version__}
    tmp = Path(tempfile.mkdtemp(prefix="mlflow-bench-autolog-"))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.create_experiment("bench", artifact_location=(tmp / "art").as_uri())
        mlflow.set_experiment(experiment_id=exp)
        with mlflow.start_run():
            pass  # schema migrations happen before any timer
        for name, make, repeat in (("sklearn", sklearn_fit, sizes["sklearn"]),
                                   ("xgboost", xgboost_train, sizes["xgboost"])):
            integration = getattr(mlflow, name)
            with contextlib.redirect_stdout(sys.stderr):
                out[name] = times(make(), lambda i=integration: i.autolog(silent=True),
                                  lambda i=integration: i.autolog(disable=True), repeat)
            if mlflow.active_run() is not None:
                raise RuntimeError("MLflow autolog left a run open")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
