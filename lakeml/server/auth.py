"""Who is calling the tracking server, and may they: authentication, permissions, limits.

:func:`install` puts one ASGI middleware in front of the app and returns the wrapper that
:func:`lakeml.server.app.build_app` puts around each route's handler.

The middleware (every request):
- with an auth file (``--auth-file``), authenticates the caller by HTTP Basic
  (MLflow's client sends it from MLFLOW_TRACKING_USERNAME / _PASSWORD) or
  ``Authorization: Bearer <token>`` (from MLFLOW_TRACKING_TOKEN), else answers 401
  UNAUTHENTICATED before reading the body; ``/health`` and MLflow 3's ``server-info``
  stay open (PUBLIC_PATHS). Without an auth file
  every caller is anonymous and may do everything (as MLflow's server without its auth
  app);
- reads the body before any handler runs: one over ``--max-body-mb`` gets 413 (by its
  Content-Length, or once it has streamed past the limit), one that stalls longer than the
  read timeout 408 (uploads through the artifact proxy are streamed on, not read here);
- makes the caller the acting user of the request (:func:`lakeml.config.acting_as`), so the
  runs, registry events and the registry's own permissions and review rules
  (LAKEML_PERMISSIONS) see who is calling, not the server's account.

The handler wrapper (rules.py: in the worker thread, under the app's lock) checks the
route's rule: the permission it needs (READ, EDIT or MANAGE, MLflow's levels) on which
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
import sys
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import Unauthenticated
from lakeml.server.access import SESSION, Session
from lakeml.server.users import AuthFile, User

if TYPE_CHECKING:
    from fastapi import FastAPI

    from lakeml.client import Client
    from lakeml.server.protocol import Fields

    Handler = Callable[[Client, Fields], dict[str, Any]]

log = logging.getLogger("lakeml.server")

#: MLflow 3's clients ask it how the server is set up, before they sign in
SERVER_INFO = "/api/3.0/mlflow/server-info"
# open, as in MLflow: a load balancer's check, and what a client asks before signing in
# (/version is not: it would tell anyone which release to attack)
PUBLIC_PATHS = ("/health", SERVER_INFO)
#: Uploads through MLflow's artifact proxy are streamed to storage, not read whole: the body
#: limit (meant for JSON calls) does not apply to them.
UNLIMITED_PREFIXES = ("/api/2.0/mlflow-artifacts/",)
# (the web UI's JSON API, /ajax-api/, checks each route's permissions: ui_access.py)


class _Refused(Exception):
    """A request the gate answers itself: its status, MLflow error code and message. (Not a
    LakemlError: MLflow has no error code of its own for 413 and 408.)"""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


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
        # at most two scrypt checks at a time per worker: a flood of wrong passwords queues
        # here instead of taking every thread and core
        self._hashing = threading.BoundedSemaphore(2)

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
        # (the scheme is not echoed: a bare token sent without one would land in the log)
        raise Unauthenticated("unsupported Authorization header: use Basic or Bearer")

    def _basic(self, name: str, password: str) -> User | None:
        stored = self.users.stored_password(name)
        key = hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            known = self._seen.get(key)
        if known is not None and stored is not None and hmac.compare_digest(known, stored):
            return self.users.user(name)
        with self._hashing:
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
        from lakeml.config import acting_as

        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        if _cross_site_form(scope, path, headers):
            # a body that is not JSON on a JSON route: what a browser sends cross-site
            # without asking (text/plain, forms); MLflow's server refuses it too
            await _reply(send, 415, "BAD_REQUEST",
                         f"{scope.get('method')} {path} takes a JSON body: send "
                         f"Content-Type: application/json (got "
                         f"{headers.get('content-type') or 'none'!r})")
            return
        user = None
        if self.auth is not None and path not in PUBLIC_PATHS:
            # who first (from the headers alone): an unknown caller's body is never read
            user = await self._authenticate(scope, path, headers, send)
            if user is None:
                return
        try:
            if not path.startswith(UNLIMITED_PREFIXES):
                receive = await self._read_body(receive, headers.get("content-length", ""))
        except _Refused as refused:
            await _reply(send, refused.status, refused.code, refused.message)
            return
        if user is None:
            await self.app(scope, receive, send)
            return
        token = SESSION.set(Session(self.auth.users, user))
        try:
            with acting_as(user.name, admin=user.admin):
                await self.app(scope, receive, send)
        finally:
            SESSION.reset(token)

    async def _authenticate(self, scope: dict, path: str, headers: dict[str, str],
                            send: Any) -> User | None:
        """The caller; None once a 401 (or a 500, if the auth file broke) has been sent."""
        from starlette.concurrency import run_in_threadpool

        try:
            return await run_in_threadpool(self.auth.authenticate,
                                           headers.get("authorization"))
        except Unauthenticated as exc:
            client = scope.get("client") or ("?", 0)
            log.warning("401 %s %s from %s: %s", scope.get("method"), path, client[0],
                        exc.message)
            await _reply(send, exc.http_status, exc.error_code, exc.message,
                         {"www-authenticate": 'Basic realm="lakeml"'})
        except Exception:  # noqa: BLE001 - a broken auth file: say nothing of it to callers
            log.exception("authentication failed on the server's side")
            await _reply(send, 500, "INTERNAL_ERROR", "internal server error (see the "
                         "server's log)")
        return None

    async def _read_body(self, receive: Any, length: str) -> Any:
        """Read the whole body (at most the limit, each part within the read timeout) and
        return a ``receive`` that hands it to the app; _Refused (413, 408) otherwise.

        The JSON routes read their whole body anyway; reading it here lets the gate answer
        before any handler runs.
        """
        too_large = _Refused(413, "BAD_REQUEST", f"request body over the server's limit of "
                             f"{self.max_body} bytes (lakeml server --max-body-mb)")
        if length.isdigit() and int(length) > self.max_body:
            raise too_large
        parts, seen, more = [], 0, True
        while more:
            try:
                message = await _within(receive(), self.read_timeout)
            except asyncio.TimeoutError:
                raise _Refused(408, "BAD_REQUEST", "request body not received within "
                               f"{self.read_timeout:g} s") from None
            if message["type"] != "http.request":  # the client went away: let the app see it
                return _replay([message], receive)
            parts.append(message.get("body", b""))
            seen += len(parts[-1])
            if seen > self.max_body:
                raise too_large
            more = message.get("more_body", False)
        return _replay([{"type": "http.request", "body": b"".join(parts),
                         "more_body": False}], receive)


async def _within(waited: Any, seconds: float) -> Any:
    """``await waited``, TimeoutError after ``seconds``; without a task of its own where
    asyncio can (3.11: ``asyncio.timeout``; wait_for makes a task, per body part)."""
    if sys.version_info < (3, 11):
        return await asyncio.wait_for(waited, seconds)
    async with asyncio.timeout(seconds):
        return await waited


JSON_ROUTES = ("/api/", "/ajax-api/")
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _cross_site_form(scope: dict, path: str, headers: dict[str, str]) -> bool:
    """Whether a request with a body reaches a JSON route without saying it is JSON. A
    page on another site may POST text/plain or a form to 127.0.0.1 without the browser
    asking first (CORS "simple" requests); requiring application/json makes the browser
    ask, and CORS is off unless configured. The artifact proxy takes raw bytes (PUT, which
    a browser never sends cross-site without asking)."""
    if scope.get("method") not in _BODY_METHODS or not path.startswith(JSON_ROUTES):
        return False
    if path.startswith(UNLIMITED_PREFIXES):
        return False
    length = headers.get("content-length", "")
    if not headers.get("transfer-encoding") and length in ("", "0"):
        return False  # no body: DELETE and POST with query parameters
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind != "application/json"


def _replay(messages: list[dict], receive: Any) -> Any:
    """A ``receive`` that gives ``messages`` first, then waits on the real one (for the
    client's disconnect)."""
    pending = list(messages)

    async def replay() -> dict:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _reply(send: Any, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
    """MLflow's error body, sent by the gate itself."""
    body = json.dumps({"error_code": code, "message": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, *, auth_file: str | None = None, max_body_mb: float | None = None,
            cors_origins: str | None = None, read_timeout: float | None = None
            ) -> Callable[[str, str, Handler], Handler]:
    """Put the gate (and CORS, when origins are given, and the allowed-hosts check of
    hosts.py) in front of ``app``; the arguments default to the server settings
    (LAKEML_SERVER_AUTH_FILE, _MAX_BODY_MB, _CORS_ORIGINS, _READ_TIMEOUT, _ALLOWED_HOSTS).
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
    app.add_middleware(Gate, auth=auth, max_body=max_body,
                       read_timeout=read_timeout or config.get("server_read_timeout"))
    allowed = [o.strip() for o in (origins or "").split(",") if o.strip()]
    if allowed:  # added last: outermost, so a preflight is answered before the gate
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=allowed,
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    from lakeml.server.hosts import AllowedHosts, default_allowed_hosts, parse_allowed_hosts

    # added last: outermost, so a forged Host is refused before CORS or the gate look at it;
    # unset (an app built without `lakeml server`): this machine's names only
    hosts = config.get("server_allowed_hosts")
    app.add_middleware(AllowedHosts, patterns=parse_allowed_hosts(hosts) if hosts
                       else default_allowed_hosts("127.0.0.1"))
    from lakeml.server.rules import guard

    return guard
