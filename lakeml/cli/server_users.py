"""``lakeml server users ...`` and ``lakeml server permissions ...``: the admin CLI of the
tracking server's auth file (lakeml/server/users.py).

They write the file the server reads (``--auth-file``, or LAKEML_SERVER_AUTH_FILE); a
running server sees each change at its next request. Passwords are read from the terminal
without echo, or from stdin with ``--password-stdin`` (one line), never from the command
line, where other users of the machine could see them. A new API token is printed once.
"""

from __future__ import annotations

import argparse
import sys

from lakeml.errors import InvalidArgument

KIND_WORDS = {"experiment": "experiment", "model": "registered_model",
              "registered-model": "registered_model"}


def _auth_file(args: argparse.Namespace):  # noqa: ANN202 - lakeml.server.users.AuthFile
    from lakeml import config
    from lakeml.server.users import AuthFile

    path = args.auth_file or config.get("server_auth_file")
    if not path:
        raise InvalidArgument("give --auth-file FILE (or set LAKEML_SERVER_AUTH_FILE)")
    return AuthFile(path)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise InvalidArgument("the two passwords differ")
    return first


def cmd_add(args: argparse.Namespace) -> str:
    users = _auth_file(args)
    user = users.add_user(args.name, _password(args), admin=args.admin)
    role = "admin" if user.admin else "user"
    return f"added {role} {user.name!r} to {users.path}"


def cmd_remove(args: argparse.Namespace) -> str:
    users = _auth_file(args)
    users.remove_user(args.name)
    return f"removed user {args.name!r} and their tokens and grants from {users.path}"


def cmd_password(args: argparse.Namespace) -> str:
    users = _auth_file(args)
    users.set_password(args.name, _password(args))
    return f"changed the password of {args.name!r}"


def cmd_admin(args: argparse.Namespace) -> str:
    users = _auth_file(args)
    users.set_admin(args.name, not args.revoke)
    return f"{args.name!r} is {'no longer ' if args.revoke else ''}an admin"


def cmd_token(args: argparse.Namespace) -> str:
    users = _auth_file(args)
    if args.revoke:
        users.revoke_token(args.name, args.revoke)
        return f"revoked token {args.revoke!r} of {args.name!r}"
    token = users.new_token(args.name)
    print(f"new API token of {args.name!r} (shown once; send it as 'Authorization: Bearer "
          "<token>' or MLFLOW_TRACKING_TOKEN):", file=sys.stderr)
    return token


def cmd_list(args: argparse.Namespace) -> str:
    from lakeml.cli.format import render

    users = _auth_file(args)
    rows = [(u["username"], u["id"], u["is_admin"], " ".join(u["tokens"]))
            for u in users.describe()]
    return render(("user", "id", "admin", "token ids"), rows, args.format)


def cmd_grant(args: argparse.Namespace) -> str:
    users = _auth_file(args)
    kind = KIND_WORDS[args.kind]
    if args.permission.upper() in ("NONE", "REMOVE", "DEFAULT"):
        users.revoke(kind, args.key, args.user)
        return f"{args.user!r} now has the default permission on {args.kind} {args.key!r}"
    users.grant(kind, args.key, args.user, args.permission)
    return f"{args.user!r} has {args.permission.upper()} on {args.kind} {args.key!r}"


def cmd_default(args: argparse.Namespace) -> str:
    users = _auth_file(args)
    users.set_default(args.permission)
    return (f"users hold {args.permission.upper()} on experiments and models they were not "
            "granted (creators get MANAGE)")


def cmd_permissions(args: argparse.Namespace) -> str:
    from lakeml.cli.format import render

    data = _auth_file(args).data()
    rows = [("*", "*", "(default)", data["default_permission"])]
    for kind, word in (("experiments", "experiment"), ("registered_models", "model")):
        for key, grants in sorted(data[kind].items()):
            rows += [(word, key, user, level) for user, level in sorted(grants.items())]
    return render(("kind", "key", "user", "permission"), rows, args.format)


def add_parsers(server: argparse.ArgumentParser) -> None:
    """``users`` and ``permissions`` under the ``server`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--auth-file", help="the server's auth file (default: "
                        "LAKEML_SERVER_AUTH_FILE); created by the first `users add`")
    common.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="output format of lists")
    sub = server.add_subparsers(dest="server_group", metavar="{users,permissions}")

    users = sub.add_parser("users", help="add, remove and list users; API tokens")
    users.set_defaults(group_parser=users)
    verbs = users.add_subparsers(dest="users_action", metavar="ACTION")
    p = verbs.add_parser("add", parents=[common], help="add a user (asks for a password)")
    p.add_argument("name")
    p.add_argument("--admin", action="store_true", help="may do everything, manage users")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin (one line) instead of the terminal")
    p.set_defaults(func=cmd_add)
    p = verbs.add_parser("remove", parents=[common], help="remove a user, their tokens and "
                         "grants")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove)
    p = verbs.add_parser("password", parents=[common], help="change a user's password")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true",
                   help="read the password from stdin (one line)")
    p.set_defaults(func=cmd_password)
    p = verbs.add_parser("admin", parents=[common], help="make a user an admin (--revoke: "
                         "no longer)")
    p.add_argument("name")
    p.add_argument("--revoke", action="store_true")
    p.set_defaults(func=cmd_admin)
    p = verbs.add_parser("token", parents=[common], help="make a new API token of a user and "
                         "print it once (--revoke ID: revoke one)")
    p.add_argument("name")
    p.add_argument("--revoke", metavar="TOKEN_ID", help="revoke this token (ids: `users list`)")
    p.set_defaults(func=cmd_token)
    p = verbs.add_parser("list", parents=[common], help="users, admin flags and token ids "
                         "(never a secret)")
    p.set_defaults(func=cmd_list)

    perms = sub.add_parser("permissions", help="grant READ, EDIT, MANAGE or NO_PERMISSIONS "
                           "on experiments and registered models")
    perms.set_defaults(group_parser=perms)
    verbs = perms.add_subparsers(dest="permissions_action", metavar="ACTION")
    p = verbs.add_parser("set", parents=[common], help="give USER a PERMISSION on an "
                         "experiment (by id) or a registered model (by name); DEFAULT takes "
                         "the grant away")
    p.add_argument("kind", choices=sorted(KIND_WORDS))
    p.add_argument("key", help="experiment id or registered model name")
    p.add_argument("user")
    p.add_argument("permission", help="READ, EDIT, MANAGE, NO_PERMISSIONS or DEFAULT")
    p.set_defaults(func=cmd_grant)
    p = verbs.add_parser("default", parents=[common], help="the permission users hold where "
                         "they were granted none (initially READ)")
    p.add_argument("permission", help="READ, EDIT, MANAGE or NO_PERMISSIONS")
    p.set_defaults(func=cmd_default)
    p = verbs.add_parser("list", parents=[common], help="the default and every grant")
    p.set_defaults(func=cmd_permissions)
