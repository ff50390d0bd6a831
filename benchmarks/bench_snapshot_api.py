"""Run-snapshot benchmark on a store built through the ordinary API, not the bulk path.

Each run is ``create_run`` + ``log_batch`` (10 params, 10 metrics) +
``set_terminated``, in one writing process, as a script logging runs one by
one would do: many small commits, a runs-table row per create_run and per
set_terminated. The store is built once into --cache (git-ignored, default
benchmarks/.cache) and reused; the build records how fresh the snapshot was
when the writer exited. Then, each in a fresh process:

- the snapshot written again (``run_snapshot.write``): time and peak RSS;
- ``state/``: its size and how many snapshot generations it holds;
- the leaderboard cold (a new interpreter, ``import lakeml`` included, peak
  RSS from the child's VmHWM as bench_search.py reads it) and warm (median
  of 15 calls), answers checked against synthetic.expected_leaderboard.

    .venv/bin/python benchmarks/bench_snapshot_api.py              # 1,000,000 runs
    .venv/bin/python benchmarks/bench_snapshot_api.py --runs 20000  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_common import installed_env, markdown  # noqa: E402

EXPERIMENT = "synthetic"

PEAK_RSS = r"""
def peak_rss_mb():
    # VmHWM, not getrusage: Linux carries ru_maxrss across fork and exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

# Builds the store in a process of its own, which then exits as a user's script
# would: the snapshot state it leaves is read by the parent after the exit.
BUILD = PEAK_RSS + r"""
import json, sys, time
t0 = time.perf_counter()
import lakeml
store, runs, here = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, here); import synthetic
client = lakeml.Client(store)
exp = client.create_experiment("synthetic")
for start in range(0, runs, 10_000):
    cols = synthetic.runs_columns(start, min(start + 10_000, runs))
    params = [{p: v for p, v in zip(synthetic.PARAMS, row)}
              for row in zip(*(cols[p].tolist() for p in synthetic.PARAMS))]
    metrics = [{m: v for m, v in zip(synthetic.METRICS, row)}
               for row in zip(*(cols[m].tolist() for m in synthetic.METRICS))]
    for i, start_ms, p, m in zip(cols["index"].tolist(), cols["start_time_ms"].tolist(),
                                 params, metrics):
        run_id = client.create_run(exp, start_time=start_ms, run_name=f"run-{i}").info.run_id
        client.log_batch(run_id, metrics=m, params=p)
        client.set_terminated(run_id, end_time=start_ms + 500)
    print(f"  {start + len(params):>9,} runs {time.perf_counter() - t0:7.1f} s",
          file=sys.stderr, flush=True)
print(json.dumps({"log_s": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}),
      flush=True)
"""

# Writes the snapshot again, in a process of its own (its peak RSS is the write's).
WRITE = PEAK_RSS + r"""
import json, sys, time
import lakeml
from lakeml.query import run_snapshot
from lakeml.store import Store
store = Store(sys.argv[1]).open()
t = time.perf_counter()
snapshot = run_snapshot.write(store)
print(json.dumps({"write_s": time.perf_counter() - t, "runs": snapshot.runs,
                  "peak_rss_mb": peak_rss_mb()}))
"""

LEADERBOARD = PEAK_RSS + r"""
import json, sys, time
t0 = time.perf_counter()
import lakeml
store, n = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, sys.argv[3]); import synthetic
lakeml.set_store(store)
def board():
    return lakeml.search_runs(experiment_names=["synthetic"], **synthetic.LEADERBOARD)
df = board(); cold = time.perf_counter() - t0
warm = []
for _ in range(15):
    t = time.perf_counter(); df = board(); warm.append(time.perf_counter() - t)
got = [(int(name.split("-")[1]), m0) for name, m0 in
       zip(df["tags.mlflow.runName"], df["metrics.m0"])]
if got != synthetic.expected_leaderboard(n):
    raise SystemExit(f"wrong leaderboard: {got}")
print(json.dumps({"cold_s": cold, "warm_s": sorted(warm)[len(warm) // 2],
                  "peak_rss_mb": peak_rss_mb()}))
"""


# The cold leaderboard's floor: a new interpreter importing what it needs.
IMPORTS = r"""
import json, time
t0 = time.perf_counter()
import duckdb, pandas, pyarrow, lakeml
print(json.dumps({"import_s": time.perf_counter() - t0}))
"""


def child(code: str, *args: object, timeout: float = 3600) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; its last stdout line is a JSON object."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)],
                          stdout=subprocess.PIPE, stderr=None, text=True, timeout=timeout,
                          env=installed_env())
    if proc.returncode != 0:
        raise RuntimeError(f"child failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t
    return result


def state_figures(store: Path) -> dict[str, Any]:
    """Size of state/, the generations it holds, and the runs the named snapshot covers."""
    folder = store / "state"
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    generations = [p for p in files if p.name.startswith("runs-") and p.suffix == ".parquet"]
    try:
        covered = json.loads((folder / "runs.json").read_text())["runs"]
    except (OSError, ValueError, KeyError):
        covered = 0
    return {"state_mb": sum(p.stat().st_size for p in files) / 2**20,
            "generations": len(generations), "snapshot_runs": covered}


def table_mb(store: Path, table: str) -> float:
    folder = store / "tables" / table
    return sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 2**20


def build(store: Path, runs: int) -> dict[str, Any]:
    """Log ``runs`` runs through the API into ``store`` (built beside it, then renamed,
    so an interrupted build is never reused); the figures are kept beside the store."""
    partial = store.with_name(store.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    print(f"building {runs:,} runs through the API in {store} ...", flush=True)
    t = time.perf_counter()
    result = child(BUILD, partial, runs, HERE, timeout=6 * 3600)
    result["exit_s"] = time.perf_counter() - t - result["log_s"]
    result["after_exit"] = state_figures(partial)
    partial.rename(store)
    (store.parent / f"{store.name}.json").write_text(json.dumps(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--cache", default=str(HERE / ".cache"),
                        help="where the API-built store is kept between runs")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    store = cache / f"api-{args.runs}"
    built = build(store, args.runs) if not store.exists() else \
        json.loads((cache / f"{store.name}.json").read_text())
    if args.build_only:
        print(json.dumps(built))
        return
    before = state_figures(store)
    print("writing the snapshot again ...", flush=True)
    write = child(WRITE, store)
    after = state_figures(store)
    print("leaderboard ...", flush=True)
    board = child(LEADERBOARD, store, args.runs, HERE)
    imports = child(IMPORTS)
    runs_mb = table_mb(store, "runs")

    n = f"{args.runs:,}"
    rows = [
        [f"log {n} runs through the API (one process)", f"{built['log_s']:.0f} s", "-"],
        ["writer's exit (finishing its snapshot)", f"{built['exit_s']:.1f} s", "-"],
        ["runs in the snapshot after the writer exited",
         f"{built['after_exit']['snapshot_runs']:,}", f"{args.runs:,}"],
        ["snapshot write (new process)", f"{write['write_s']:.1f} s", "-"],
        ["peak RSS of the snapshot write", f"{write['peak_rss_mb']:,.0f} MB", "<= 1024 MB"],
        ["state/ size, generations (after the build)",
         f"{before['state_mb']:.0f} MB, {before['generations']}", "old ones removed"],
        ["state/ size, generations (after the write)",
         f"{after['state_mb']:.0f} MB, {after['generations']}", "old ones removed"],
        [f"leaderboard cold (new process, import included), {n} runs",
         f"{board['cold_s']:.3f} s", "<= 1.0 s"],
        ["of which: importing lakeml, pandas, pyarrow, DuckDB (new process)",
         f"{imports['import_s']:.3f} s", "-"],
        [f"leaderboard warm (median of 15), {n} runs", f"{board['warm_s']:.3f} s", "<= 0.1 s"],
        ["peak RSS of the leaderboard process", f"{board['peak_rss_mb']:,.0f} MB",
         "<= 1024 MB"],
    ]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"\nRun snapshot on an API-built store; {when}; Python "
          f"{platform.python_version()}, {os.cpu_count()} cores\n")
    print(markdown(["figure", "lakeml", "target"], rows))
    print(f"\n- runs table {runs_mb:.0f} MB; peak RSS of the logging process "
          f"{built['peak_rss_mb']:,.0f} MB; leaderboard process total {board['process_s']:.1f} s.")


if __name__ == "__main__":
    main()
