"""``lakeml lineage``: where a model or run came from, and what a data version fed.

``lakeml lineage models:/churn@champion`` walks both ways (the data versions, runs and
logged model behind it; what was made from it); ``lakeml lineage data PATH[@vN]`` walks
downstream from a dataset (the runs and models that used it).
"""

from __future__ import annotations

import argparse

from lakeml.cli.args import at_least
from lakeml.cli.args import client as _client
from lakeml.cli.format import render


def cmd_lineage(args: argparse.Namespace) -> str:
    from lakeml.errors import InvalidArgument

    if args.target == "data":
        if not args.uri:
            raise InvalidArgument("lakeml lineage data needs the dataset, e.g. "
                                  "/data/customers@v3 (a Delta table path and version)")
        uri, direction = args.uri, args.direction or "downstream"
    else:
        if args.uri:
            raise InvalidArgument(f"lakeml lineage takes one URI, got {args.target!r} and "
                                  f"{args.uri!r} (for a dataset: lakeml lineage data URI)")
        uri, direction = args.target, args.direction or "both"
    edges = _client(args, read=True).get_lineage(uri, direction, args.depth)
    if not edges:
        return f"no lineage recorded for {uri!r} ({direction})"
    rows = [(e.depth, e.src, e.kind, e.dst, e.detail or "",
             e.time.isoformat(timespec="seconds") if e.time else "") for e in edges]
    return render(["depth", "from", "kind", "to", "detail", "time"], rows, args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``lineage`` command."""
    p = sub.add_parser("lineage", parents=[common],
                       help="trace a model, run or dataset version through the lineage graph")
    p.add_argument("target", metavar="URI",
                   help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID[/PATH], or "
                        "'data' followed by a dataset (PATH@vN)")
    p.add_argument("uri", nargs="?", metavar="DATASET", help="after 'data': the dataset")
    p.add_argument("--direction", choices=("upstream", "downstream", "both"),
                   help="default: both for models and runs, downstream for data")
    p.add_argument("--depth", type=at_least(1), default=10, help="steps to walk (default 10)")
    p.set_defaults(func=cmd_lineage)
