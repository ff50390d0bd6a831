"""The UI API of the registry's writes: the review workflow of a model version (request,
approve, reject or cancel a stage transition, with comments), its audit history, and the
markdown descriptions of models and versions; plus who the caller is (``/me``).

Every write calls the registry service, which applies its own rules to the acting user
(LAKEML_PERMISSIONS: who may request, approve or reject which stage, nobody approves their
own request) and records each change, and each refusal, in the audit log.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from lakeml import config
from lakeml.errors import InvalidArgument
from lakeml.query.sqlfiles import query
from lakeml.ui.markdown import Markdown

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_EVENTS = 500
ACTIONS = ("request", "approve", "reject", "cancel")


def me(client: Client, args: Args) -> dict[str, Any]:
    """The acting user, whether an admin of the server and whether one of the registry
    (``registry_admin``: the policy's admin role, or no policy; such a user may cancel
    anyone's transition request); ``signed_in`` is set by the server's guard
    (lakeml/server/ui_access.py) when a user signed in (a server with an auth file)."""
    from lakeml.registry.permissions import current_policy

    user = config.current_user()
    return {"user": user, "admin": config.acting_admin(),
            "registry_admin": current_policy().allows(user, "admin"), "signed_in": False}


def transition(client: Client, args: Args) -> dict[str, Any]:
    """``action`` (request, approve, reject or cancel) a transition of version ``version``
    of model ``name`` into ``stage``, with an optional ``comment``."""
    action = args.need("action")
    name, version, stage = args.need("name"), args.need("version"), args.need("stage")
    comment = args.get("comment") or None
    if action == "request":
        made = client.request_transition(name, version, stage, comment=comment)
    elif action == "approve":
        made = client.approve_transition_request(
            name, version, stage, comment=comment,
            archive_existing_versions=args.flag("archive_existing_versions"))
    elif action == "reject":
        made = client.reject_transition_request(name, version, stage, comment=comment)
    elif action == "cancel":
        made = client.cancel_transition_request(name, version, stage, comment=comment)
    else:
        raise InvalidArgument(f"action must be one of {', '.join(ACTIONS)}, got {action!r:.40}")
    return {"request": asdict(made)}


def comment(client: Client, args: Args) -> dict[str, Any]:
    """Comment on a model version."""
    made = client.create_comment(args.need("name"), args.need("version"), args.need("comment"))
    return {"comment": asdict(made)}


def events(client: Client, args: Args) -> dict[str, Any]:
    """The version's audit history, newest first (sql/queries/ui_version_events.sql)."""
    name = args.need("name")
    version = client.get_model_version(name, args.need("version")).version
    rel = client.sql(query("ui_version_events"), {
        "name": name, "version": version,
        "max_results": args.int("max_results", MAX_EVENTS, low=1, high=10_000)})
    columns = rel.columns
    return {"events": [dict(zip(columns, row)) for row in rel.fetchall()]}


def model_description(client: Client, args: Args) -> dict[str, Any]:
    """Replace model ``name``'s description; returns it rendered."""
    m = client.update_registered_model(args.need("name"), args.get("description") or "")
    return {"description": m.description, "description_html": Markdown(m.description)}


def version_description(client: Client, args: Args) -> dict[str, Any]:
    """Replace the description of version ``version`` of model ``name``."""
    v = client.update_model_version(args.need("name"), args.need("version"),
                                    args.get("description") or "")
    return {"description": v.description, "description_html": Markdown(v.description)}


ROUTES = {"/review/transition": transition, "/review/comment": comment,
          "/model/description": model_description,
          "/model-version/description": version_description}
READ_ROUTES = {"/me": me, "/model-version/events": events}
