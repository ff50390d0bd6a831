"""Tracking-core benchmark: lakeml's logging, run creation and reads against MLflow.

Usage:
    bash benchmarks/setup_mlflow.sh                        # once: MLflow in its own venv
    .venv/bin/python benchmarks/bench_tracking.py [--quick]

lakeml is measured in this process, each figure on a fresh temporary store.
MLflow is measured in a subprocess (benchmarks/mlflow_tracking_worker.py, run
by benchmarks/.venv-mlflow/bin/python) on a fresh SQLite store per figure, so
the two libraries never share an interpreter. MLflow logs a few hundred points
per second, so its side uses smaller counts; rates are comparable, and the
notes under the table say where counts differ. The script reports, it never
asserts: a missed target shows as "no" in the table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lakeml
from lakeml import fluent
from lakeml.tracking import backend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import history_result, markdown  # noqa: E402

HERE = Path(__file__).resolve().parent
MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
MLFLOW_WORKER = HERE / "mlflow_tracking_worker.py"
NO_TELEMETRY = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
IMPORT_REPEATS = 5

Result = dict[str, Any]


@dataclass(frozen=True)
class Sizes:
    """How much each figure logs; ``--quick`` divides every count by 10."""

    metric_calls: int = 100_000       # lakeml log_metric loop
    e2e_points: int = 100_000         # lakeml start_run .. end_run
    runs: int = 10_000                # lakeml create_run + log_batch + set_terminated
    history_points: int = 100_000     # lakeml get_metric_history
    run_width: int = 10               # params and metrics per run
    timing_batch: int = 1_000         # lakeml log_metric calls per timed batch
    mlflow_metric_calls: int = 2_000  # MLflow: ~200 synchronous calls/s
    mlflow_timing_batch: int = 100
    mlflow_batch_points: int = 20_000
    mlflow_runs: int = 300            # MLflow: ~40 runs/s
    mlflow_history_points: int = 10_000
    batch: int = 1_000                # MLflow log_batch size (its per-call metric limit)

    def quick(self) -> Sizes:
        """Every count / 10 (batch sizes too, so each figure still has many batches)."""
        return Sizes(**{f.name: max(1, getattr(self, f.name) // 10)
                        for f in dataclasses.fields(self) if f.name != "run_width"})

    def for_mlflow(self) -> dict[str, int]:
        """The sizes mlflow_tracking_worker.py expects."""
        return {"metric_calls": self.mlflow_metric_calls,
                "metric_timing_batch": self.mlflow_timing_batch,
                "batch_points": self.mlflow_batch_points, "batch": self.batch,
                "runs": self.mlflow_runs, "run_width": self.run_width,
                "history_points": self.mlflow_history_points}


# ---- lakeml figures -------------------------------------------------------------
@contextlib.contextmanager
def fresh_store(name: str) -> Iterator[str]:
    """A new empty store made current, and everything cached about the last one dropped."""
    backend.close_all()
    fluent.reset()
    path = tempfile.mkdtemp(prefix=f"lakeml-bench-{name}-")
    lakeml.set_store(path)
    try:
        yield path
    finally:
        backend.close_all()
        fluent.reset()
        shutil.rmtree(path, ignore_errors=True)


def lakeml_log_metric_loop(calls: int, batch: int) -> Result:
    """Fluent ``log_metric`` in one run: median cost per call over batches of ``batch``.

    The median keeps the batches that share the core with a background commit
    from hiding the cost of the call itself; the mean is reported beside it.
    """
    values = [step * 1e-3 for step in range(calls)]
    with fresh_store("loop"):
        lakeml.set_experiment("bench")
        lakeml.start_run()
        log_metric = lakeml.log_metric
        per_call: list[float] = []
        for start in range(0, calls, batch):
            t0 = time.perf_counter()
            for step in range(start, start + batch):
                log_metric("loss", values[step], step=step)
            per_call.append((time.perf_counter() - t0) / batch)
        lakeml.end_run()
    return {"calls": calls, "median_us": statistics.median(per_call) * 1e6,
            "mean_us": statistics.fmean(per_call) * 1e6}


def lakeml_end_to_end(points: int) -> Result:
    """start_run, ``points`` log_metric calls, end_run (which commits): points/s.

    The store and experiment exist before the timer starts (a one-off cost of a
    new store, not of a run).
    """
    values = [step * 1e-3 for step in range(points)]
    with fresh_store("e2e"):
        lakeml.set_experiment("bench")
        log_metric = lakeml.log_metric
        t0 = time.perf_counter()
        lakeml.start_run()
        for step in range(points):
            log_metric("loss", values[step], step=step)
        lakeml.end_run()
        elapsed = time.perf_counter() - t0
        unflushed = lakeml.Client().store.has_unflushed()
    if unflushed:
        raise RuntimeError("end_run returned with rows still uncommitted")
    return {"points": points, "points_per_s": points / elapsed, "seconds": elapsed}


def lakeml_runs(runs: int, width: int) -> Result:
    """Client.create_run + log_batch(dicts) + set_terminated per run, one flush: runs/s."""
    metric_keys = [f"m{j}" for j in range(width)]
    param_keys = [f"p{j}" for j in range(width)]
    with fresh_store("runs") as path:
        client = lakeml.Client(path)
        exp_id = client.create_experiment("bench")
        t0 = time.perf_counter()
        for i in range(runs):
            run_id = client.create_run(exp_id).info.run_id
            client.log_batch(run_id,
                             metrics={k: i + j * 0.1 for j, k in enumerate(metric_keys)},
                             params={k: f"{i}-{j}" for j, k in enumerate(param_keys)})
            client.set_terminated(run_id)
        logged = time.perf_counter()
        client.flush()
        elapsed = time.perf_counter() - t0
    return {"runs": runs, "runs_per_s": runs / elapsed, "seconds": elapsed,
            "flush_s": t0 + elapsed - logged}


def lakeml_history(points: int) -> Result:
    """get_metric_history of a ``points``-point metric: first call and warm call, seconds.

    The points are logged and committed, then the backend is dropped, so the
    first call starts from nothing cached, as a new reader process would.
    """
    values = [step * 1e-3 for step in range(points)]
    with fresh_store("history") as path:
        client = lakeml.Client(path)
        run_id = client.create_run(client.create_experiment("bench")).info.run_id
        for step in range(points):
            client.log_metric(run_id, "loss", values[step], step=step)
        client.set_terminated(run_id)
        client.flush()
        backend.close_all()
        client = lakeml.Client(path)
        return history_result(lambda: len(client.get_metric_history(run_id, "loss")), points)


def import_seconds(python: Path | str, module: str) -> float:
    """Median wall time of ``python -c "import <module>"`` over fresh interpreters.

    Run from an empty folder so that nothing in the working directory is read.
    """
    env = {**os.environ, **NO_TELEMETRY}
    times = []
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(IMPORT_REPEATS):
            t0 = time.perf_counter()
            subprocess.run([str(python), "-c", f"import {module}"], check=True, cwd=cwd,
                           env=env, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_lakeml(sizes: Sizes) -> Result:
    """Every lakeml figure, one fresh store each."""
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("log_metric", lambda: lakeml_log_metric_loop(sizes.metric_calls, sizes.timing_batch)),
        ("end_to_end", lambda: lakeml_end_to_end(sizes.e2e_points)),
        ("runs", lambda: lakeml_runs(sizes.runs, sizes.run_width)),
        ("history", lambda: lakeml_history(sizes.history_points)),
        ("import_s", lambda: import_seconds(sys.executable, "lakeml")),
    ]
    results: Result = {}
    for name, step in steps:
        with progress(f"lakeml: {name}"):
            results[name] = step()
    return results


@contextlib.contextmanager
def progress(what: str) -> Iterator[None]:
    """Say on stderr what is being measured and how long it took (some figures take minutes)."""
    print(f"  {what} ...", end="", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    yield
    print(f" {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


# ---- MLflow figures -------------------------------------------------------------
def run_mlflow(sizes: Sizes) -> Result | None:
    """MLflow's figures from the worker subprocess, or None if its venv is missing."""
    if not MLFLOW_PYTHON.exists():
        print("MLflow venv not found: create it with `bash benchmarks/setup_mlflow.sh` "
              "to get the MLflow column (showing lakeml only).", file=sys.stderr)
        return None
    with progress("mlflow: all figures (subprocess)"):
        proc = subprocess.run(
            [str(MLFLOW_PYTHON), str(MLFLOW_WORKER), json.dumps(sizes.for_mlflow())],
            capture_output=True, text=True, env={**os.environ, **NO_TELEMETRY})
    if proc.returncode != 0:
        print(f"MLflow worker failed (exit {proc.returncode}):\n{proc.stderr}", file=sys.stderr)
        return None
    results: Result = json.loads(proc.stdout.strip().splitlines()[-1])
    with progress("mlflow: import_s"):
        results["import_s"] = import_seconds(MLFLOW_PYTHON, "mlflow")
    return results


# ---- the table ------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One line of the table: a figure, both values, and how lakeml's is judged."""

    figure: str
    unit: str
    lakeml: float
    mlflow: float | None
    higher_is_better: bool
    target: str
    met: Callable[[float, float | None], bool | None]

    def speedup(self) -> float | None:
        """How many times better lakeml is than MLflow (>1: lakeml is better)."""
        if self.mlflow is None:
            return None
        return self.lakeml / self.mlflow if self.higher_is_better else self.mlflow / self.lakeml

    def cells(self) -> list[str]:
        """The row's cells, formatted."""
        speedup = self.speedup()
        met = self.met(self.lakeml, speedup)
        return [self.figure, fmt(self.lakeml, self.unit),
                "n/a" if self.mlflow is None else fmt(self.mlflow, self.unit),
                "n/a" if speedup is None else f"{speedup:,.{2 if speedup < 1 else 1}f}x",
                self.target,
                "n/a" if met is None else ("yes" if met else "no")]


def fmt(value: float, unit: str) -> str:
    """A value with its unit, with precision suited to its size."""
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "us":
        return f"{value:,.2f} µs" if value < 100 else f"{value:,.0f} µs"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def at_most(limit: float) -> Callable[[float, float | None], bool]:
    """Target: lakeml's value is at most ``limit``."""
    return lambda value, _: value <= limit


def at_least(limit: float) -> Callable[[float, float | None], bool]:
    """Target: lakeml's value is at least ``limit``."""
    return lambda value, _: value >= limit


def speedup_at_least(factor: float) -> Callable[[float, float | None], bool | None]:
    """Target: lakeml is at least ``factor`` times better than MLflow (n/a without it)."""
    return lambda _, speedup: None if speedup is None else speedup >= factor


def no_target(_: float, __: float | None) -> None:
    """A figure shown for comparison only."""
    return None


def build_rows(lk: Result, ml: Result | None) -> list[Row]:
    """The table's rows from both sides' results (MLflow's may be missing)."""
    def mlv(section: str, key: str) -> float | None:
        return None if ml is None else float(ml[section][key])

    ml_rate = mlv("log_metric", "points_per_s")
    e2e = lk["end_to_end"]["points_per_s"]
    points = f"{lk['end_to_end']['points'] // 1000}k points"
    return [
        Row("log_metric, µs per call (median)", "us", lk["log_metric"]["median_us"],
            mlv("log_metric", "median_us"), False, "<= 5 µs", at_most(5)),
        Row(f"{points} end to end vs MLflow log_batch, points/s", "pts/s", e2e,
            mlv("log_batch", "points_per_s"), True, ">= 200,000/s", at_least(200_000)),
        Row(f"{points} end to end vs MLflow log_metric, points/s", "pts/s", e2e,
            ml_rate, True, "-", no_target),
        Row("runs (10 params + 10 metrics each), runs/s", "runs/s", lk["runs"]["runs_per_s"],
            mlv("runs", "runs_per_s"), True, ">= 100x MLflow", speedup_at_least(100)),
        Row("get_metric_history, warm call, s", "s", lk["history"]["warm_s"],
            mlv("history", "warm_s"), False, "<= 0.1 s", at_most(0.1)),
        Row("get_metric_history, first call, s", "s", lk["history"]["first_s"],
            mlv("history", "first_s"), False, "<= 0.1 s", at_most(0.1)),
        Row("python -c 'import <lib>', s (median of 5)", "s", lk["import_s"],
            None if ml is None else ml["import_s"], False, "<= 0.5 s", at_most(0.5)),
    ]


def markdown_table(rows: list[Row]) -> str:
    """The rows as a GitHub markdown table."""
    return markdown(["figure", "lakeml", "MLflow", "ratio", "target", "met"],
                    [row.cells() for row in rows])


def notes(sizes: Sizes, lk: Result, ml: Result | None) -> list[str]:
    """What the table's cells cannot say: counts, extrapolations, side figures."""
    out = [
        "ratio: how many times better lakeml is than MLflow (above 1: lakeml is better).",
        f"lakeml log_metric: {sizes.metric_calls:,} calls in batches of {sizes.timing_batch:,};"
        f" mean {lk['log_metric']['mean_us']:.2f} µs/call (median in the table).",
        f"lakeml end to end: {lk['end_to_end']['points']:,} points in "
        f"{lk['end_to_end']['seconds']:.3f} s, start_run to end_run (commit included).",
        f"lakeml runs: {lk['runs']['runs']:,} runs in {lk['runs']['seconds']:.2f} s, of which "
        f"the final flush took {lk['runs']['flush_s']:.2f} s.",
        f"lakeml history: {lk['history']['points']:,} points; first call after reopening "
        "the store (nothing cached), warm = second call.",
    ]
    if ml is None:
        return out + ["MLflow: not measured (run `bash benchmarks/setup_mlflow.sh`)."]
    lm, lb, runs, hist = ml["log_metric"], ml["log_batch"], ml["runs"], ml["history"]
    extrapolated = sizes.metric_calls / lm["points_per_s"]
    return out + [
        f"MLflow {ml['version']}, SQLite backend store, synchronous logging.",
        f"MLflow log_metric: {lm['calls']:,} calls timed ({lm['points_per_s']:,.0f} points/s);"
        f" {sizes.metric_calls:,} calls would take ~{extrapolated:,.0f} s (extrapolated, "
        "not run).",
        f"MLflow log_batch: {lb['points']:,} points in batches of {lb['batch']:,}, "
        f"{lb['seconds']:.2f} s.",
        f"MLflow runs: {runs['runs']:,} runs in {runs['seconds']:.2f} s (lakeml: "
        f"{lk['runs']['runs']:,}).",
        f"MLflow history: a {hist['points']:,}-point metric, lakeml's has "
        f"{lk['history']['points']:,} points: the point counts differ.",
    ]


def report(sizes: Sizes, quick: bool, lk: Result, ml: Result | None) -> str:
    """The printed report: header, table and notes."""
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    head = (f"Tracking core{' (--quick: counts / 10)' if quick else ''}: lakeml "
            f"{lakeml.__version__} vs MLflow {ml['version'] if ml else 'n/a'}; {when}; "
            f"Python {platform.python_version()}, {os.cpu_count()} cores")
    body = "\n".join(f"- {n}" for n in notes(sizes, lk, ml))
    return f"{head}\n\n{markdown_table(build_rows(lk, ml))}\n\n{body}"


def main(argv: list[str] | None = None) -> None:
    """Measure both sides, then print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="divide every count by 10 (a smoke run)")
    args = parser.parse_args(argv)
    sizes = Sizes().quick() if args.quick else Sizes()
    lk = run_lakeml(sizes)
    ml = run_mlflow(sizes)
    print(report(sizes, args.quick, lk, ml))


if __name__ == "__main__":
    main()
