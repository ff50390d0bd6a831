"""``/api/2.0/mlflow/transition-requests/...`` and ``comments/create``: the registry's review
workflow over HTTP, at the paths and with the fields of Databricks' MLflow API
(create, approve, reject, delete = cancel, list).

Who may request, approve, reject or cancel is the registry's policy (LAKEML_PERMISSIONS,
lakeml/registry/permissions.py and review.py) applied to the acting user, which on a
server with ``--auth-file`` is the authenticated caller: there the rules are enforced.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from lakeml.server.registry import flag_field, version_field

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.entities.model_version import TransitionRequest
    from lakeml.server.protocol import Fields


def request_json(request: TransitionRequest) -> dict[str, Any]:
    out = {key: value for key, value in asdict(request).items() if value is not None}
    out["version"] = str(request.version)
    return out


def create(client: Client, f: Fields) -> dict[str, Any]:
    request = client.request_transition(f.required_text("name"), version_field(f),
                                        f.required_text("stage"), comment=f.text("comment"))
    return {"request": request_json(request)}


def approve(client: Client, f: Fields) -> dict[str, Any]:
    request = client.approve_transition_request(
        f.required_text("name"), version_field(f), f.required_text("stage"),
        comment=f.text("comment"),
        archive_existing_versions=flag_field(f, "archive_existing_versions"))
    return {"request": request_json(request)}


def reject(client: Client, f: Fields) -> dict[str, Any]:
    request = client.reject_transition_request(f.required_text("name"), version_field(f),
                                               f.required_text("stage"),
                                               comment=f.text("comment"))
    return {"request": request_json(request)}


def cancel(client: Client, f: Fields) -> dict[str, Any]:
    request = client.cancel_transition_request(f.required_text("name"), version_field(f),
                                               f.required_text("stage"),
                                               comment=f.text("comment"))
    return {"request": request_json(request)}


def list_requests(client: Client, f: Fields) -> dict[str, Any]:
    status = f.text("status", "PENDING")
    requests = client.get_transition_requests(
        f.text("name"), f.get("version"), None if status.upper() == "ALL" else status)
    return {"requests": [request_json(r) for r in requests]}


def comment(client: Client, f: Fields) -> dict[str, Any]:
    made = client.create_comment(f.required_text("name"), version_field(f),
                                 f.required_text("comment"))
    return {"comment": {key: value for key, value in asdict(made).items()
                        if value is not None}}


#: (method, path under /api/2.0/mlflow, handler, writes)
ROUTES = (
    ("POST", "/transition-requests/create", create, True),
    ("POST", "/transition-requests/approve", approve, True),
    ("POST", "/transition-requests/reject", reject, True),
    ("DELETE", "/transition-requests/delete", cancel, True),
    ("GET", "/transition-requests/list", list_requests, False),
    ("POST", "/comments/create", comment, True),
)
