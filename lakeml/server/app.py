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


def build_app(client: Client) -> FastAPI:
    """The app serving ``client``'s store."""
    from fastapi import FastAPI

    from lakeml.server import auth, errors, experiments, permissions_api, registry, review, runs
    from lakeml.version import __version__

    app = FastAPI(title="lakeml tracking server", version=__version__, docs_url=None,
                  redoc_url=None, openapi_url=None)
    errors.install(app)
    guard = auth.install(app)  # body limit, users and permissions: see auth.py
    lock = threading.Lock()
    # (routes are matched in order: the runs' calls, most of a tracking load, first)
    for method, path, handler, writes in (*runs.ROUTES, *experiments.ROUTES,
                                          *registry.ROUTES, *review.ROUTES,
                                          *permissions_api.ROUTES):
        handler = guard(method, path, handler)
        # a plain Starlette route: the endpoint reads the request itself
        app.add_route(PREFIX + path, _endpoint(client, lock, method, handler, writes),
                      methods=[method], name=f"{method} {path}")
    from lakeml.server import permissions_v3  # MLflow 3's /api/3.0 permission calls

    for method, path, handler, writes in permissions_v3.ROUTES:
        app.add_route(permissions_v3.PREFIX + path,
                      _endpoint(client, lock, method, guard(method, path, handler), writes),
                      methods=[method], name=f"{method} /3.0{path}")
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

    # the web UI at /, its JSON API at /ajax-api/lakeml (permissions: ui_access.py)
    from lakeml import ui
    from lakeml.server import ui_access
    from lakeml.server.group_commit import commits_of
    ui.mount(app, client, lock, guard=ui_access.guard, commits=commits_of(client))
    return app


def _endpoint(client: Client, lock: threading.Lock, method: str, handler: Handler,
              writes: bool) -> Callable[[Request], Any]:
    from starlette.concurrency import run_in_threadpool

    from lakeml.server.errors import error_response
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
            return error_response("INTERNAL_ERROR",
                                  "internal server error (see the server's log)", 500)

    endpoint.__name__ = handler.__name__
    return endpoint


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

    journal.journal.sync_then(end, lambda error: loop.call_soon_threadsafe(settle, error))
    try:
        error = await done
    except BaseException:  # cancelled (the client went away): not answered either way
        journal.synced(end)  # (the record stays journaled: the committer commits it)
        raise
    if error is not None:
        await run_in_threadpool(journal.sync_failed, lock, end)
        raise error
    journal.synced(end)


def app_from_environment() -> FastAPI:
    """uvicorn's app factory: the app of the store in ``LAKEML_STORE`` (``lakeml server``
    sets it for its workers)."""
    from lakeml.client import Client

    return build_app(Client(os.environ.get("LAKEML_STORE") or None))
