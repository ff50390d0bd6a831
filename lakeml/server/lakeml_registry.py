"""The registry's part of lakeml's REST extensions (``/api/2.0/lakeml/...``).

Review (transition requests: create, approve, reject, cancel, list; comments), the
audit trail (``registry/events``: every change and every denial, newest first),
registering a ``runs:/`` or ``models:/`` URI in one call, every version of a model,
bulk registration (the rows as a base64 Arrow stream in ``arrow``), permission checks,
and the registry as of a past time (``registry/as-of``: one read call of the past
registry, by name). Registered in the app by lakeml_api.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.server.registry import (
    flag_field,
    model_version_json,
    registered_model_json,
    version_field,
)

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.entities import Comment, TransitionRequest
    from lakeml.server.protocol import Fields


def request_json(r: TransitionRequest) -> dict[str, Any]:
    out = {"request_id": r.request_id, "name": r.name, "version": str(r.version),
           "stage": r.stage, "requested_by": r.requested_by, "requested_at": r.requested_at,
           "comment": r.comment, "status": r.status, "resolved_by": r.resolved_by,
           "resolved_at": r.resolved_at, "resolution_comment": r.resolution_comment}
    return {k: v for k, v in out.items() if v is not None}


def comment_json(c: Comment) -> dict[str, Any]:
    out = {"comment_id": c.comment_id, "name": c.name, "version": str(c.version),
           "comment": c.comment, "user_id": c.user_id, "timestamp": c.timestamp}
    return {k: v for k, v in out.items() if v is not None}


# ---- review ---------------------------------------------------------------------------------
def request_transition(client: Client, f: Fields) -> dict[str, Any]:
    return {"request": request_json(client.request_transition(
        f.required_text("name"), version_field(f), f.required_text("stage"),
        f.text("comment")))}


def approve(client: Client, f: Fields) -> dict[str, Any]:
    return {"request": request_json(client.approve_transition_request(
        f.required_text("name"), version_field(f), f.required_text("stage"),
        f.text("comment"), archive_existing_versions=flag_field(f, "archive_existing_versions")))}


def reject(client: Client, f: Fields) -> dict[str, Any]:
    return {"request": request_json(client.reject_transition_request(
        f.required_text("name"), version_field(f), f.required_text("stage"),
        f.text("comment")))}


def cancel(client: Client, f: Fields) -> dict[str, Any]:
    return {"request": request_json(client.cancel_transition_request(
        f.required_text("name"), version_field(f), f.required_text("stage"),
        f.text("comment")))}


def list_requests(client: Client, f: Fields) -> dict[str, Any]:
    return {"requests": [request_json(r) for r in _past(client, f).get_transition_requests(
        f.text("name"), f.get("version"),
        None if flag_field(f, "any_status") else f.get("status", "PENDING"))]}


def create_comment(client: Client, f: Fields) -> dict[str, Any]:
    return {"comment": comment_json(client.create_comment(
        f.required_text("name"), version_field(f), f.required("comment")))}


def list_comments(client: Client, f: Fields) -> dict[str, Any]:
    return {"comments": [comment_json(c) for c in _past(client, f).get_comments(
        f.required_text("name"), version_field(f))]}


# ---- versions, audit, permissions -----------------------------------------------------------
def list_versions(client: Client, f: Fields) -> dict[str, Any]:
    return {"model_versions": [model_version_json(mv) | {"storage_location": mv.storage_location}
                               for mv in _past(client, f).list_model_versions(
                                   f.required_text("name"))]}


def register(client: Client, f: Fields) -> dict[str, Any]:
    tags = dict(f.key_values("tags"))
    mv = client.register_model(f.required_text("model_uri"), f.required_text("name"),
                               tags=tags or None)
    return {"model_version": model_version_json(mv) | {"storage_location": mv.storage_location}}


EVENT_COLUMNS = ("seq", "timestamp", "user_id", "action", "outcome", "name", "version", "key",
                 "from_value", "to_value", "comment")


def events(client: Client, f: Fields) -> dict[str, Any]:
    """The audit trail, newest first; of every model that ever had ``name`` if given."""
    limit = f.integer("max_results", 50)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise InvalidArgument(f"max_results must be an integer from 1 to 100000, got "
                              f"{limit!r:.80}")
    name = f.text("name")
    where, params = (("WHERE model_id IN (SELECT model_id FROM registry_events WHERE name = ?)",
                      [name]) if name else ("", []))
    rows = client.sql(
        f"SELECT {', '.join(EVENT_COLUMNS[:1])}, epoch_ms(timestamp), "
        f"{', '.join(EVENT_COLUMNS[2:])} FROM registry_events {where} "
        "ORDER BY seq DESC LIMIT ?", [*params, limit]).fetchall()
    return {"events": [dict(zip(EVENT_COLUMNS, row)) for row in rows]}


def require(client: Client, f: Fields) -> dict[str, Any]:
    client.require(f.required_text("capability"), f.required_text("action"),
                   f.required_text("name"))
    return {}


# ---- the registry as of a past time ---------------------------------------------------------
def _past(client: Client, f: Fields) -> Any:
    """The registry now, or as of ``as_of`` when a request carries it."""
    as_of = f.get("as_of")
    return client.registry if as_of is None else client.registry_as_of(as_of)


#: The read calls of a past registry, by name: (how to call it, how to write the answer).
_PAST_READS: dict[str, Any] = {
    "get_registered_model": lambda r, a: {"registered_model": registered_model_json(
        r.get_registered_model(a["name"]))},
    "get_model_version_by_alias": lambda r, a: {"model_version": model_version_json(
        r.get_model_version_by_alias(a["name"], a["alias"]))},
    "get_model_version": lambda r, a: {"model_version": model_version_json(
        r.get_model_version(a["name"], a["version"]))},
    "get_latest_versions": lambda r, a: {"model_versions": [
        model_version_json(mv) for mv in r.get_latest_versions(a["name"], a.get("stages"))]},
    "get_model_version_download_uri": lambda r, a: {
        "artifact_uri": r.get_model_version_download_uri(a["name"], a["version"])},
    "search_model_versions": lambda r, a: _page("model_versions", model_version_json,
                                                r.search_model_versions(
        a.get("filter"), a.get("max_results", 10_000), a.get("order_by"),
        a.get("page_token"))),
    "search_registered_models": lambda r, a: _page("registered_models", registered_model_json,
                                                   r.search_registered_models(
        a.get("filter"), a.get("max_results", 100), a.get("order_by"),
        a.get("page_token"))),
}


_PAST_LISTS: dict[str, Any] = {"list_model_versions": list_versions,
                               "get_transition_requests": list_requests,
                               "get_comments": list_comments}


def _page(key: str, to_json: Any, found: Any) -> dict[str, Any]:
    out: dict[str, Any] = {key: [to_json(item) for item in found]}
    if found.token:
        out["next_page_token"] = found.token
    return out


def as_of(client: Client, f: Fields) -> dict[str, Any]:
    """One read call of the registry as of ``as_of``: ``call`` names it, ``args`` holds
    its arguments (the fields of the call's route); ``check`` only checks ``as_of``."""
    from lakeml.server.protocol import Fields

    call = f.required_text("call")
    past = client.registry_as_of(f.get("as_of"))
    if call == "check":
        return {}
    args = f.get("args", {})
    if not isinstance(args, dict):
        raise InvalidArgument(f"parameter 'args' must be an object, got {args!r:.80}")
    listed = _PAST_LISTS.get(call)
    if listed is not None:  # their routes read the past registry themselves
        return listed(client, Fields({**args, "as_of": f.get("as_of")}))
    read = _PAST_READS.get(call)
    if read is None:
        valid = sorted([*_PAST_READS, *_PAST_LISTS])
        raise InvalidArgument(f"call {call!r} is not a read of the registry; valid: {valid}")
    try:
        return read(past, args)
    except KeyError as exc:
        raise InvalidArgument(f"Missing value for required parameter {exc}") from None


# ---- bulk registration --------------------------------------------------------------------
def register_many(client: Client, f: Fields) -> dict[str, Any]:
    from lakeml.rest.http import arrow_field

    return {"count": client.register_model_versions(arrow_field(f.get("arrow")))}


#: (method, path under /api/2.0/lakeml, handler, writes)
ROUTES = (
    ("POST", "/transition-requests/create", request_transition, True),
    ("POST", "/transition-requests/approve", approve, True),
    ("POST", "/transition-requests/reject", reject, True),
    ("POST", "/transition-requests/cancel", cancel, True),
    ("GET", "/transition-requests/list", list_requests, False),
    ("POST", "/comments/create", create_comment, True),
    ("GET", "/comments/list", list_comments, False),
    ("GET", "/model-versions/list", list_versions, False),
    ("POST", "/registered-models/register", register, True),
    ("GET", "/registry/events", events, False),
    ("POST", "/registry/require", require, True),
    ("POST", "/registry/as-of", as_of, False),
    ("POST", "/model-versions/register-many", register_many, True),
)

