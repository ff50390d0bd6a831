"""The UI's routes: the JSON API under ``/ajax-api/lakeml/`` and the static pages at ``/``.

Each API handler is ``(client, args) -> body``; it runs in a worker thread under the
server's lock (the lake services serve one caller at a time) and its lakeml errors
become ``{"error_code", "message"}`` with the error's HTTP status, so a page can show
the message as it is (a filter error carries its caret line). A markdown description in
an answer (a :class:`~lakeml.ui.markdown.Markdown`) is rendered after the lock is released,
so a slow one holds up only its own request.

Every API request must carry the header ``X-Lakeml-UI: 1`` (the pages' api.js sends it;
others get 403 naming it): a browser sends no such header on a request another page or a
markdown image makes, so a signed-in viewer's browser cannot be made to call the API.
Reads answer GET (and POST, for long arguments), but the SQL box's (:data:`POST_ONLY`)
answer POST only; writes (:func:`write_handlers`) answer POST with a JSON body only, which
a page on another site cannot send without the browser asking first (the server's gate
answers 415 to any other body), and are answered once a commit holds what they buffered
(the server's group commit), so the next read sees it.
On a server with users, ``guard`` (lakeml/server/ui_access.py) wraps every handler with
the caller's permission checks.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import LakemlError

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

    from lakeml.client import Client
    from lakeml.ui.args import Args

    Handler = Callable[[Client, Args], Any]
    Guard = Callable[[str, Handler], Handler]

API = "/ajax-api/lakeml"
#: The header (and its value) every API request must carry.
UI_HEADER = ("X-Lakeml-UI", "1")
#: Reads that answer POST only (their query in a JSON body, never in a URL).
POST_ONLY = frozenset({"/sql", "/sql-download"})
STATIC = Path(__file__).parent / "static"
log = logging.getLogger("lakeml.ui")


def handlers() -> dict[str, Handler]:
    """Every API path (below :data:`API`) and its handler."""
    from lakeml.ui import (
        artifacts,
        charts,
        compare,
        groups,
        plots,
        registry,
        review,
        runs,
        sqlbox,
        workflows,
    )

    return {**runs.ROUTES, **compare.ROUTES, **groups.ROUTES, **charts.ROUTES,
            **artifacts.ROUTES, **registry.ROUTES, **sqlbox.ROUTES, **plots.ROUTES,
            **workflows.ROUTES, **review.READ_ROUTES}


def write_handlers() -> dict[str, Handler]:
    """Every API path that changes the store (POST with a JSON body only) and its handler."""
    from lakeml.ui import edits, review

    return {**edits.ROUTES, **review.ROUTES}


def mount(app: FastAPI, client: Client, lock: threading.Lock | None = None,
          guard: Guard | None = None, commits: Any = None) -> None:
    """Serve the UI from ``app``: the pages at ``/`` and their API over ``client``.

    ``lock`` is the one the app's other routes hold around the Client (a new one if
    None): the UI's calls then queue with theirs. ``guard(path, handler)`` returns the
    handler to call instead (the server's permission checks; None: none). ``commits``:
    the server's group commit (lakeml/server/group_commit.py), which a write waits on
    after buffering its rows, as the REST writes do; None: a write flushes the Client.
    """
    from starlette.responses import HTMLResponse
    from starlette.staticfiles import StaticFiles

    lock = lock or threading.Lock()
    for routes, methods, writes in ((handlers(), ["GET", "POST"], False),
                                    (write_handlers(), ["POST"], True)):
        for path, handler in routes.items():
            checked = guard(path, handler) if guard is not None else handler
            app.add_route(API + path, _endpoint(client, lock, checked, writes=writes,
                                                commits=commits),
                          methods=["POST"] if path in POST_ONLY else methods,
                          name=f"ui {path}")

    page = index_html()

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers=SECURITY_HEADERS)

    app.add_route("/", index, methods=["GET"], name="ui index")
    app.mount("/static", StaticFiles(directory=STATIC), name="ui static")


def index_html() -> str:
    """index.html with a ``modulepreload`` link for every module of the page: the browser
    then fetches them all at once instead of an import level at a time (main.js, its
    pages, their helpers, uPlot: four round trips before the first API call)."""
    modules = sorted(STATIC.glob("js/**/*.js")) + [STATIC / "vendor/uplot/uPlot.esm.js"]
    links = "\n".join(f'<link rel="modulepreload" href="/static/{path}">' for path in
                      (m.relative_to(STATIC).as_posix() for m in modules))
    return (STATIC / "index.html").read_text(encoding="utf-8").replace(
        "<!-- modulepreload -->", links)


# The pages never run inline script or load anything from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self' 'unsafe-inline'; object-src 'none'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _endpoint(client: Client, lock: threading.Lock, handler: Handler, *,
              writes: bool = False, commits: Any = None) -> Callable[[Request], Any]:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, Response

    from lakeml.ui.args import Args
    from lakeml.ui.markdown import rendered_in

    def call(args: Args) -> Any:
        if commits is not None and commits.before_read is not None:
            commits.before_read()  # the server's journal: acknowledged writes are in Delta
        if not writes:
            with lock:
                return handler(client, args)
        if commits is None:  # commit now: the page reads it back at once
            with lock:
                body = handler(client, args)
                client.flush()
            return body
        with lock:  # buffer the rows, then wait (without the lock) for a commit of them
            mark = commits.mark()
            body = handler(client, args)
            ticket = commits.ticket()
        commits.wait(ticket, mark, _write_keys(args, body))
        return body

    async def endpoint(request: Request) -> Response:
        name, value = UI_HEADER
        if request.headers.get(name) != value:
            return JSONResponse({"error_code": "PERMISSION_DENIED", "message":
                                 f"the UI's API answers only requests with the header "
                                 f"'{name}: {value}' (the UI's pages send it)"},
                                status_code=403)
        try:
            args = (Args(await _json_object(request)) if request.method == "POST"
                    else Args(request.query_params))
            body = await run_in_threadpool(call, args)
            # markdown renders here, with the lock released (markdown.py says why)
            body = await run_in_threadpool(rendered_in, body)
        except LakemlError as exc:
            return JSONResponse({"error_code": exc.error_code, "message": exc.message},
                                status_code=exc.http_status)
        except Exception:
            log.exception("%s failed", request.url.path)
            return JSONResponse({"error_code": "INTERNAL_ERROR",
                                 "message": "internal server error (see the server's log)"},
                                status_code=500)
        if isinstance(body, Response):
            return body
        return JSONResponse(body)

    endpoint.__name__ = f"ui_{handler.__name__}"
    return endpoint


def _write_keys(args: Args, body: Any) -> set[str]:
    """The ids a write's rows are filed under (its run or experiment), for the group
    commit to tell this write's rejected rows from others'."""
    keys = {v for v in (args.get("run_id"), args.get("experiment_id")) if v}
    if isinstance(body, dict) and body.get("experiment_id"):
        keys.add(str(body["experiment_id"]))
    return keys


async def _json_object(request: Request) -> dict[str, Any]:
    """A POST's body: a JSON object (its values strings or lists of strings)."""
    import json

    from lakeml.errors import InvalidArgument

    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise InvalidArgument(f"the request body is not JSON: {raw[:80]!r}") from None
    if not isinstance(body, dict):
        raise InvalidArgument(f"the request body must be a JSON object, got {raw[:80]!r}")
    return body
