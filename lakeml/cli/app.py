"""The ``lakeml`` command: its parser, the entry point, and the commands of a line
(config, demo, spark-jars).

Each command group lives in a module of its own (experiments.py, runs.py,
artifacts.py, maintenance.py, sql.py, models.py, registry.py, lineage.py, projects.py,
server.py) with an ``add_parser``; what they read from their arguments alike is in
args.py, how they print in format.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from lakeml.cli.format import FORMATS
from lakeml.errors import LakemlError


def cmd_config(args: argparse.Namespace) -> str:
    from lakeml import config

    return config.describe()


def cmd_spark_jars(args: argparse.Namespace) -> str:
    from lakeml.spark.jars import fetch

    return ",".join(str(path) for path in fetch())  # as spark-submit --jars takes them


def cmd_demo(args: argparse.Namespace) -> str:
    from lakeml.cli.format import render
    from lakeml.demo import run_demo

    return run_demo(args.store, lambda columns, rows: render(columns, rows, "table"))


DESCRIPTION = """lakeml: track ML runs, register models and query them, all as Delta tables.

Every command takes --store URI (default: LAKEML_STORE, conf/lakeml.yaml, then
./lakeml-store) and prints a table, or JSON / CSV with --format. Commands that
only read never create a store. `lakeml COMMAND --help` explains each one."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lakeml`` command (commands in the order --help lists)."""
    from lakeml.cli import (
        artifacts,
        experiments,
        lineage,
        maintenance,
        migrate,
        models,
        monitor,
        projects,
        registry,
        runs,
        server,
        sql_server,
        views,
    )
    from lakeml.cli import sql as sql_command
    from lakeml.version import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store URI (default: LAKEML_STORE or ./lakeml-store)")
    common.add_argument("--format", choices=FORMATS, default="table", help="output format")

    parser = argparse.ArgumentParser(
        prog="lakeml", description=DESCRIPTION,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
            prog, max_help_position=16))
    parser.add_argument("--version", action="version", version=f"lakeml {__version__}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")

    for command in (experiments, runs, artifacts, maintenance, sql_command, models, registry,
                    lineage, server, sql_server, views):
        command.add_parser(sub, common)
    from lakeml.cli import ui as ui_command
    ui_command.add_parser(sub, common)

    p = sub.add_parser("config", help="list every setting with its environment variable")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("demo", help="train scikit-learn models, log runs, register the best, "
                       "print a leaderboard")
    p.add_argument("--store", help="store URI (default: LAKEML_STORE or ./lakeml-store)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("spark-jars", help="fetch the Delta Lake jars for Spark from Maven "
                       "Central (needs mvn); print them comma-separated, for "
                       "spark-submit --jars")
    p.set_defaults(func=cmd_spark_jars)
    projects.add_parser(sub, common)
    migrate.add_parser(sub, common)
    monitor.add_parser(sub, common)
    return parser


def _print(text: str) -> int:
    """Print ``text``; a reader that closed the pipe (``| head``) ends us quietly."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again at exit when flushing: point stdout at nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a process killed by SIGPIPE, what `cat big | head` reports
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; errors print one line and exit 1 (2 for bad usage).

    A command group given without a command (``lakeml``, ``lakeml runs``)
    prints its help.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        return _print(getattr(args, "group_parser", parser).format_help().rstrip())
    try:
        result = args.func(args)
        if isinstance(result, tuple):  # (text, exit code): e.g. monitor alerts exit 3
            return _print(result[0]) or result[1]
        return _print(result)
    except LakemlError as exc:
        print(f"lakeml: error: {exc}{_where(args, exc)}", file=sys.stderr)
        return 1


def _where(args: argparse.Namespace, exc: LakemlError) -> str:
    """`` (store: URI)`` after a NotFound, so the user sees where lakeml looked."""
    from lakeml.errors import NotFound

    if not isinstance(exc, NotFound) or "store" in str(exc):
        return ""
    try:
        from lakeml.cli.args import store_uri

        return f" (store: {store_uri(args)})"
    except LakemlError:
        return ""
