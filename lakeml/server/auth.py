"""Who is calling the tracking server, and may they: authentication, permissions, limits.

:func:`install` puts one ASGI middleware in front of the app and returns the wrapper that
:func:`lakeml.server.app.build_app` puts around each route's handler.

The middleware (every request):
- refuses a body over ``--max-body-mb`` with 413 (by its Content-Length, or while it
  streams in) and a body that stalls longer than the read timeout with 408;
- with an auth file (``--auth-file``), authenticates the caller by HTTP Basic
  (MLflow's client sends it from MLFLOW_TRACKING_USERNAME / _PASSWORD) or
  ``Authorization: Bearer <token>`` (from MLFLOW_TRACKING_TOKEN), else answers 401
  UNAUTHENTICATED; ``/health`` stays open. Without an auth file every caller is anonymous
  and may do everything (as MLflow's server without its auth app);
- makes the caller the acting user of the request (:func:`lakeml.config.acting_as`), so the
  runs, registry events and the registry's own permissions and review rules
  (LAKEML_PERMISSIONS) see who is calling, not the server's account.

The handler wrapper (in the worker thread, under the app's lock) checks the route's rule in
:data:`RULES`: the permission it needs (READ, EDIT or MANAGE, MLflow's levels) on which
experiment (a run's found through its run id) or registered model. Admins pass. A creator
gets MANAGE on the experiment or model they create; searches leave out what the caller may
not read. A route with no rule is for admins only, so a new route is closed until someone
says what it needs. Every 403 is recorded in the registry's audit log (registry_events,
action ``api_request``, outcome ``denied``); a 401 is only logged, never committed, so
anonymous traffic cannot make the server write.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import BadRequest, PermissionDenied, Unauthenticated
from lakeml.server.users import AuthFile, User, rank

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lakeml.client import Client
    from lakeml.server.protocol import Fields

    Handler = Callable[[Client, Fields], dict[str, Any]]

log = logging.getLogger("lakeml.server")

PUBLIC_PATHS = ("/health",)
#: Uploads through MLflow's artifact proxy are streamed to storage, not read whole: the body
#: limit (meant for JSON calls) does not apply to them.
UNLIMITED_PREFIXES = ("/api/2.0/mlflow-artifacts/",)
DEFAULT_READ_TIMEOUT = 60.0
AUDIT_ACTION = "api_request"


class BodyTooLarge(BadRequest):
    """A request body over the server's limit."""

    http_status = 413


class BodyTimeout(BadRequest):
    """A request body that stopped arriving."""

    http_status = 408


@dataclass(frozen=True)
class Session:
    """The auth file and the authenticated caller of the request being handled."""

    users: AuthFile
    user: User


_session: ContextVar[Session | None] = ContextVar("lakeml_server_session", default=None)


def current_session() -> Session | None:
    """The request's session; None when the server runs without an auth file."""
    return _session.get()


# ---- authentication -------------------------------------------------------------------------
class Authenticator:
    """Checks credentials against an auth file.

    scrypt costs tens of milliseconds by design, and MLflow's client sends its password with
    every call, so a verified (name, password) is remembered under an HMAC with a key of
    this process (never the password itself) while the user's stored hash is unchanged.
    """

    def __init__(self, users: AuthFile, size: int = 1024) -> None:
        self.users = users
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[bytes, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> User:
        """The user an Authorization header names; Unauthenticated if none or wrong."""
        if not authorization:
            raise Unauthenticated("authentication required: send HTTP Basic credentials "
                                  "(MLFLOW_TRACKING_USERNAME/PASSWORD) or a Bearer token "
                                  "(MLFLOW_TRACKING_TOKEN)")
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            user = self.users.check_token(value.strip())
            if user is None:
                raise Unauthenticated("invalid or revoked API token")
            return user
        if scheme == "basic":
            try:
                name, sep, password = base64.b64decode(value.strip(), validate=True
                                                       ).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                name, sep, password = "", "", ""
            if not sep:
                raise Unauthenticated("malformed HTTP Basic credentials")
            user = self._basic(name, password)
            if user is None:
                raise Unauthenticated("wrong user name or password")
            return user
        raise Unauthenticated(f"unsupported authorization scheme {scheme[:20]!r}: use Basic "
                              "or Bearer")

    def _basic(self, name: str, password: str) -> User | None:
        stored = self.users.stored_password(name)
        key = hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            known = self._seen.get(key)
        if known is not None and stored is not None and hmac.compare_digest(known, stored):
            return self.users.user(name)
        user = self.users.check_password(name, password)
        if user is not None and stored is not None:
            with self._lock:
                self._seen[key] = stored
                while len(self._seen) > self._size:
                    self._seen.popitem(last=False)
        return user


# ---- the middleware -------------------------------------------------------------------------
class Gate:
    """Pure ASGI middleware: body limit, read timeout, authentication, acting user."""

    def __init__(self, app: Any, *, auth: Authenticator | None, max_body: int,
                 read_timeout: float) -> None:
        self.app = app
        self.auth = auth
        self.max_body = max_body
        self.read_timeout = read_timeout

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool

        from lakeml.config import acting_as

        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        limited = not path.startswith(UNLIMITED_PREFIXES)
        length = headers.get("content-length", "")
        if limited and length.isdigit() and int(length) > self.max_body:
            await _reply(send, BodyTooLarge(self._too_large()))
            return
        receive = self._guarded_receive(receive, limited)
        if self.auth is None or path in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            user = await run_in_threadpool(self.auth.authenticate,
                                           headers.get("authorization"))
        except Unauthenticated as exc:
            client = scope.get("client") or ("?", 0)
            log.warning("401 %s %s from %s: %s", scope.get("method"), path, client[0],
                        exc.message)
            await _reply(send, exc, {"www-authenticate": 'Basic realm="lakeml"'})
            return
        except Exception:  # noqa: BLE001 - a broken auth file: say nothing of it to callers
            log.exception("authentication failed on the server's side")
            await _reply(send, Unauthenticated("the server cannot check credentials now "
                                               "(see its log)"))
            return
        token = _session.set(Session(self.auth.users, user))
        try:
            with acting_as(user.name):
                await self.app(scope, receive, send)
        finally:
            _session.reset(token)

    def _too_large(self) -> str:
        return (f"request body over the server's limit of {self.max_body} bytes "
                "(lakeml server --max-body-mb)")

    def _guarded_receive(self, receive: Any, limited: bool) -> Any:
        seen = 0

        async def guarded() -> dict:
            nonlocal seen
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except asyncio.TimeoutError:
                raise BodyTimeout(f"request body not received within {self.read_timeout:g} "
                                  "s") from None
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if limited and seen > self.max_body:
                    raise BodyTooLarge(self._too_large())
            return message

        return guarded


async def _reply(send: Any, exc: Any, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error_code": exc.error_code, "message": exc.message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.http_status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, *, auth_file: str | None = None, max_body_mb: float | None = None,
            cors_origins: str | None = None,
            read_timeout: float = DEFAULT_READ_TIMEOUT) -> Callable[[str, str, Handler], Handler]:
    """Put the gate (and CORS, when origins are given) in front of ``app``; the arguments
    default to the server settings (LAKEML_SERVER_AUTH_FILE, _MAX_BODY_MB, _CORS_ORIGINS).
    Returns the wrapper for each route's handler: ``guard(method, path, handler)``."""
    from lakeml import config

    auth_file = auth_file or config.get("server_auth_file")
    max_body = int((max_body_mb or config.get("server_max_body_mb")) * 1_000_000)
    origins = cors_origins if cors_origins is not None else config.get("server_cors_origins")
    auth = None
    if auth_file:
        users = AuthFile(auth_file)
        users.data()  # a missing or broken file fails the start, naming it
        auth = Authenticator(users)
    app.add_middleware(Gate, auth=auth, max_body=max_body, read_timeout=read_timeout)
    allowed = [o.strip() for o in (origins or "").split(",") if o.strip()]
    if allowed:  # added last: outermost, so a preflight is answered before the gate
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=allowed,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    return guard


# ---- permissions ----------------------------------------------------------------------------
def guard(method: str, path: str, handler: Handler) -> Handler:
    """``handler`` checked against the route's rule when the request has a session."""
    from lakeml.server.rules import RULES

    rule = RULES.get((method, path))

    def guarded(client: Client, f: Fields) -> dict[str, Any]:
        session = _session.get()
        if session is None:
            return handler(client, f)
        if rule is None:
            if not session.user.admin:
                deny(client, session, f"{method} {path}", "route", path, "none", "admin",
                     f"user {session.user.name!r} may not call {method} {path}: it has no "
                     "permission rule, so only admins may")
            return handler(client, f)
        return rule.apply(f"{method} {path}", handler, client, f, session)

    guarded.__name__ = handler.__name__
    return guarded


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
         f"has {held}")


def may_read(session: Session, kind: str, key: str) -> bool:
    return (session.user.admin
            or rank(session.users.permission(session.user.name, kind, key)) >= rank("READ"))


def deny(client: Client, session: Session, route: str, kind: str, key: str, held: str,
         need: str, message: str, run_id: str | None = None) -> None:
    """Record the denial in the registry's audit log, then raise PermissionDenied."""
    record = getattr(client.registry, "record_denied", None)
    if record is not None:
        record(AUDIT_ACTION, message, name=key if kind == "registered_model" else None,
               key=route, value=f"{kind} {key}", from_value=held, to_value=need,
               run_id=run_id)
    log.warning("403 %s by %s: %s", route, session.user.name, message)
    raise PermissionDenied(message)
