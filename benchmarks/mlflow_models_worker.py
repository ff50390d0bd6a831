"""MLflow's side of bench_models.py: run inside benchmarks/.venv-mlflow, print JSON.

Usage (bench_models.py does this for you):
    benchmarks/.venv-mlflow/bin/python benchmarks/mlflow_models_worker.py '<sizes json>'

The same model as lakeml's side (LogisticRegression on scikit-learn's iris),
a fresh SQLite tracking store and local artifact root, telemetry off. Serving
uses ``mlflow models serve --env-manager local`` and the same HTTP client
(bench_http.py). Only the final JSON document goes to stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                   "MLFLOW_ENABLE_ASYNC_LOGGING": "false"})

import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
from bench_http import one_row_body, serve_figures  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROW = [5.1, 3.5, 1.4, 0.2]


def main(sizes: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"mlflow_version": mlflow.__version__}
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = COLUMNS
    model = LogisticRegression(max_iter=1000).fit(X, y)
    tmp = Path(tempfile.mkdtemp(prefix="mlflow-bench-models-"))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.create_experiment("bench", artifact_location=(tmp / "art").as_uri())
        with mlflow.start_run(experiment_id=exp):
            pass  # schema migrations happen before any timer
        log_times = []
        for _ in range(sizes["log_models"]):
            with mlflow.start_run(experiment_id=exp), contextlib.redirect_stdout(sys.stderr):
                t0 = time.perf_counter()
                info = mlflow.sklearn.log_model(model, name="model", input_example=X.head(5))
                log_times.append(time.perf_counter() - t0)
        out["log_model"] = {"first_s": log_times[0], "median_s": statistics.median(log_times),
                            "calls": len(log_times)}
        model_uri = info.model_uri
        t0 = time.perf_counter()
        mlflow.pyfunc.load_model(model_uri)
        first = time.perf_counter() - t0
        warm = []
        for _ in range(sizes["loads"]):
            t0 = time.perf_counter()
            mlflow.pyfunc.load_model(model_uri)
            warm.append(time.perf_counter() - t0)
        out["load"] = {"first_s": first, "warm_median_s": statistics.median(warm)}

        code = ("import mlflow.pyfunc, pandas as pd\n"
                f"m = mlflow.pyfunc.load_model({model_uri!r})\n"
                f"m.predict(pd.DataFrame([{ROW!r}], columns={COLUMNS!r}))\n")
        fresh = []
        for _ in range(sizes["fresh_processes"]):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            fresh.append(time.perf_counter() - t0)
        out["new_process"] = {"median_s": statistics.median(fresh), "runs": len(fresh)}

        local = mlflow.artifacts.download_artifacts(model_uri, dst_path=str(tmp / "served"))
        cli = str(Path(sys.executable).with_name("mlflow"))
        bin_dir = str(Path(sys.executable).parent)  # MLflow execs `uvicorn` from PATH
        out["serve"] = serve_figures(
            lambda port, workers: [cli, "models", "serve", "-m", local, "--host", "127.0.0.1",
                                   "-p", str(port), "--env-manager", "local",
                                   "-w", str(workers)],
            one_row_body(COLUMNS, ROW), sizes,
            env={"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    result = main(json.loads(sys.argv[1]))
    print(json.dumps(result))
