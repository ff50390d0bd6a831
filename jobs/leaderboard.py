"""Materialise per-experiment summary tables for BI dashboards.

    spark-submit jobs/leaderboard.py --store s3://bucket/lake [--top 10] [--maximize accuracy]

Writes one Delta table per file of sql/summaries/ under <store>/summaries
(or --output): best_runs (the best --top runs of every experiment by every
metric), metric_by_param (metric aggregates by param value) and runs_by_day,
each row with its experiment's id and name (a dashboard groups by the name).
Each run replaces the tables; Delta keeps their history.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="leaderboard.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="store URI (folder, s3://…)")
    parser.add_argument("--output", help="where the tables go (default: <store>/summaries)")
    parser.add_argument("--top", type=int, default=10,
                        help="runs kept per experiment and metric (default: %(default)s)")
    parser.add_argument("--maximize", action="append", default=[], metavar="METRIC",
                        help="a metric where higher is better (repeatable); others: lower")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, spark=None) -> int:
    args = parse_args(argv)
    import lakeml.spark
    from lakeml.progress import phase
    from lakeml.spark.summaries import materialize

    if spark is None:
        with phase("starting Spark"):
            spark = lakeml.spark.session("lakeml-leaderboard")
    with phase("writing the summary tables"):
        counts = materialize(spark, args.store, output=args.output, top=args.top,
                             maximize=args.maximize)
    for name, rows in counts.items():
        print(f"{name}: {rows} rows", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
