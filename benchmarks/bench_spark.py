"""Spark figures: session start, the leaderboard on 1 M runs, log_runs of 100,000 runs, and
jobs/maintain.py on a table of 10,000 small commits.

    .venv/bin/python benchmarks/generate_store.py --runs 1000000 --store /tmp/lake-1m
    .venv/bin/python benchmarks/small_commits.py --store /tmp/lake-small --commits 10000
    .venv/bin/python benchmarks/bench_spark.py --store-1m /tmp/lake-1m --small /tmp/lake-small

Each figure is printed as it is measured; the leaderboard is checked
against DuckDB's answer on the same store.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import markdown  # noqa: E402

from lakeml.query import sqlfiles  # noqa: E402


def leaderboard(spark, store: str) -> dict:
    import lakeml.spark

    client = lakeml.Client(store)
    exp = client.get_experiment_by_name("synthetic").experiment_id
    args = {"experiment_id": exp, "metric": "m0", "ascending": True, "limit": 10}
    t = time.perf_counter()
    lakeml.spark.register_views(spark, store)
    register_s = time.perf_counter() - t
    times, rows = [], None
    for _ in range(3):
        t = time.perf_counter()
        rows = [tuple(r) for r in lakeml.spark.query(spark, "leaderboard", store, **args)
                .collect()]
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    expected = client.sql(sqlfiles.query("leaderboard"), args).fetchall()
    duckdb_s = time.perf_counter() - t
    if [r[0] for r in rows] != [r[0] for r in expected]:
        raise RuntimeError(f"Spark and DuckDB disagree:\n{rows}\n{expected}")
    return {"register_s": register_s, "first_s": times[0], "warm_s": min(times[1:]),
            "duckdb_s": duckdb_s}


def log_runs(spark, runs: int) -> dict:
    from pyspark.sql import functions as F

    import lakeml.spark

    store = tempfile.mkdtemp(prefix="lakeml-spark-bench-")
    trials = spark.range(runs).select(
        *[(F.col("id") % (k + 3)).cast("string").alias(f"params.p{k}") for k in range(10)],
        *[F.rand(seed=k).alias(f"metrics.m{k}") for k in range(10)])
    t = time.perf_counter()
    lakeml.spark.log_runs(trials, "grid", store=store)
    seconds = time.perf_counter() - t
    client = lakeml.Client(store)
    counted = client.sql("SELECT count(*) FROM runs").fetchall()[0][0]
    points = client.sql("SELECT count(*) FROM latest_metrics").fetchall()[0][0]
    if counted != runs or points != runs * 10:
        raise RuntimeError(f"log_runs wrote {counted} runs and {points} latest points")
    lakeml.tracking.backend.close_all()
    shutil.rmtree(store, ignore_errors=True)
    return {"seconds": seconds, "runs_per_s": runs / seconds}


def maintain(spark, store: str) -> dict:
    from lakeml.spark.maintain import maintain as run

    t = time.perf_counter()
    report = run(spark, store, tables=["metrics"], retention_hours=0)[0]
    return {"seconds": time.perf_counter() - t, "report": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store-1m", help="a generate_store.py store (1 M runs)")
    parser.add_argument("--small", help="a store from small_commits.py (copied, not changed)")
    parser.add_argument("--runs", type=int, default=100_000, help="runs for log_runs")
    args = parser.parse_args()

    t = time.perf_counter()
    import lakeml.spark

    spark = lakeml.spark.session("lakeml-bench", conf={"spark.driver.memory": "6g"})
    spark.range(1).collect()
    start_s = time.perf_counter() - t
    print(f"session start (first job done): {start_s:.1f} s", flush=True)
    rows = [["Spark session start, to a first job", f"{start_s:.1f} s"]]

    if args.store_1m:
        lb = leaderboard(spark, args.store_1m)
        print(f"leaderboard 1M: {lb}", flush=True)
        rows += [["Views registered over the 1 M-run store", f"{lb['register_s']:.1f} s"],
                 ["Leaderboard, 1 M runs, first", f"{lb['first_s']:.1f} s"],
                 ["Leaderboard, 1 M runs, warm", f"{lb['warm_s']:.1f} s"],
                 ["Same leaderboard in DuckDB (same process)", f"{lb['duckdb_s']:.2f} s"]]
    lr = log_runs(spark, args.runs)
    print(f"log_runs {args.runs:,}: {lr}", flush=True)
    rows.append([f"log_runs of {args.runs:,} runs (10 params, 10 metrics)",
                 f"{lr['seconds']:.1f} s ({lr['runs_per_s']:,.0f} runs/s)"])
    if args.small:
        copy = tempfile.mkdtemp(prefix="lakeml-small-") + "/lake"
        shutil.copytree(args.small, copy)
        m = maintain(spark, copy)
        r = m["report"]
        print(f"maintain: {m['seconds']:.1f} s; {r.line()}", flush=True)
        rows += [[f"maintain.py on metrics, {r.log_before[0]:,} commits", f"{m['seconds']:.1f} s"],
                 ["  data files before -> after", f"{r.files_before:,} -> {r.files_after:,}"],
                 ["  log files before -> after", f"{r.log_before[0]:,} -> {r.log_after[0]:,}"],
                 ["  commits a reader replays", f"{r.log_before[1]:,} -> {r.log_after[1]:,}"],
                 ["  files vacuumed (retention 0 h)", f"{r.vacuumed:,}"]]
        shutil.rmtree(Path(copy).parent, ignore_errors=True)
    print()
    print(markdown(["figure", "value"], rows))


if __name__ == "__main__":
    main()
