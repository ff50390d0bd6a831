"""``lakeml monitor …``: drift and quality of a served model's logged traffic.

``run`` compares windows of ``inference_log`` with a baseline, appends the statistics
to ``monitor_metrics``, lists alerts and exits 3 when there are any (so a scheduler
can react); ``log-labels`` appends ground truth from a file; ``sql`` queries the
monitoring views.
"""

from __future__ import annotations

import argparse

from lakeml.cli.args import group

ALERT_EXIT = 3


def _use_store(args: argparse.Namespace) -> str:
    from lakeml import config

    if args.store:
        from lakeml.fluent import set_store

        set_store(args.store)
    return config.store_uri()


def cmd_monitor_run(args: argparse.Namespace) -> tuple[str, int]:
    from lakeml.data.monitor import run_monitor
    from lakeml.data.monitor.metrics import parse_thresholds

    store = _use_store(args)
    result = run_monitor(args.model, baseline=args.baseline, window=args.window,
                         since=args.since, until=args.until,
                         thresholds=parse_thresholds(args.threshold), min_rows=args.min_rows,
                         store=store)
    lines = [f"model {result.model_name} version {result.model_version}: {result.windows} "
             f"window(s) of {args.window} against {result.baseline}; "
             f"{len(result.rows)} statistics in monitor_metrics"]
    if not result.windows:
        lines.append("no logged traffic in that time (serve with --log-inferences)")
    for row in result.alerts:
        start = _time(row["window_start"])
        lines.append(f"ALERT {start} {row['feature']}: {row['statistic']} = "
                     f"{row['value']:.4g} (threshold {row['threshold']:g})")
    if not result.alerts and result.windows:
        lines.append("no alerts")
    return "\n".join(lines), ALERT_EXIT if result.alerts else 0


def _time(us: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(us / 1e6, tz=timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def cmd_monitor_log_labels(args: argparse.Namespace) -> str:
    import os

    import pandas as pd

    from lakeml.data.monitor import log_labels
    from lakeml.errors import InvalidArgument, NotFound

    store = _use_store(args)
    if not os.path.isfile(args.file):
        raise NotFound(f"labels file {args.file!r} does not exist")
    if args.file.endswith(".parquet"):
        frame = pd.read_parquet(args.file)
    elif args.file.endswith(".csv"):
        frame = pd.read_csv(args.file, dtype={"request_id": str})
    else:
        raise InvalidArgument(f"labels file {args.file!r}: give a .csv or .parquet file")
    count = log_labels(args.model, frame, store=store)
    return f"appended {count} labels for {args.model}"


def cmd_monitor_sql(args: argparse.Namespace) -> str:
    from lakeml.cli.format import render
    from lakeml.data.monitor import connect

    store = _use_store(args)
    con = connect(store)
    try:
        cursor = con.execute(args.query)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        con.close()
    return render(columns, rows, args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``monitor`` group: run, log-labels, sql."""
    monitor_sub = group(sub, "monitor", "drift and quality of a served model's logged traffic")
    p = monitor_sub.add_parser("run", parents=[common],
                               help="compare logged traffic with a baseline; exit 3 on alerts")
    p.add_argument("--model", "-m", required=True, help="models:/NAME@ALIAS or "
                   "models:/NAME/VERSION (one version's traffic is monitored)")
    p.add_argument("--baseline", default="training", help="training (the dataset the model's "
                   "run logged; default), a run id, or a Delta table URI[@VERSION] / files")
    p.add_argument("--window", default="1d", help="window width: 15m, 1h, 1d… (default 1d)")
    p.add_argument("--since", help="start: an ISO time or a duration back from now (24h); "
                   "rounded down to the start of its window")
    p.add_argument("--until", help="end (exclusive): an ISO time or a duration back from "
                   "now; rounded up to the end of its window")
    p.add_argument("--threshold", action="append", metavar="STAT=VALUE",
                   help="override a threshold, e.g. psi=0.25 (repeatable; also conf "
                        "monitor.thresholds)")
    p.add_argument("--min-rows", type=int, default=100,
                   help="windows with fewer rows raise no drift alerts (default 100)")
    p.set_defaults(func=cmd_monitor_run)
    p = monitor_sub.add_parser("log-labels", parents=[common],
                               help="append ground truth (request_id, label[, row]) from a "
                                    ".csv or .parquet file")
    p.add_argument("file", help="a .csv or .parquet file with request_id and label columns")
    p.add_argument("--model", "-m", required=True, help="the registered model's name or a "
                   "models:/ URI")
    p.set_defaults(func=cmd_monitor_log_labels)
    p = monitor_sub.add_parser("sql", parents=[common], help="SQL over inference_log, "
                               "inference_labels and monitor_metrics")
    p.add_argument("query", help="a DuckDB SELECT")
    p.set_defaults(func=cmd_monitor_sql)
