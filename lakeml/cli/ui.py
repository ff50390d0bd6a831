"""``lakeml ui``: the web UI of a store, on this machine only.

The same server as ``lakeml server`` (the UI at ``/``, MLflow's REST API beside it),
bound to 127.0.0.1 with one worker: a private viewer of a local or object-store store.
"""

from __future__ import annotations

import argparse

from lakeml.cli.args import at_least

DESCRIPTION = """Open the web UI of a store at http://127.0.0.1:PORT/ : experiments, the
runs table (filters in lakeml's search grammar, sorting, a column chooser), a run's
params, metrics, tags and artifacts, metric charts, comparison of runs, the model
registry and a read-only SQL box. It listens on 127.0.0.1 only; use `lakeml server`
to serve others."""


def cmd_ui(args: argparse.Namespace) -> str:
    from lakeml.cli.server import cmd_server

    print(f"lakeml ui: http://127.0.0.1:{args.port}/", flush=True)
    args.host, args.workers = "127.0.0.1", 1
    # a private viewer: no users, lakeml server's default limits, no CORS
    args.auth_file = args.max_body_mb = args.read_timeout = args.cors_origins = None
    args.allowed_hosts = None  # this machine's names (it binds 127.0.0.1)
    return cmd_server(args)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``ui`` command."""
    p = sub.add_parser("ui", help="open the web UI of a store (on this machine only)",
                       description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", help="store URI to show (default: LAKEML_STORE, "
                   "conf/lakeml.yaml, then ./lakeml-store)")
    p.add_argument("--port", type=at_least(0), default=5000,
                   help="TCP port on 127.0.0.1 (default 5000)")
    p.add_argument("--log-level", default="warning",
                   choices=("critical", "error", "warning", "info", "debug"),
                   help="server log level (default warning)")
    p.set_defaults(func=cmd_ui)
