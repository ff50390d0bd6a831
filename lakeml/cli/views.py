"""``lakeml views materialize|export``: the current state as tables that tools other than
lakeml read (Delta tables under <store>/views/, or a DuckDB database file)."""

from __future__ import annotations

import argparse

from lakeml.cli.args import client as _client
from lakeml.cli.format import render

DESCRIPTION = """Write the store's current state (runs_wide with experiment names,
latest_metrics, params, tags, model_versions) as tables any reader can use.

  materialize   Delta tables under <store>/views/<name>, for Spark, Trino, polars,
                DuckDB's delta extension or a BI tool reading Delta. Each run replaces
                only the rows of runs changed since the last one, in one commit per
                table (readers never see half a refresh). LAKEML_MATERIALIZE_VIEWS=true
                makes writing processes refresh them by themselves.
  export        a DuckDB database file (--duckdb FILE) holding the same tables, for
                tools with a DuckDB driver; the file is replaced whole."""


def cmd_views(args: argparse.Namespace) -> str:
    from lakeml.errors import InvalidArgument
    from lakeml.progress import phase
    from lakeml.query import materialized

    client = _client(args, read=True)  # a missing store is refused, never created
    client.flush()
    if args.action == "export":
        if not args.duckdb:
            raise InvalidArgument("lakeml views export needs --duckdb FILE")
        with phase(f"writing {args.duckdb}"):
            counts = materialized.export_duckdb(client.store, args.duckdb)
        return render(["table", "rows"], list(counts.items()), args.format)
    if args.duckdb:
        raise InvalidArgument("--duckdb is for `lakeml views export`")
    with phase("materializing the views"):
        done = materialized.materialize(client.store, args.table or None, full=args.full)
    return render(["table", "mode", "rows_written", "version"],
                  [(d.table, d.mode, d.rows, d.version) for d in done], args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``views`` command."""
    p = sub.add_parser("views", parents=[common], description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="write the current state as Delta tables under <store>/views "
                            "(materialize) or a DuckDB file (export)")
    p.add_argument("action", choices=["materialize", "export"])
    p.add_argument("--table", action="append",
                   help="materialize: only this view table (repeatable)")
    p.add_argument("--full", action="store_true",
                   help="materialize: rewrite the tables whole, not only changed runs")
    p.add_argument("--duckdb", metavar="FILE", help="export: the DuckDB file to write")
    p.set_defaults(func=cmd_views)
