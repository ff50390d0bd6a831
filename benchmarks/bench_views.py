"""lakeml views materialize/export on a synthetic store (generate_store.py): the first,
whole write of the Delta tables under <store>/views/, the refresh after 10,000 new runs
(the target: <= 10 s on a 1 M-run store), a refresh with nothing new, and the DuckDB
file export.

The generated store is copied first (the benchmark adds runs to its copy), so the
cached store other benchmarks use stays as it was.

    .venv/bin/python benchmarks/bench_views.py            # 1 M runs
    .venv/bin/python benchmarks/bench_views.py --quick    # 100 k runs

Prints wall and CPU seconds (the CPU figure shows the work when the machine is shared);
asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synthetic  # noqa: E402
from bench_common import markdown  # noqa: E402
from generate_store import generate  # noqa: E402

NEW_RUNS = 10_000


def add_runs(client, start: int, count: int) -> None:  # noqa: ANN001 - a lakeml.Client
    """``count`` more synthetic runs (10 params, 10 metrics each) through the bulk path."""
    import pyarrow as pa

    cols = synthetic.runs_columns(start, start + count)
    exp = client.get_experiment_by_name("synthetic").experiment_id
    client.log_runs(exp, pa.table({
        **{f"params.{p}": cols[p] for p in synthetic.PARAMS},
        **{f"metrics.{m}": cols[m] for m in synthetic.METRICS},
        "run_name": [f"run-{i}" for i in cols["index"]],
        "start_time": cols["start_time_ms"], "end_time": cols["start_time_ms"] + 500}))
    client.flush()


EXITS = {  # a writing process's settings -> its wall time, start to exit
    "views not kept": {},
    "LAKEML_MATERIALIZE_VIEWS=true": {"LAKEML_MATERIALIZE_VIEWS": "true"},
    "the same, LAKEML_MATERIALIZE_VIEWS_AT_EXIT=0": {"LAKEML_MATERIALIZE_VIEWS": "true",
                                                     "LAKEML_MATERIALIZE_VIEWS_AT_EXIT": "0"},
}


def writer_exit(store: str, index: int, extra: dict[str, str]) -> float:
    """Wall seconds of a new process that logs one run (a param, a metric) and exits,
    with the settings ``extra``: what keeping the view tables fresh adds to its exit."""
    import subprocess

    script = ("import lakeml\n"
              f"c = lakeml.Client({store!r})\n"
              "e = c.get_experiment_by_name('synthetic').experiment_id\n"
              f"r = c.create_run(e, run_name='exit-{index}').info.run_id\n"
              "c.log_param(r, 'p1', '1')\nc.log_metric(r, 'm1', 0.5)\n")
    env = {**os.environ, **extra, "PYTHONPATH": str(HERE.parent)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    return time.perf_counter() - t0


def timed(call):  # noqa: ANN001, ANN201 - a callable and its result
    """(wall seconds, CPU seconds of the whole process, result) of ``call()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = call()
    return (time.perf_counter() - t0, time.process_time() - c0), result


def secs(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.1f} s ({pair[1]:.1f} CPU-s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 k runs instead of 1 M")
    parser.add_argument("--runs", type=int, help="runs in the store (overrides --quick)")
    parser.add_argument("--cache", default=str(HERE / ".cache"),
                        help="where generated stores are kept (default benchmarks/.cache)")
    args = parser.parse_args()
    runs = args.runs or (100_000 if args.quick else 1_000_000)
    cached = Path(args.cache) / f"lake-{runs}"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {runs:,} runs in {cached}", flush=True)
        generate(str(cached), runs, quiet=True)
    import lakeml
    from lakeml.query import run_snapshot
    from lakeml.query.materialized import export_duckdb, materialize

    with tempfile.TemporaryDirectory(prefix="bench-views-") as tmp:
        store = Path(tmp) / "lake"
        shutil.copytree(cached, store, ignore=shutil.ignore_patterns("views"))
        client = lakeml.Client(str(store))
        full_s, done = timed(lambda: materialize(client.store))
        wide_rows = next(d.rows for d in done if d.table == "runs_wide")
        add_runs(client, runs, NEW_RUNS)
        incr_s, done = timed(lambda: materialize(client.store))
        modes = ", ".join(f"{d.table} {d.mode} {d.rows:,}" for d in done)
        idle_s, _ = timed(lambda: materialize(client.store))
        client.store.maintenance.compact()  # rewrites files, changes no row
        compact_s, done = timed(lambda: materialize(client.store))
        after_compact = ", ".join(sorted({d.mode for d in done}))
        writer_exit(str(store), runs + NEW_RUNS, {})  # untimed: it refreshes the run
        # snapshot after the new runs (minutes at 1 M runs), which the others then find
        exits = {name: writer_exit(str(store), runs + NEW_RUNS + 1 + i, env)
                 for i, (name, env) in enumerate(EXITS.items())}
        export_s, counts = timed(lambda: export_duckdb(client.store, Path(tmp) / "bi.duckdb"))
        size_mb = (Path(tmp) / "bi.duckdb").stat().st_size / 2**20
        run_snapshot.wait(client.store)  # the writer's background snapshot of the new runs
        lakeml.tracking.backend.close_all()  # its last snapshot now, not at exit (the copy
        # is gone by then)
    print(f"\nlakeml views, {runs:,} runs (10 params, 10 metrics each), {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    print(markdown(["measure", "figure"], [
        [f"materialize, first (whole tables; runs_wide {wide_rows:,} rows)", secs(full_s)],
        [f"materialize after {NEW_RUNS:,} new runs (target <= 10 s)", secs(incr_s)],
        ["  rows written by that refresh", modes],
        ["materialize with nothing new", secs(idle_s)],
        ["materialize after a compaction of every store table", f"{secs(compact_s)}: "
         f"{after_compact}"],
        *[[f"a writer logging 1 run, start to exit, {name}", f"{exits[name]:.1f} s"]
          for name in EXITS],
        [f"export --duckdb ({counts['runs_wide']:,} runs_wide rows, {size_mb:.0f} MiB)",
         secs(export_s)],
    ]))


if __name__ == "__main__":
    main()
