"""``lakeml runs …``: list runs with chosen columns, show one, compare several."""

from __future__ import annotations

import argparse
from typing import Any, Sequence

from lakeml.cli.args import client as _client
from lakeml.cli.args import duration
from lakeml.cli.format import ms_to_iso, render

_INFO_COLUMNS = ["run_id", "run_name", "status", "user_id", "start_time", "end_time"]
_KINDS = {"metrics": "metrics", "params": "params", "tags": "tags"}


def experiment_id(client: Any, ref: str) -> str:
    """The id of experiment ``ref``, given by name or by id."""
    exp = client.get_experiment_by_name(ref)
    if exp is None:
        if not ref.isdigit():
            from lakeml.errors import NotFound

            raise NotFound(f"no experiment named {ref!r}")
        exp = client.get_experiment(ref)
    return exp.experiment_id


def _value(run: Any, column: str) -> Any:
    kind, _, key = column.partition(".")
    return getattr(run.data, _KINDS[kind]).get(key)


def _varying(runs: Sequence[Any]) -> list[str]:
    """``metrics.k`` and ``params.k`` columns whose values differ between ``runs``.

    A key that only some runs have counts as varying; system tags never do.
    """
    columns = []
    for kind in ("params", "metrics"):
        keys = sorted({k for r in runs for k in getattr(r.data, kind)})
        for key in keys:
            seen = {repr(getattr(r.data, kind).get(key)) for r in runs}
            if len(seen) > 1 or len(runs) == 1:
                columns.append(f"{kind}.{key}")
    return columns


def parse_columns(text: str | None) -> list[str] | str:
    """``--columns`` as a list of ``metrics.k``/``params.k``/``tags.k``, or ``"auto"``."""
    if text is None or text == "":
        return []
    if text.strip() == "auto":
        return "auto"
    columns = [c.strip() for c in text.split(",") if c.strip()]
    from lakeml.errors import InvalidArgument

    for column in columns:
        kind, dot, key = column.partition(".")
        if not dot or not key or kind not in _KINDS:
            raise InvalidArgument(
                f"--columns {column!r}: name metrics.<key>, params.<key> or tags.<key>, "
                "comma-separated, or 'auto' for the keys whose values differ")
    return columns


def cmd_runs_list(args: argparse.Namespace) -> str:
    client = _client(args, read=True)
    columns = parse_columns(args.columns)
    runs = client.search_runs([experiment_id(client, args.experiment)],
                              args.filter or "", args.view, max_results=args.max_results,
                              order_by=args.order_by)
    if columns == "auto":
        columns = _varying(list(runs))
    rows = [(r.info.run_id, r.info.run_name, r.info.status, r.info.user_id,
             ms_to_iso(r.info.start_time), ms_to_iso(r.info.end_time),
             *(_value(r, c) for c in columns)) for r in runs]
    return render([*_INFO_COLUMNS, *columns], rows, args.format)


def cmd_runs_show(args: argparse.Namespace) -> str:
    run = _client(args, read=True).get_run(args.run_id)
    i = run.info
    rows: list[tuple[str, str, object]] = [
        ("info", k, val) for k, val in (
            ("run_id", i.run_id), ("experiment_id", i.experiment_id),
            ("run_name", i.run_name), ("status", i.status), ("user_id", i.user_id),
            ("start_time", ms_to_iso(i.start_time)), ("end_time", ms_to_iso(i.end_time)),
            ("lifecycle_stage", i.lifecycle_stage), ("parent_run_id", i.parent_run_id),
            ("artifact_uri", i.artifact_uri))]
    rows += [("param", k, val) for k, val in sorted(run.data.params.items())]
    rows += [("metric", k, val) for k, val in sorted(run.data.metrics.items())]
    rows += [("tag", k, val) for k, val in sorted(run.data.tags.items())]
    rows += [("input", d.dataset.name, f"{d.dataset.digest} ({d.context})")
             for d in run.inputs.dataset_inputs]
    return render(["kind", "key", "value"], rows, args.format)


def compare_rows(runs: Sequence[Any], *, all_keys: bool) -> list[tuple[Any, ...]]:
    """(kind, key, differs, value per run) for the params and latest metrics of ``runs``.

    ``differs`` is ``*`` where the runs disagree (a key some runs lack counts);
    unless ``all_keys``, only those rows are kept.
    """
    rows = []
    for kind in ("params", "metrics"):
        for key in sorted({k for r in runs for k in getattr(r.data, kind)}):
            values = [getattr(r.data, kind).get(key) for r in runs]
            differs = len({repr(v) for v in values}) > 1
            if differs or all_keys:
                rows.append((kind[:-1], key, "*" if differs else "", *values))
    return rows


def cmd_runs_compare(args: argparse.Namespace) -> str:
    from lakeml.errors import InvalidArgument

    if len(args.run_ids) < 2:
        raise InvalidArgument(f"runs compare takes two or more run ids, got {len(args.run_ids)}")
    client = _client(args, read=True)
    runs = [client.get_run(run_id) for run_id in args.run_ids]
    names = [r.info.run_name or r.info.run_id[:8] for r in runs]
    header = [("info", "run_id", "", *(r.info.run_id for r in runs)),
              ("info", "status", "", *(r.info.status for r in runs))]
    return render(["kind", "key", "diff", *names],
                  header + compare_rows(runs, all_keys=args.all), args.format)


def cmd_runs_cleanup(args: argparse.Namespace) -> str:
    """End stale RUNNING runs KILLED (see lakeml/tracking/owners.py)."""
    from lakeml.errors import InvalidArgument
    from lakeml.projects.staging import sweep
    from lakeml.tracking import owners

    if not args.stale:
        raise InvalidArgument("say what to clean up: --stale (RUNNING runs whose processes "
                              "are gone)")
    client = _client(args, read=True)
    stale = owners.find_stale(client.tracking, older_than=args.older_than)  # lake stores
    if not args.dry_run:
        owners.end_stale(client.tracking, stale)
        sweep()  # step folders of workflow runs killed with kill -9
    action = "would end KILLED" if args.dry_run else "ended KILLED"
    return render(["run_id", "experiment_id", "run_name", "action", "reason"],
                  [(r.run_id, r.experiment_id, r.run_name, action, r.reason) for r in stale],
                  args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``runs`` group: list, show, compare."""
    runs = sub.add_parser("runs", help="list runs, show one, compare several, or end stale "
                          "ones")
    runs_sub = runs.add_subparsers(dest="action", metavar="ACTION")
    runs.set_defaults(group_parser=runs)
    views = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]
    p = runs_sub.add_parser("list", parents=[common], help="runs of one experiment, a row each")
    p.add_argument("--experiment", required=True, help="experiment name or id")
    p.add_argument("--view", default="ACTIVE_ONLY", choices=views)
    p.add_argument("--max-results", type=int, default=1000)
    p.add_argument("--filter", help="MLflow filter, e.g. \"metrics.rmse < 0.5 and "
                   "params.alpha = '0.1'\"")
    p.add_argument("--order-by", action="append", metavar="KEY [ASC|DESC]",
                   help="e.g. 'metrics.rmse ASC' (repeatable)")
    p.add_argument("--columns", help="extra columns, e.g. metrics.rmse,params.lr; "
                   "'auto': the params and metrics whose values differ")
    p.set_defaults(func=cmd_runs_list)
    p = runs_sub.add_parser("show", parents=[common],
                            help="one run: info, params, metrics, tags, inputs")
    p.add_argument("run_id")
    p.set_defaults(func=cmd_runs_show)
    p = runs_sub.add_parser("compare", parents=[common],
                            help="params and latest metrics of runs side by side, "
                                 "differences marked *")
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    p.add_argument("--all", action="store_true", help="also the keys on which all agree")
    p.set_defaults(func=cmd_runs_compare)
    p = runs_sub.add_parser("cleanup", parents=[common],
                            help="end RUNNING runs whose processes are gone, KILLED")
    p.add_argument("--stale", action="store_true",
                   help="runs whose owner processes on this host are all gone (and, with "
                        "--older-than, runs not checkable from here)")
    p.add_argument("--older-than", type=duration, metavar="AGE",
                   help="only runs without a sign of life for AGE (90s, 30m, 2h, 7d); runs "
                        "owned on another host or by no process are ended only with it")
    p.add_argument("--dry-run", action="store_true", help="list them, change nothing")
    p.set_defaults(func=cmd_runs_cleanup)
