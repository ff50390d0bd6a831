"""Autolog benchmark: what autologging adds to a small scikit-learn fit and to a
100-round XGBoost training, for lakeml and for MLflow side by side.

Usage:
    bash benchmarks/setup_mlflow.sh                      # once: MLflow (+ xgboost) in its venv
    .venv/bin/python benchmarks/bench_autolog.py [--quick] [--no-mlflow] [--mlflow-python PATH]

Each side times the same fits (autolog_fits.py) with autologging off and on,
alternately, on one BLAS thread; autolog with its defaults (params, training
metrics, dataset, model with signature; for XGBoost the per-round metric
histories, feature importance, model). Every
autologged fit opens and ends its own run, so the figure includes the run's
creation and its commit at the end. Overhead = median with autolog - median
without; relative = overhead / median without. lakeml runs in this process;
MLflow in its venv through mlflow_autolog_worker.py with a SQLite store. The
script reports and never asserts.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from autolog_fits import one_thread, sklearn_fit, times, xgboost_train  # noqa: E402
from bench_common import markdown  # noqa: E402

MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
MLFLOW_WORKER = HERE / "mlflow_autolog_worker.py"
FULL = {"sklearn": 20, "xgboost": 10}
QUICK = {"sklearn": 5, "xgboost": 3}


def run_lakeml(sizes: dict[str, int]) -> dict[str, Any]:
    import lakeml

    one_thread()
    out: dict[str, Any] = {"lakeml_version": lakeml.__version__}
    store = tempfile.mkdtemp(prefix="lakeml-bench-autolog-")
    try:
        lakeml.set_store(store)
        lakeml.set_experiment("bench")
        with lakeml.start_run():
            pass  # the store's tables exist before any timer, as MLflow's schema does
        for name, make, repeat in (("sklearn", sklearn_fit, sizes["sklearn"]),
                                   ("xgboost", xgboost_train, sizes["xgboost"])):
            integration = getattr(lakeml, name)
            out[name] = times(make(), lambda i=integration: i.autolog(silent=True),
                              lambda i=integration: i.autolog(disable=True), repeat)
            if lakeml.active_run() is not None:
                raise RuntimeError("lakeml autolog left a run open")
        lakeml.flush()
        runs = lakeml.search_runs(output_format="list")
        out["runs_logged"] = len(runs) - 1
    finally:
        from lakeml.tracking import backend

        backend.close_all()
        shutil.rmtree(store, ignore_errors=True)
    return out


def run_mlflow(sizes: dict[str, int], python: Path) -> dict[str, Any] | None:
    if not python.exists():
        print(f"MLflow venv not found at {python}: create it with "
              "`bash benchmarks/setup_mlflow.sh`; printing lakeml's figures alone",
              file=sys.stderr)
        return None
    proc = subprocess.run([str(python), str(MLFLOW_WORKER), json.dumps(sizes)],
                          cwd=str(HERE), capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        print(f"MLflow worker failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def rows(side: dict[str, Any] | None, who: str) -> list[list[str]]:
    if side is None:
        return []
    table = []
    for name, label in (("sklearn", "LogisticRegression, iris"),
                        ("xgboost", "xgboost.train, 100 rounds")):
        off, on = side[name]["off"]["median_s"], side[name]["on"]["median_s"]
        table.append([who, label, _ms(off), _ms(on), _ms(on - off),
                      f"{(on - off) / off * 100:,.0f} %", _ms(side[name]["on"]["first_s"])])
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-mlflow", action="store_true", help="lakeml's figures only")
    parser.add_argument("--mlflow-python", type=Path, default=MLFLOW_PYTHON,
                        help="python of the venv holding MLflow (default: %(default)s)")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    print("lakeml: measuring ...", file=sys.stderr, flush=True)
    lk = run_lakeml(sizes)
    ml = None
    if not args.no_mlflow:
        print("mlflow: measuring (subprocess) ...", file=sys.stderr, flush=True)
        ml = run_mlflow(sizes, args.mlflow_python)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"### Results, {now}\n")
    print(f"lakeml {lk['lakeml_version']}, MLflow {ml['mlflow_version'] if ml else '-'}, "
          f"Python {platform.python_version()}, {os.cpu_count()} cores, medians of "
          f"{sizes['sklearn']} sklearn / {sizes['xgboost']} xgboost fits"
          f"{', --quick' if args.quick else ''}\n")
    print(markdown(["side", "fit", "autolog off", "autolog on", "overhead", "relative",
                    "first autologged fit"], rows(lk, "lakeml") + rows(ml, "MLflow")))
    print(f"\nlakeml logged {lk['runs_logged']} runs (one per autologged fit).")


if __name__ == "__main__":
    main()
