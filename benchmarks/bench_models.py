"""Models benchmark: log_model, load, a fresh process scoring, and the scoring server, vs MLflow.

Usage:
    bash benchmarks/setup_mlflow.sh                      # once: MLflow in its own venv
    .venv/bin/python benchmarks/bench_models.py [--quick] [--no-mlflow]

Both sides use the same model: LogisticRegression fitted on scikit-learn's
iris (4 double columns), logged with a 5-row input example (so both infer a
signature), loaded by its run URI. lakeml runs in this process (servers and
fresh interpreters as subprocesses); MLflow runs in benchmarks/.venv-mlflow
through mlflow_models_worker.py. The HTTP client (bench_http.py) is the same
for both servers. The script reports and never asserts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_common import markdown  # noqa: E402
from bench_http import one_row_body, serve_figures  # noqa: E402

MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
MLFLOW_WORKER = HERE / "mlflow_models_worker.py"
COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROW = [5.1, 3.5, 1.4, 0.2]

FULL = {"log_models": 5, "loads": 20, "fresh_processes": 7, "latency_requests": 2000,
        "clients": 8, "per_client": 250}
QUICK = {"log_models": 2, "loads": 5, "fresh_processes": 2, "latency_requests": 200,
         "clients": 8, "per_client": 25}
MLFLOW_SCALE = {"log_models": 3, "fresh_processes": 3}  # MLflow's calls take seconds


def run_lakeml(sizes: dict[str, int]) -> dict[str, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import lakeml
    import lakeml.pyfunc
    import lakeml.sklearn

    out: dict[str, Any] = {"lakeml_version": lakeml.__version__}
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = COLUMNS
    model = LogisticRegression(max_iter=1000).fit(X, y)
    store = tempfile.mkdtemp(prefix="lakeml-bench-models-")
    try:
        lakeml.set_store(store)
        lakeml.set_experiment("bench")
        with lakeml.start_run():
            pass  # the store's tables exist before any timer, as MLflow's schema does
        log_times = []
        for _ in range(sizes["log_models"]):
            with lakeml.start_run():
                t0 = time.perf_counter()
                info = lakeml.sklearn.log_model(model, "model", input_example=X.head(5))
                log_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with lakeml.start_run():
            lakeml.sklearn.log_model(model, "model", input_example=X.head(5))
        with_commit = time.perf_counter() - t0
        out["log_model"] = {"first_s": log_times[0], "median_s": statistics.median(log_times),
                            "calls": len(log_times), "run_with_commit_s": with_commit}
        t0 = time.perf_counter()
        lakeml.pyfunc.load_model(info.model_uri)
        first = time.perf_counter() - t0
        warm = []
        for _ in range(sizes["loads"]):
            t0 = time.perf_counter()
            lakeml.pyfunc.load_model(info.model_uri)
            warm.append(time.perf_counter() - t0)
        out["load"] = {"first_s": first, "warm_median_s": statistics.median(warm)}

        code = ("import lakeml.pyfunc, pandas as pd\n"
                f"m = lakeml.pyfunc.load_model({info.model_uri!r})\n"
                f"m.predict(pd.DataFrame([{ROW!r}], columns={COLUMNS!r}))\n")
        fresh, floor = [], []
        env = {**os.environ, "LAKEML_STORE": store}
        for _ in range(sizes["fresh_processes"]):  # interleaved: both see the same load
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            fresh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import pandas, sklearn.linear_model"],
                           check=True)
            floor.append(time.perf_counter() - t0)
        out["new_process"] = {"median_s": statistics.median(fresh), "runs": len(fresh),
                              "imports_alone_s": statistics.median(floor)}

        local = lakeml.pyfunc.load_model(info.model_uri).local_path
        out["serve"] = serve_figures(
            lambda port, workers: [sys.executable, "-m", "lakeml", "models", "serve", "-m",
                                   local, "--port", str(port), "--workers", str(workers)],
            one_row_body(COLUMNS, ROW), sizes)
    finally:
        from lakeml.tracking import backend

        backend.close_all()
        shutil.rmtree(store, ignore_errors=True)
    return out


def run_mlflow(sizes: dict[str, int]) -> dict[str, Any] | None:
    if not MLFLOW_PYTHON.exists():
        print("MLflow venv not found: create it with `bash benchmarks/setup_mlflow.sh`; "
              "printing lakeml's figures alone", file=sys.stderr)
        return None
    ml_sizes = {**sizes, **{k: min(v, sizes[k]) for k, v in MLFLOW_SCALE.items()}}
    proc = subprocess.run([str(MLFLOW_PYTHON), str(MLFLOW_WORKER), json.dumps(ml_sizes)],
                          cwd=str(HERE), capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print(f"MLflow worker failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1e3:.1f} ms"


def rows(lk: dict[str, Any], ml: dict[str, Any] | None) -> list[list[str]]:
    def get(side: dict[str, Any] | None, section: str, key: str) -> float | None:
        return None if side is None else side.get(section, {}).get(key)

    table = []
    spec = [  # (figure, section, key, lower is better, target in seconds or req/s, kind)
        ("log_model (median)", "log_model", "median_s", True, 0.5, "time"),
        ("log_model (first in process)", "log_model", "first_s", True, None, "time"),
        ("pyfunc load, warm (median)", "load", "warm_median_s", True, 0.030, "time"),
        ("pyfunc load, first in process", "load", "first_s", True, None, "time"),
        ("new process: import + load + predict", "new_process", "median_s", True, 1.5, "time"),
        ("serve: p50, one row", "serve", "p50_ms", True, 5.0, "ms"),
        ("serve: p99, one row", "serve", "p99_ms", True, None, "ms"),
        ("serve: 8 clients, requests/s", "serve", "tp_req_per_s", False, None, "rate"),
        ("serve, 2 workers: 8 clients, req/s", "serve", "tp2_req_per_s", False, None, "rate"),
        ("serve: start until /ping is 200", "serve", "ready_s", True, None, "time"),
    ]
    for figure, section, key, lower, target, kind in spec:
        a, b = get(lk, section, key), get(ml, section, key)

        def show(v: float | None, kind: str = kind) -> str:
            if v is None:
                return "-"
            if kind == "ms":
                return f"{v:.2f} ms"
            if kind == "rate":
                return f"{v:,.0f}/s"
            return _ms(v)

        ratio = "-"
        if a and b:
            ratio = f"{(b / a) if lower else (a / b):.1f}x"
        if target is None:
            met = ""
        else:
            met = "yes" if (a is not None and (a <= target if lower else a >= target)) else "no"
            met = f"{met} (<= {show(target)})"
        table.append([figure, show(a), show(b), ratio, met])
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-mlflow", action="store_true", help="lakeml's figures only")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    print("lakeml: measuring ...", file=sys.stderr, flush=True)
    lk = run_lakeml(sizes)
    ml = None
    if not args.no_mlflow:
        print("mlflow: measuring (subprocess, about a minute) ...", file=sys.stderr, flush=True)
        ml = run_mlflow(sizes)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"### Results, {now}\n")
    print(f"lakeml {lk['lakeml_version']}, MLflow {ml['mlflow_version'] if ml else '-'}, "
          f"Python {platform.python_version()}, {os.cpu_count()} cores"
          f"{', --quick' if args.quick else ''}\n")
    print(markdown(["figure", "lakeml", "MLflow", "lakeml faster by", "target met"],
                   rows(lk, ml)))
    print(f"\nnew process: a bare `import pandas, sklearn.linear_model` alone takes "
          f"{_ms(lk['new_process']['imports_alone_s'])} of lakeml's figure.")
    print(f"log_model of a fresh run including end_run's commit (lakeml): "
          f"{_ms(lk['log_model']['run_with_commit_s'])}; latency p95 lakeml "
          f"{lk['serve']['p95_ms']:.2f} ms"
          + (f", MLflow {ml['serve']['p95_ms']:.2f} ms" if ml else "") + ".")


if __name__ == "__main__":
    main()
