"""``lakeml sql QUERY``: read-only SQL over the lake's views, printed or written to a file."""

from __future__ import annotations

import argparse

from lakeml.cli.args import at_least
from lakeml.cli.args import client as _client
from lakeml.cli.format import render


def cmd_sql(args: argparse.Namespace) -> str:
    import duckdb

    from lakeml.errors import InvalidArgument

    out = args.output
    if out and not out.endswith((".parquet", ".csv")):
        raise InvalidArgument(f"--output {out!r}: name a .csv or .parquet file")
    rel = _client(args, read=True).sql(args.query, as_of=args.as_of)
    try:  # a relation runs when its rows are fetched: errors surface here
        if out:
            _write_rows(rel, out)
            return f"wrote {out}"
        rows = rel.limit(args.limit + 1).fetchall()
    except duckdb.Error as exc:
        raise InvalidArgument(f"SQL failed: {exc}\n  query: {args.query}") from exc
    shown = render(rel.columns, rows[:args.limit], args.format)
    if len(rows) > args.limit and args.format == "table":
        shown += f"\n(first {args.limit} rows; use --limit or --output for more)"
    return shown


def _write_rows(rel, out: str) -> None:  # noqa: ANN001 - a DuckDB relation
    """Stream ``rel``'s rows into a .parquet or .csv file.

    The query's database reads only the store, so the file is written by a
    connection of its own, fed batch by batch (never the whole result in memory).
    """
    import duckdb

    from lakeml.sqltext import configure

    with configure(duckdb.connect()) as con:
        rows = con.from_arrow(rel.to_arrow_reader())
        if out.endswith(".parquet"):
            rows.write_parquet(out)
        else:
            rows.write_csv(out)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``sql`` command."""
    p = sub.add_parser("sql", parents=[common], help="run read-only SQL over the lake's views")
    p.add_argument("query", help="e.g. \"SELECT status, count(*) FROM runs GROUP BY 1\"")
    p.add_argument("--output", "-o", help="write all rows to FILE.csv or FILE.parquet")
    p.add_argument("--limit", type=at_least(1), default=1000, help="rows to print (default 1000)")
    p.add_argument("--as-of", help="read the store as of this ISO time, e.g. 2026-03-01")
    p.set_defaults(func=cmd_sql)
