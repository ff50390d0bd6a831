"""The permission checks of a request on the tracking server: its session (the auth file
and the signed-in caller, set by the gate in auth.py), and the refusals, each recorded in
the registry's audit log (registry_events: action ``api_request``, outcome ``denied``, the
route in ``key``, the resource in ``value``, the levels held and needed in ``from_value``
and ``to_value``) before PermissionDenied is raised.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakeml.errors import PermissionDenied
from lakeml.server.users import AuthFile, User, rank

if TYPE_CHECKING:
    from lakeml.client import Client

log = logging.getLogger("lakeml.server")

AUDIT_ACTION = "api_request"


@dataclass(frozen=True)
class Session:
    """The auth file and the authenticated caller of the request being handled."""

    users: AuthFile
    user: User


SESSION: ContextVar[Session | None] = ContextVar("lakeml_server_session", default=None)


def current_session() -> Session | None:
    """The request's session; None when the server runs without an auth file."""
    return SESSION.get()



def require(client: Client, session: Session, route: str, kind: str, key: str,
            need: str, run_id: str | None = None) -> None:
    """PermissionDenied (recorded) unless the caller holds ``need`` on ``kind`` ``key``."""
    if session.user.admin:
        return
    held = session.users.permission(session.user.name, kind, key)
    if rank(held) >= rank(need):
        return
    label = "experiment" if kind == "experiment" else "registered model"
    deny(client, session, route, kind, key, held, need,
         f"user {session.user.name!r} may not {route} on {label} {key!r}: needs {need}, "
         f"has {held}", run_id)


def may_read(session: Session, kind: str, key: str) -> bool:
    return (session.user.admin
            or rank(session.users.permission(session.user.name, kind, key)) >= rank("READ"))


def deny(client: Client, session: Session, route: str, kind: str, key: str, held: str,
         need: str, message: str, run_id: str | None = None) -> None:
    """Record the denial in the registry's audit log, then raise PermissionDenied.

    The server serves a lake store, whose registry service keeps the audit log; a service
    without ``record_denied`` (none today) leaves the denial in the server's log only.
    """
    record = getattr(client.registry, "record_denied", None)
    if record is not None:
        record(AUDIT_ACTION, message, name=key if kind == "registered_model" else None,
               key=route, value=f"{kind} {key}", from_value=held, to_value=need,
               run_id=run_id)
    log.warning("403 %s by %s: %s", route, session.user.name, message)
    raise PermissionDenied(message)
