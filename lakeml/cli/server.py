"""``lakeml server``: the tracking server, MLflow's REST API 2.0 over the store."""

from __future__ import annotations

import argparse
import os

from lakeml.cli.args import at_least

DESCRIPTION = """Serve the store over HTTP with MLflow's REST API 2.0 (/api/2.0/mlflow/...):
experiments, runs, params, metrics, tags, log-batch, search and metric history. A write
is answered only once it is committed to the store's Delta tables.

Binds 127.0.0.1 unless --host says otherwise. There is no authentication yet: give
another --host only on a network where everyone may read and write the store."""


def cmd_server(args: argparse.Namespace) -> str:
    import uvicorn

    from lakeml.cli.args import store_uri
    from lakeml.client import Client

    uri = store_uri(args)
    Client(uri).flush()  # a bad store fails here, once, not in every worker
    os.environ["LAKEML_STORE"] = uri  # the workers' app factory reads it
    uvicorn.run("lakeml.server.app:app_from_environment", factory=True, host=args.host,
                port=args.port, workers=args.workers, log_level=args.log_level,
                # a worker busy with a long commit on a loaded machine is slow, not hung:
                # killing it (uvicorn's default: after 5 s) would drop its requests
                timeout_worker_healthcheck=60)
    return "lakeml server stopped"


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``server`` command."""
    p = sub.add_parser("server", help="serve the store with MLflow's REST API (tracking "
                       "server)", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", help="store URI to serve (default: LAKEML_STORE, "
                   "conf/lakeml.yaml, then ./lakeml-store)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                   "0.0.0.0 for every interface)")
    p.add_argument("--port", type=at_least(0), default=5000,
                   help="TCP port to listen on (default 5000)")
    p.add_argument("--workers", type=at_least(1), default=1,
                   help="worker processes serving the store (default 1)")
    p.add_argument("--log-level", default="info",
                   choices=("critical", "error", "warning", "info", "debug"),
                   help="server log level (default info)")
    p.set_defaults(func=cmd_server)
