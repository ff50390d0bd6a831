"""``lakeml sql-server``: the store's views over the PostgreSQL wire protocol, for BI
tools, psql, JDBC and any PostgreSQL driver; ``--add-user`` writes the auth file."""

from __future__ import annotations

import argparse
import os
import sys

from lakeml.cli.args import at_least

DESCRIPTION = """Serve the store's current-state views (runs, experiments, params, metrics,
latest_metrics, tags, inputs, runs_wide, registered_models, model_versions,
registry_events…) read-only over the PostgreSQL wire protocol: connect Tableau,
Power BI, Superset, Metabase, Grafana, DBeaver, psql or any PostgreSQL driver to
HOST:PORT (any database name).

Without --auth-file every client is trusted, which is allowed only on a loopback
--host. With it, clients log in with a password checked by SCRAM-SHA-256; add users
with `lakeml sql-server --auth-file FILE --add-user NAME` (the password is read from
LAKEML_SQL_PASSWORD, else asked for). --tls-cert and --tls-key (PEM files) give TLS
to the clients that ask for it (sslmode=require); the others stay in the clear, unless
--tls-required refuses them."""


def cmd_sql_server(args: argparse.Namespace) -> str:
    from lakeml.cli.args import client
    from lakeml.errors import InvalidArgument

    if args.add_user:
        if not args.auth_file:
            raise InvalidArgument("--add-user needs --auth-file FILE to write the user into")
        from lakeml.sqlserver.auth import add_user

        add_user(args.auth_file, args.add_user, _password(args.add_user))
        return f"user {args.add_user!r} written to {args.auth_file}"
    from lakeml.sqlserver import SqlServer

    uri = client(args, read=True).store_uri  # a missing store is refused, never created
    server = SqlServer(uri, host=args.host, port=args.port, auth_file=args.auth_file,
                       tls_cert=args.tls_cert, tls_key=args.tls_key,
                       tls_required=args.tls_required)
    host, port = server.start()
    mode = f"users of {args.auth_file}" if args.auth_file else "trust (loopback only)"
    mode += "; TLS only" if server.tls_required else \
        "; TLS for clients that ask" if server.tls is not None else ""
    print(f"lakeml sql-server: serving {uri} on {host}:{port} ({mode}); "
          f"e.g. psql \"host={host} port={port} user=$USER dbname=lakeml\"; Ctrl-C stops",
          file=sys.stderr, flush=True)
    server.serve_forever()
    return "lakeml sql-server stopped"


def _password(user: str) -> str:
    given = os.environ.get("LAKEML_SQL_PASSWORD")
    if given:
        return given
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    import getpass

    from lakeml.errors import InvalidArgument

    first = getpass.getpass(f"password for {user}: ")
    if getpass.getpass("again: ") != first:
        raise InvalidArgument("the two passwords differ")
    return first


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The ``sql-server`` command."""
    p = sub.add_parser("sql-server", help="serve the views read-only over the PostgreSQL "
                       "wire protocol (BI tools, psql, JDBC)", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", help="store URI to serve (default: LAKEML_STORE, "
                   "conf/lakeml.yaml, then ./lakeml-store)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; another needs --auth-file)")
    p.add_argument("--port", type=at_least(0), default=5433,
                   help="TCP port to listen on (default 5433)")
    p.add_argument("--auth-file", help="users and their SCRAM-SHA-256 (or MD5) verifiers, "
                   "one 'name:verifier' a line")
    p.add_argument("--tls-cert", metavar="PEM", help="certificate (with its chain) for TLS; "
                   "clients that ask (sslmode=require) get TLS, with --tls-key")
    p.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    p.add_argument("--tls-required", action="store_true", help="refuse clients that do not "
                   "use TLS (SQLSTATE 28000); needs --tls-cert and --tls-key")
    p.add_argument("--add-user", metavar="NAME",
                   help="write NAME's verifier into --auth-file and exit")
    p.set_defaults(func=cmd_sql_server)
