"""``lakeml registry …``: the model registry from the command line.

Who acts is LAKEML_USER (or the OS user); the permissions file in force
(LAKEML_PERMISSIONS or conf ``permissions``) decides what they may do.
"""

from __future__ import annotations

import argparse
from typing import Any

from lakeml.cli.args import client as _client
from lakeml.cli.args import key_values
from lakeml.cli.format import ms_to_iso, render

_VERSION_COLUMNS = ["name", "version", "current_stage", "aliases", "run_id", "user_id",
                    "created", "description", "storage_location"]


def _version_rows(versions: list[Any]) -> list[tuple]:
    return [(v.name, v.version, v.current_stage, ",".join(v.aliases), v.run_id, v.user_id,
             ms_to_iso(v.creation_timestamp), v.description, v.storage_location)
            for v in versions]


def _request_rows(requests: list[Any]) -> tuple[list[str], list[tuple]]:
    columns = ["request_id", "name", "version", "stage", "status", "requested_by",
               "requested_at", "comment", "resolved_by", "resolution_comment"]
    return columns, [(r.request_id, r.name, r.version, r.stage, r.status, r.requested_by,
                      ms_to_iso(r.requested_at), r.comment, r.resolved_by,
                      r.resolution_comment) for r in requests]


def cmd_list(args: argparse.Namespace) -> str:
    models = _client(args, read=True).search_registered_models(args.filter,
                                                                max_results=args.max_results)
    rows = [(m.name, ", ".join(f"{v.current_stage}:{v.version}" for v in m.latest_versions),
             ", ".join(f"{a}:{n}" for a, n in m.aliases.items()),
             ms_to_iso(m.last_updated_timestamp), m.description) for m in models]
    return render(["name", "latest_versions", "aliases", "last_updated", "description"], rows,
                  args.format)


def cmd_show(args: argparse.Namespace) -> str:
    client = _client(args, read=True)
    if args.version is not None:
        versions = [client.get_model_version(args.name, args.version)]
    else:
        versions = client.list_model_versions(args.name)
    return render(_VERSION_COLUMNS, _version_rows(versions), args.format)


def cmd_register(args: argparse.Namespace) -> str:
    tags = key_values(args.tag, "--tag", "tags")
    mv = _client(args).register_model(args.model_uri, args.name, tags=tags)
    return render(_VERSION_COLUMNS, _version_rows([mv]), args.format)


def cmd_transition(args: argparse.Namespace) -> str:
    mv = _client(args).transition_model_version_stage(
        args.name, args.version, args.stage, archive_existing_versions=args.archive_existing,
        comment=args.comment)
    return render(_VERSION_COLUMNS, _version_rows([mv]), args.format)


def cmd_request(args: argparse.Namespace) -> str:
    req = _client(args).request_transition(args.name, args.version, args.stage, args.comment)
    return render(*_request_rows([req]), args.format)


def cmd_requests(args: argparse.Namespace) -> str:
    status = None if args.status == "ALL" else args.status
    found = _client(args, read=True).get_transition_requests(args.name, args.version, status)
    return render(*_request_rows(found), args.format)


def cmd_resolve(args: argparse.Namespace) -> str:
    client = _client(args)
    if args.action == "approve":
        req = client.approve_transition_request(args.name, args.version, args.stage,
                                                args.comment, args.archive_existing)
    elif args.action == "reject":
        req = client.reject_transition_request(args.name, args.version, args.stage,
                                               args.comment)
    else:
        req = client.cancel_transition_request(args.name, args.version, args.stage,
                                               args.comment)
    return render(*_request_rows([req]), args.format)


def cmd_alias(args: argparse.Namespace) -> str:
    from lakeml.errors import InvalidArgument

    client = _client(args)
    if args.delete:
        client.delete_registered_model_alias(args.name, args.alias)
        return render(["name", "alias", "version"], [(args.name, args.alias, None)], args.format)
    if args.version is None:
        raise InvalidArgument("give the VERSION the alias points at, or --delete")
    client.set_registered_model_alias(args.name, args.alias, args.version)
    return render(["name", "alias", "version"], [(args.name, args.alias, int(args.version))],
                  args.format)


def cmd_comment(args: argparse.Namespace) -> str:
    c = _client(args).create_comment(args.name, args.version, args.text)
    return render(["comment_id", "name", "version", "user_id", "comment"],
                  [(c.comment_id, c.name, c.version, c.user_id, c.comment)], args.format)


def cmd_events(args: argparse.Namespace) -> str:
    # every model that ever had the name: its events from before a rename included
    where, params = (("WHERE model_id IN (SELECT model_id FROM registry_events WHERE name = ?)",
                      [args.name]) if args.name else ("", []))
    columns = ["timestamp", "user_id", "action", "outcome", "name", "version", "key",
               "from_value", "to_value", "comment"]
    rows = _client(args, read=True).sql(
        f"SELECT strftime(timestamp, '%Y-%m-%d %H:%M:%S'), {', '.join(columns[1:])} "
        f"FROM registry_events {where} ORDER BY seq DESC LIMIT ?",
        [*params, args.limit]).fetchall()
    return render(columns, rows, args.format)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``registry`` and its actions to the ``lakeml`` parser."""
    reg = sub.add_parser("registry", help="registered models: versions, stages, aliases, "
                         "review requests, audit")
    actions = reg.add_subparsers(dest="action", metavar="ACTION")
    reg.set_defaults(group_parser=reg)

    p = actions.add_parser("list", parents=[common], help="registered models")
    p.add_argument("--filter", help="e.g. \"name LIKE 'device-%%'\" or \"tags.team = 'risk'\"")
    p.add_argument("--max-results", type=int, default=100)
    p.set_defaults(func=cmd_list)

    p = actions.add_parser("show", parents=[common], help="a model's versions, or one version")
    p.add_argument("name")
    p.add_argument("--version")
    p.set_defaults(func=cmd_show)

    p = actions.add_parser("register", parents=[common],
                           help="register a model URI as the next version of NAME")
    p.add_argument("model_uri", help="runs:/<run_id>/<path>, a folder or a storage URI")
    p.add_argument("name")
    p.add_argument("--tag", action="append", help="key=value (repeatable)")
    p.set_defaults(func=cmd_register)

    def version_args(p: argparse.ArgumentParser, stage: bool = True) -> None:
        p.add_argument("name")
        p.add_argument("version")
        if stage:
            p.add_argument("stage", help="None (Development), Staging, Production or Archived")
        p.add_argument("--comment")

    p = actions.add_parser("transition", parents=[common], help="move a version to a stage")
    version_args(p)
    p.add_argument("--archive-existing", action="store_true",
                   help="archive the other versions in that stage (Staging, Production)")
    p.set_defaults(func=cmd_transition)

    p = actions.add_parser("request", parents=[common], help="request a stage transition")
    version_args(p)
    p.set_defaults(func=cmd_request)

    p = actions.add_parser("requests", parents=[common], help="list transition requests")
    p.add_argument("name", nargs="?")
    p.add_argument("--version")
    p.add_argument("--status", default="PENDING",
                   choices=["PENDING", "APPROVED", "REJECTED", "CANCELLED", "ALL"])
    p.set_defaults(func=cmd_requests)

    for action, text in (("approve", "approve a pending request (performs the transition)"),
                         ("reject", "reject a pending request"),
                         ("cancel", "withdraw your pending request")):
        p = actions.add_parser(action, parents=[common], help=text)
        version_args(p)
        p.add_argument("--archive-existing", action="store_true", help=argparse.SUPPRESS
                       if action != "approve" else "archive the other versions in that stage")
        p.set_defaults(func=cmd_resolve)

    p = actions.add_parser("alias", parents=[common], help="point NAME@ALIAS at VERSION")
    p.add_argument("name")
    p.add_argument("alias")
    p.add_argument("version", nargs="?")
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p.set_defaults(func=cmd_alias)

    p = actions.add_parser("comment", parents=[common], help="comment on a version")
    version_args(p, stage=False)
    p.add_argument("text")
    p.set_defaults(func=cmd_comment)

    p = actions.add_parser("events", parents=[common], help="the audit trail, newest first")
    p.add_argument("name", nargs="?")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=cmd_events)
