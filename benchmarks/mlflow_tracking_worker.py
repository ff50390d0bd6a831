"""MLflow's side of bench_tracking.py: run inside benchmarks/.venv-mlflow, print JSON.

Usage (bench_tracking.py does this for you):
    benchmarks/.venv-mlflow/bin/python benchmarks/mlflow_tracking_worker.py '<sizes json>'

Each figure gets a fresh SQLite backend store (``sqlite:///<tmp>/mlflow.db``)
and a fresh local artifact root, the set-up most MLflow users compare against.
MLflow runs in its own process and venv so that neither library's imports,
threads or garbage affect the other's timings. Only the final JSON document
goes to stdout; MLflow's own chatter is sent to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Telemetry and async logging are read from the environment: set both before import.
os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                   "MLFLOW_ENABLE_ASYNC_LOGGING": "false"})

import mlflow  # noqa: E402
from bench_common import history_result  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402

Result = dict[str, Any]


@contextlib.contextmanager
def fresh_store(name: str) -> Iterator[tuple[MlflowClient, str]]:
    """A new SQLite store with one experiment; yields (client, experiment_id).

    The schema migrations and the experiment are created before the caller's
    timer starts, so only the logging calls are measured.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f"mlflow-bench-{name}-"))
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    try:
        client = MlflowClient(tracking_uri=uri)
        exp_id = client.create_experiment("bench", artifact_location=(tmp / "artifacts").as_uri())
        yield client, exp_id
    finally:
        if mlflow.active_run() is not None:
            mlflow.end_run()
        shutil.rmtree(tmp, ignore_errors=True)


def now_ms() -> int:
    """Wall-clock milliseconds, the timestamp unit of MLflow's Metric entity."""
    return time.time_ns() // 1_000_000


def log_metric_loop(calls: int, batch: int) -> Result:
    """Synchronous ``mlflow.log_metric`` in one run: median cost per call over batches."""
    with fresh_store("loop") as (_, exp_id):
        mlflow.start_run(experiment_id=exp_id)
        per_call: list[float] = []
        for start in range(0, calls, batch):
            t0 = time.perf_counter()
            for step in range(start, start + batch):
                mlflow.log_metric("loss", step * 1e-3, step=step, synchronous=True)
            per_call.append((time.perf_counter() - t0) / batch)
        mlflow.end_run()
    median = statistics.median(per_call)
    return {"calls": calls, "median_us": median * 1e6, "points_per_s": 1 / median,
            "total_s": sum(per_call) * batch}


def log_batch_points(points: int, batch: int) -> Result:
    """``MlflowClient.log_batch`` of ``batch`` points at a time into one run: points/s."""
    with fresh_store("batch") as (client, exp_id):
        run_id = client.create_run(exp_id).info.run_id
        t0 = time.perf_counter()
        for start in range(0, points, batch):
            ts = now_ms()
            client.log_batch(run_id, metrics=[Metric("loss", step * 1e-3, ts, step)
                                              for step in range(start, start + batch)])
        client.set_terminated(run_id)
        elapsed = time.perf_counter() - t0
    return {"points": points, "batch": batch, "points_per_s": points / elapsed,
            "seconds": elapsed}


def runs_with_batch(runs: int, width: int) -> Result:
    """create_run + log_batch(width metrics, width params) + set_terminated, per run."""
    metric_keys = [f"m{j}" for j in range(width)]
    param_keys = [f"p{j}" for j in range(width)]
    with fresh_store("runs") as (client, exp_id):
        t0 = time.perf_counter()
        for i in range(runs):
            run_id = client.create_run(exp_id).info.run_id
            ts = now_ms()
            client.log_batch(
                run_id,
                metrics=[Metric(k, i + j * 0.1, ts, 0) for j, k in enumerate(metric_keys)],
                params=[Param(k, f"{i}-{j}") for j, k in enumerate(param_keys)])
            client.set_terminated(run_id)
        elapsed = time.perf_counter() - t0
    return {"runs": runs, "runs_per_s": runs / elapsed, "seconds": elapsed}


def metric_history(points: int, batch: int) -> Result:
    """``get_metric_history`` of a ``points``-point metric: first and second call, seconds."""
    with fresh_store("history") as (client, exp_id):
        run_id = client.create_run(exp_id).info.run_id
        for start in range(0, points, batch):
            ts = now_ms()
            client.log_batch(run_id, metrics=[Metric("loss", step * 1e-3, ts, step)
                                              for step in range(start, start + batch)])
        client.set_terminated(run_id)
        return history_result(lambda: len(client.get_metric_history(run_id, "loss")), points)


def main(sizes: dict[str, int]) -> Result:
    """Every MLflow figure at the given sizes."""
    batch = sizes["batch"]
    return {
        "version": mlflow.__version__,
        "log_metric": log_metric_loop(sizes["metric_calls"], sizes["metric_timing_batch"]),
        "log_batch": log_batch_points(sizes["batch_points"], batch),
        "runs": runs_with_batch(sizes["runs"], sizes["run_width"]),
        "history": metric_history(sizes["history_points"], batch),
    }


if __name__ == "__main__":
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        results = main(json.loads(sys.argv[1]))
    print(json.dumps(results), file=real_stdout)
