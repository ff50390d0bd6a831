"""The tracking server's ASGI app: MLflow's REST API 2.0 over a ``lakeml.Client``.

:func:`build_app` makes the app from a Client; the routes are in experiments.py,
runs.py and registry.py, each a table of ``(method, path, handler, writes)``. A handler
takes the Client and the request's :class:`~lakeml.server.protocol.Fields` and returns
the response body.
A handler that writes is answered only after a commit holding its rows succeeded:
acknowledged means durable. Concurrent writes share commits (group_commit.py).

Calls into the Client run one at a time, in a worker thread (the lake services are
built for one process's logging, not for concurrent callers); several ``--workers``
serve one store in parallel.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import LakemlError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    from lakeml.client import Client
    from lakeml.server.journal_writes import JournaledWorker
    from lakeml.server.protocol import Fields

    Handler = Callable[[Client, Fields], dict[str, Any]]

PREFIX = "/api/2.0/mlflow"
log = logging.getLogger("lakeml.server")
#: What /api/3.0/mlflow/server-info answers (auth.SERVER_INFO): MLflow 3's client asks it
#: before some calls (its artifact uploads, its workspace and telemetry code). No multipart
#: or presigned artifact transfers (the proxy streams them), no workspaces, no AI gateway.
SERVER_FEATURES: dict[str, Any] = {
    "store_type": None, "workspaces_enabled": False, "trace_archival_enabled": False,
    "multipart_uploads_enabled": False, "multipart_downloads_enabled": False,
    "presigned_upload_run_id_supported": False, "presigned_upload_model_id_supported": False,
    "features_enabled": {"gateway": False},
}


def build_app(client: Client) -> FastAPI:
    """The app serving ``client``'s store."""
    from fastapi import FastAPI
    from fastapi.responses import PlainTextResponse

    from lakeml.server import (
        auth,
        errors,
        experiments,
        permissions_api,
        permissions_v3,
        registry,
        review,
        runs,
    )
    from lakeml.version import __version__

    app = FastAPI(title="lakeml tracking server", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)
    errors.install(app)
    direct: dict[tuple[str, str], Callable[[Request], Any]] = {}
    app.add_middleware(DirectRoutes, routes=direct)  # added first: inside the gate
    guard = auth.install(app)  # body limit, users and permissions: see auth.py
    lock = threading.Lock()
    # MLflow's calls, and MLflow 3's /api/3.0 permission calls
    for prefix, named, table in ((PREFIX, "", (*runs.ROUTES, *experiments.ROUTES,
                                                *registry.ROUTES, *review.ROUTES,
                                                *permissions_api.ROUTES)),
                                 (permissions_v3.PREFIX, "/3.0", permissions_v3.ROUTES)):
        for method, path, handler, writes in table:
            # a plain Starlette route: the endpoint reads the request itself
            endpoint = _endpoint(client, lock, method, guard(method, path, handler), writes)
            app.add_route(prefix + path, endpoint, methods=[method],
                          name=f"{method} {named}{path}")
            direct[(method, prefix + path)] = endpoint
    from lakeml.server import lakeml_api  # lakeml's extensions, /api/2.0/lakeml/...
    lakeml_api.install(app, client, lock, _endpoint, guard)

    # MLflow's client logging and loading models and artifacts (run_io.py, logged_models.py,
    # artifacts.py); path_fields hands /logged-models/{model_id}'s id to the handler
    from lakeml.server import artifacts, logged_models, run_io
    from lakeml.server.path_fields import path_fields

    for method, path, handler, writes in (*artifacts.ROUTES, *run_io.ROUTES,
                                          *logged_models.ROUTES):
        handler = guard(method, path, handler)
        app.add_route(PREFIX + path,
                      path_fields(_endpoint(client, lock, method, handler, writes)),
                      methods=[method], name=f"{method} {path}")
    artifacts.register(app, client, lock)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "OK"}

    @app.get("/version")
    def version() -> PlainTextResponse:
        return PlainTextResponse(__version__)

    @app.get(auth.SERVER_INFO)
    def server_info() -> dict[str, Any]:
        return SERVER_FEATURES

    # the web UI at /, its JSON API at /ajax-api/lakeml (permissions: ui_access.py)
    from lakeml import ui
    from lakeml.server import ui_access
    from lakeml.server.group_commit import commits_of
    ui.mount(app, client, lock, guard=ui_access.guard, commits=commits_of(client))
    return app


class DirectRoutes:
    """Pure ASGI middleware, inside the gate: a request for one of ``routes`` (by method
    and exact path) goes straight to its endpoint, not through the framework's exception
    middleware and router, which would find the same endpoint (a tracking load is many
    small requests: their walk through the route list was a tenth of a request's cost).
    The endpoints answer every error themselves (``_endpoint``)."""

    def __init__(self, app: Any, *, routes: dict[tuple[str, str], Callable[[Request], Any]]
                 ) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        endpoint = None
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.routes.get((scope["method"], scope["path"]))
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


class FrontDoor:
    """What a worker serves: ``app`` (from :func:`build_app`, complete: middleware added
    later would not be in the chain), with its direct routes (DirectRoutes) entered by a
    chain of the app's own middleware (the allowed hosts, CORS, the gate, as configured),
    not through the framework's outer layers, which cost a tracking load's small requests
    about a tenth of their time on the event loop:
    - its exception middleware: the endpoints answer every error themselves, and an
      error escaping the chain is answered here, in MLflow's shape;
    - its body-size middleware: the gate bounds bodies;
    - its OpenTelemetry middleware: the direct routes make no spans.
    Everything else, and the lifespan, goes to ``app``."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.routes: dict[tuple[str, str], Any] = {}
        chain: Any = app  # (DirectRoutes' way on: never taken for one of its routes)
        for cls, args, kwargs in reversed(app.user_middleware):
            chain = cls(chain, *args, **kwargs)
            if cls is DirectRoutes:
                self.routes = kwargs["routes"]
        self._direct = chain

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("root_path") \
                or (scope["method"], scope["path"]) not in self.routes:
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: dict) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._direct(scope, receive, sending)
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            if started:
                raise  # (the answer is under way: the server cuts the connection)
            from lakeml.server.errors import internal_error_response

            await internal_error_response()(scope, receive, send)


def _endpoint(client: Client, lock: threading.Lock, method: str, handler: Handler,
              writes: bool) -> Callable[[Request], Any]:
    from starlette.concurrency import run_in_threadpool

    from lakeml.server.errors import error_response, internal_error_response
    from lakeml.server.group_commit import commits_of, request_keys
    from lakeml.server.journal_writes import JOURNAL, journal_of
    from lakeml.server.protocol import fields_of_body, fields_of_query

    commits = commits_of(client)
    journal = journal_of(client)  # None: --journal off (every write waits for Delta)

    def call(fields: Fields) -> dict[str, Any]:
        if journal is not None:  # journal_writes.py
            return journal.call(lock, handler, fields, writes, commits)
        if not writes:
            with lock:
                return handler(client, fields)
        with lock:  # buffer the rows (short), then wait for a commit holding them
            mark = commits.mark()
            body = handler(client, fields)
            ticket = commits.ticket()
        commits.wait(ticket, mark, request_keys(fields, body))
        return body

    journaled = journal is not None and writes == JOURNAL

    async def answer(fields: Fields) -> dict[str, Any]:
        """A journaled write on the loop's thread when it can (journal_writes.py's
        on_loop, and the lock free): its rows appended at once, the answer sent after
        the fsync, waited for without a thread. Else, as any request, in a thread."""
        if journaled and journal.on_loop(fields):
            appended = journal.append(lock, handler, fields, blocking=False)
            if appended is not None:
                body, end = appended
                if end is not None:
                    await _synced(journal, lock, end)
                return body
        return await run_in_threadpool(call, fields)

    async def endpoint(request: Request) -> JSONResponse:
        from fastapi.responses import JSONResponse

        try:
            raw = b"" if method == "GET" else await request.body()
            # GET, and a DELETE without a body (MLflow's clients send either), carry
            # their fields as query parameters
            fields = (fields_of_query(request.query_params)
                      if method == "GET" or (method == "DELETE" and not raw.strip())
                      else fields_of_body(raw))
            return JSONResponse(await answer(fields))
        except LakemlError as exc:
            return error_response(exc.error_code, exc.message, exc.http_status)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return internal_error_response()

    endpoint.__name__ = handler.__name__
    return endpoint


class LoopWakeups:
    """Calls handed from another thread to one event loop, many per wake-up of the loop:
    the journal's sync thread settles every request one fsync covered, and one
    ``call_soon_threadsafe`` (one write to the loop's wake-up pipe) for all of them costs
    less than one each."""

    def __init__(self, loop: Any) -> None:
        self._loop = weakref.ref(loop)  # (the map of them is keyed by the loop, weakly)
        self._lock = threading.Lock()
        self._due: list[tuple[Callable[[Any], None], Any]] = []

    def call(self, fn: Callable[[Any], None], arg: Any) -> None:
        """Call ``fn(arg)`` on the loop soon (from any thread)."""
        with self._lock:
            self._due.append((fn, arg))
            if len(self._due) > 1:  # a wake-up is on its way: it calls this one too
                return
        try:
            loop = self._loop()
            if loop is None:
                raise RuntimeError("the event loop is gone")
            loop.call_soon_threadsafe(self._run)
        except RuntimeError:  # the loop is closed: nothing of it waits any more
            with self._lock:
                self._due.clear()
            raise

    def _run(self) -> None:
        with self._lock:
            due, self._due = self._due, []
        for fn, arg in due:
            try:
                fn(arg)
            except Exception:  # noqa: BLE001 - one call's failure is not the others'
                log.exception("a call handed to the event loop failed")


_wakeups: weakref.WeakKeyDictionary[Any, LoopWakeups] = weakref.WeakKeyDictionary()


async def _synced(journal: JournaledWorker, lock: threading.Lock, end: int) -> None:
    """Wait, without a thread, until the journal is fsync'd up to ``end``; if the fsync
    fails, the request fails (its rows forgotten: JournaledWorker.sync_failed)."""
    import asyncio

    from starlette.concurrency import run_in_threadpool

    loop = asyncio.get_running_loop()
    done: asyncio.Future[BaseException | None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if not done.done():  # (the request may have been cancelled meanwhile)
            done.set_result(error)

    wakeups = _wakeups.get(loop)
    if wakeups is None:
        wakeups = _wakeups[loop] = LoopWakeups(loop)
    journal.journal.sync_then(end, lambda error: wakeups.call(settle, error))
    try:
        error = await done
    except BaseException:  # cancelled (the client went away): not answered either way
        journal.synced(end)  # (the record stays journaled: the committer commits it)
        raise
    if error is not None:
        await run_in_threadpool(journal.sync_failed, lock, end)
        raise error
    journal.synced(end)


def app_from_environment() -> FrontDoor:
    """uvicorn's app factory: the app of the store in ``LAKEML_STORE`` (``lakeml server``
    sets it for its workers), behind its front door."""
    from lakeml.client import Client

    client = Client(os.environ.get("LAKEML_STORE") or None)
    app = FrontDoor(build_app(client))
    _warm(client)
    return app


def _warm(client: Client) -> None:
    """Ready a worker process before it serves (for a process that is a server worker
    and nothing else: the freeze covers everything the process made so far).

    - Read the experiments once: the worker's first request naming an experiment would
      otherwise import DuckDB and set up the lake's views on the event loop (0.1-0.4 s of
      CPU, every connection of the worker waiting meanwhile). A store that cannot be read
      now is left for the requests to report: the worker starts anyway.
    - Freeze what start-up made (modules, routes, the app): it lives as long as the
      worker, and the collector's full passes no longer walk it (measured in the
      in-process driver: 17 ms a pass instead of 50, on the event loop).
    """
    import gc

    from lakeml.tracking.experiments import DEFAULT_EXPERIMENT_NAME

    try:
        client.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME)
    except Exception as exc:  # noqa: BLE001 - any failure: the requests report it
        log.warning("could not read the store's experiments at start: %s", exc)
    finally:
        gc.collect()
        gc.freeze()
