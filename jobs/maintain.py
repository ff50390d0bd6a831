"""Compact, checkpoint and vacuum every lakeml table of a store, after refreshing its
current-state tables under <store>/views/.

    spark-submit jobs/maintain.py --store s3://bucket/lake [--retention-hours 168]

OPTIMIZE runs under lakeml's compaction lease, so it never overlaps a
compaction by a Python process; VACUUM keeps a week of history unless
--retention-hours says otherwise. The view tables (`lakeml views materialize`)
that exist are refreshed first, replacing only the runs changed since their last
refresh (--views: make every one; --no-views: leave them). Prints one line per
table as it is done, and progress on stderr.
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from lakeml.store.maintenance import DEFAULT_RETENTION_HOURS

    parser = argparse.ArgumentParser(prog="maintain.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="store URI (folder, s3://…)")
    parser.add_argument("--table", action="append", dest="tables",
                        help="only this table (repeatable); default: every table")
    parser.add_argument("--retention-hours", type=int, default=DEFAULT_RETENTION_HOURS,
                        help="VACUUM keeps files younger than this (default: %(default)s)")
    parser.add_argument("--no-optimize", action="store_true", help="skip OPTIMIZE")
    parser.add_argument("--no-vacuum", action="store_true", help="skip VACUUM")
    views = parser.add_mutually_exclusive_group()
    views.add_argument("--views", action="store_true", dest="views", default=None,
                       help="refresh every view table under <store>/views, making those "
                            "missing (default: those that exist, when no --table is given)")
    views.add_argument("--no-views", action="store_false", dest="views",
                       help="leave the view tables alone")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, spark=None) -> int:
    args = parse_args(argv)
    import lakeml.spark
    from lakeml.progress import phase
    from lakeml.spark.maintain import maintain

    if spark is None:
        with phase("starting Spark"):
            spark = lakeml.spark.session("lakeml-maintain")
    maintain(spark, args.store, tables=args.tables, optimize=not args.no_optimize,
             vacuum=not args.no_vacuum, retention_hours=args.retention_hours,
             views=args.views,
             on_report=lambda report: print(report.line(), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
