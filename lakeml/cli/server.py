"""``lakeml server``: the tracking server, MLflow's REST API 2.0 over the store."""

from __future__ import annotations

import argparse
import os

from lakeml.cli.args import at_least

DESCRIPTION = """Serve the store over HTTP with MLflow's REST API 2.0 (/api/2.0/mlflow/...):
experiments, runs, params, metrics, tags, log-batch, search and metric history. A run's
write is answered once fsync'd in the server's write-ahead journal (--journal) and is in
the store's Delta tables a moment later; a read waits for it. Other writes are answered
once committed to the Delta tables.

Binds 127.0.0.1 unless --host says otherwise. Without --auth-file the server is
anonymous: everyone who reaches it may read and write the store. With --auth-file, callers
sign in with HTTP Basic or an API token, and each experiment and registered model has
MLflow's permissions (READ, EDIT, MANAGE, NO_PERMISSIONS); `lakeml server users ...` and
`lakeml server permissions ...` manage the file."""


def cmd_server(args: argparse.Namespace) -> str:
    import uvicorn

    from lakeml.cli.args import store_uri
    from lakeml.client import Client

    if getattr(args, "server_group", None):  # `lakeml server users` without an action
        return args.group_parser.format_help().rstrip()
    uri = store_uri(args)
    Client(uri).flush()  # a bad store fails here, once, not in every worker
    os.environ["LAKEML_STORE"] = uri  # the workers' app factory reads it
    _server_settings(args)
    uvicorn.run("lakeml.server.app:app_from_environment", factory=True, host=args.host,
                port=args.port, workers=args.workers, log_level=args.log_level,
                # a line per request at info and debug; above, not even built
                access_log=args.log_level in ("info", "debug"),
                # a worker busy with a long commit on a loaded machine is slow, not hung:
                # killing it (uvicorn's default: after 5 s) would drop its requests
                timeout_worker_healthcheck=60)
    return "lakeml server stopped"


def _server_settings(args: argparse.Namespace) -> None:
    """Hand the auth, body-limit and CORS options to the workers (through the environment,
    as the store), checking the auth file once here."""
    if args.auth_file:
        from lakeml.server.users import AuthFile

        users = AuthFile(args.auth_file)
        users.data()  # a missing or broken file fails here, naming it
        os.environ["LAKEML_SERVER_AUTH_FILE"] = str(users.path)
    if args.max_body_mb is not None:
        os.environ["LAKEML_SERVER_MAX_BODY_MB"] = str(args.max_body_mb)
    if args.read_timeout is not None:
        os.environ["LAKEML_SERVER_READ_TIMEOUT"] = str(args.read_timeout)
    if args.cors_origins is not None:
        os.environ["LAKEML_SERVER_CORS_ORIGINS"] = args.cors_origins
    if getattr(args, "journal", None):
        os.environ["LAKEML_SERVER_JOURNAL"] = args.journal
    _allowed_hosts(args)


def _allowed_hosts(args: argparse.Namespace) -> None:
    """--allowed-hosts, else LAKEML_SERVER_ALLOWED_HOSTS, else the default for the address
    the server binds (lakeml/server/hosts.py), handed to the workers."""
    from lakeml import config
    from lakeml.server.hosts import default_allowed_hosts, parse_allowed_hosts

    given = getattr(args, "allowed_hosts", None) or config.get("server_allowed_hosts")
    patterns = parse_allowed_hosts(given) if given else default_allowed_hosts(args.host)
    os.environ["LAKEML_SERVER_ALLOWED_HOSTS"] = ",".join(patterns)


def _positive_number(what: str):  # noqa: ANN202 - an argparse type
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what} > 0")
        return value
    return parse


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
    p.add_argument("--auth-file", help="users, API tokens and permissions (JSON written by "
                   "`lakeml server users add NAME --auth-file FILE`); callers must then "
                   "sign in. Default: LAKEML_SERVER_AUTH_FILE; unset: anonymous access")
    p.add_argument("--max-body-mb", type=_positive_number("MB"), default=None,
                   help="largest request body in MB; larger ones get 413 (default 32, or "
                   "LAKEML_SERVER_MAX_BODY_MB; artifact uploads are streamed, not limited)")
    p.add_argument("--read-timeout", type=_positive_number("seconds"), default=None,
                   help="seconds to wait for each part of a request body before answering "
                   "408 (default 60, or LAKEML_SERVER_READ_TIMEOUT)")
    p.add_argument("--cors-origins", default=None,
                   help="comma-separated origins whose web pages may call the server "
                   "(default: none, CORS off)")
    p.add_argument("--allowed-hosts", default=None,
                   help="comma-separated Host header patterns the server answers to, port "
                   "included, `*` a wildcard (e.g. 'mlflow.corp.example,"
                   "mlflow.corp.example:*'; '*' for any); others get 403, against DNS "
                   "rebinding. Default: LAKEML_SERVER_ALLOWED_HOSTS, else localhost, "
                   "127.0.0.1 and [::1] on any port, plus private networks (10.*, "
                   "172.16-31.*, 192.168.*) and the bound address when --host is not "
                   "loopback")
    p.add_argument("--journal", default=None, metavar="on|DIR|off",
                   help="the write-ahead journal for runs' writes (create, log, update), "
                   "on this machine's disk: such a write is answered once fsync'd there "
                   "and committed to the store within about 1 s, so readers outside the "
                   "server see it then (docs/server-durability.md); several times the "
                   "write throughput under many clients. 'on': in ~/.cache/lakeml/journal/"
                   "<digest of the store URI>; DIR: there; 'off' (the default, or "
                   "LAKEML_SERVER_JOURNAL): every write answered after its Delta commit")
    p.set_defaults(func=cmd_server)
    from lakeml.cli.server_users import add_parsers

    add_parsers(p)
