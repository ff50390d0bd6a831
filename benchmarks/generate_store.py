"""Write a synthetic lakeml store through the bulk path: N runs x 10 params x 10 metrics.

Run ``i`` holds the values of ``synthetic.runs_columns`` (the same data the
MLflow side loads), named ``run-<i>``. With ``--history-points`` the runs
also get a metric ``loss`` whose histories total that many points (equal
lengths per run), as in a store that has seen real training curves.

    .venv/bin/python benchmarks/generate_store.py --runs 1000000 \\
        --history-points 100000000 --store /tmp/lake-1m
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic  # noqa: E402

import lakeml  # noqa: E402
from lakeml.query import run_snapshot  # noqa: E402

EXPERIMENT = "synthetic"
CHUNK = 100_000


def generate(store: str, runs: int, history_points: int = 0, *, quiet: bool = False) -> dict:
    """Create ``store`` holding ``runs`` synthetic runs; returns timings and sizes."""
    if Path(store).exists():
        raise SystemExit(f"{store} exists; remove it or choose another path")
    per_run = history_points // runs if history_points else 0
    client = lakeml.Client(store)
    exp = client.create_experiment(EXPERIMENT)
    t0 = time.perf_counter()
    history_s = 0.0
    for start in range(0, runs, CHUNK):
        stop = min(start + CHUNK, runs)
        cols = synthetic.runs_columns(start, stop)
        table = pa.table({
            **{f"params.{p}": cols[p] for p in synthetic.PARAMS},
            **{f"metrics.{m}": cols[m] for m in synthetic.METRICS},
            "run_name": [f"run-{i}" for i in cols["index"]],
            "start_time": cols["start_time_ms"], "end_time": cols["start_time_ms"] + 500,
        })
        ids = client.log_runs(exp, table)
        client.flush()
        if per_run:
            h0 = time.perf_counter()
            steps = np.tile(np.arange(per_run, dtype=np.int64), len(ids))
            start_ms = np.repeat(cols["start_time_ms"], per_run)
            noise = np.repeat(cols["m1"], per_run)
            client.log_metric_histories(pa.table({
                "run_id": pa.array(np.repeat(np.array(ids, dtype=object), per_run), pa.string()),
                "key": pa.array(["loss"] * len(steps)),
                "value": 1.0 / (steps + 1) + 0.01 * noise,
                "step": steps, "timestamp": start_ms + steps * 10}))
            client.flush()
            history_s += time.perf_counter() - h0
        if not quiet:
            print(f"  {stop:>9,} runs  {time.perf_counter() - t0:7.1f} s", flush=True)
    # What the writer's maintenance does after a bulk load, waited for here so that the
    # figures that follow measure a settled store: the run snapshot new readers start from.
    run_snapshot.refresh_soon(client.store)
    run_snapshot.wait(client.store)
    total_s = time.perf_counter() - t0
    return {"runs": runs, "history_points": per_run * runs, "seconds": total_s,
            "history_seconds": history_s,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--history-points", type=int, default=0)
    parser.add_argument("--store", required=True)
    args = parser.parse_args(argv)
    result = generate(args.store, args.runs, args.history_points)
    print(f"{result['runs']:,} runs and {result['history_points']:,} history points in "
          f"{result['seconds']:.0f} s (histories {result['history_seconds']:.0f} s); "
          f"peak RSS {result['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
