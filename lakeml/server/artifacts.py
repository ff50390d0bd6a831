"""Artifacts over HTTP: ``artifacts/list`` and the ``mlflow-artifacts`` proxy.

MLflow's client is given run artifact locations as ``mlflow-artifacts:/<path>``
(proxy_uris.py) and sends their files here, under ``/api/2.0/mlflow-artifacts/artifacts``:

- ``PUT    .../artifacts/<path>``  uploads one file, streamed to the store as it arrives;
- ``GET    .../artifacts/<path>``  downloads one file, streamed as it is read;
- ``GET    .../artifacts?path=<p>`` lists a folder (names relative to it);
- ``DELETE .../artifacts/<path>``  removes a file or folder.

``<path>`` is relative to the store's artifact root (``<store>/artifacts``), where lakeml
itself reads and writes artifacts, through lakeml's fsspec artifact layer: a local folder
or an object store alike. A path with ``..`` or an absolute one is refused with 400
INVALID_PARAMETER_VALUE. MLflow's multipart and presigned-URL calls are not served: its
client uses them only when the server says so (``/api/3.0/mlflow/server-info``), which
this server does not, so every file takes the streamed path.

An upload into a run that has ended (FINISHED, FAILED, KILLED), or was deleted, is
accepted, as by MLflow's server: its proxy knows paths, not runs (``_upload_artifact``
checks only that the path is safe), and MLflow's client relies on it, e.g.
``MlflowClient().log_artifact(run_id, ...)`` after ``end_run``. lakeml's own clients (the
library, and its REST client through this proxy) take an ended run's artifacts too, and
refuse a deleted run's before sending.

On a server with users the path's experiment is found by artifact location
(artifact_owner.py), so experiments made with their own ``artifact_location`` are checked
against their own permissions.

The proxy touches files only, never the Client's tables, so its requests run beside the
JSON API's without its lock.
"""

from __future__ import annotations

import mimetypes
import posixpath
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import LakemlError, NotFound
from lakeml.server.protocol import page
from lakeml.server.proxy_uris import public, relative, serve_root

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response

    from lakeml.artifacts import ArtifactRepository
    from lakeml.client import Client
    from lakeml.server.protocol import Fields

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
CHUNK = 1 << 20


def file_info_json(path: str, is_dir: bool, size: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "is_dir": is_dir}
    if not is_dir and size is not None:
        out["file_size"] = size
    return out


# ---- GET /api/2.0/mlflow/artifacts/list (the tracking API's listing of a run) -------------
def list_run_artifacts(client: Client, f: Fields) -> dict[str, Any]:
    run_id = f.run_id()
    root = client.get_run(run_id).info.artifact_uri
    path = relative(f.text("path") or "")
    infos = client.list_artifacts(run_id, path or None)
    if infos and len(infos) == 1 and not infos[0].is_dir and infos[0].path == path:
        infos = []  # a file is no folder: MLflow lists nothing under it
    shown, token = page(infos, 1000, f.text("page_token"), "artifacts")
    out: dict[str, Any] = {
        "root_uri": public(root),
        "files": [file_info_json(i.path, i.is_dir, i.file_size) for i in shown],
    }
    if token:
        out["next_page_token"] = token
    return out


#: (method, path under /api/2.0/mlflow, handler, writes)
ROUTES = (
    ("GET", "/artifacts/list", list_run_artifacts, False),
)


# ---- the mlflow-artifacts proxy ------------------------------------------------------------
def register(app: FastAPI, client: Client, lock: Any) -> None:
    """Serve the ``mlflow-artifacts`` proxy over ``client``'s store on ``app``."""
    from lakeml.artifacts import ArtifactRepository

    store = client.store
    serve_root(store.artifact_root)
    repo = ArtifactRepository(store.artifact_root, store.artifact_storage_options)
    handlers = {"PUT": _upload, "GET": _download, "DELETE": _delete}

    def endpoint(handler: Callable[..., Any]) -> Callable[[Request], Any]:
        async def call(request: Request) -> Response:
            from lakeml.server.errors import error_response

            try:
                await _authorize(client, lock, request)
                return await handler(repo, request)
            except NotFound:  # its message names the store's folder: not the caller's business
                path = request.path_params.get("path", "")
                return error_response("RESOURCE_DOES_NOT_EXIST",
                                      f"artifact {path!r} does not exist", 404)
            except LakemlError as exc:
                return error_response(exc.error_code, exc.message, exc.http_status)
        call.__name__ = handler.__name__
        return call

    app.add_route(PROXY, endpoint(_list), methods=["GET"], name="GET mlflow-artifacts list")
    for method, handler in handlers.items():
        app.add_route(PROXY + "/{path:path}", endpoint(handler), methods=[method],
                      name=f"{method} mlflow-artifacts")


async def _authorize(client: Client, lock: Any, request: Request) -> None:
    """On a server with users: a proxy path belongs to the experiment whose artifact
    location holds it (artifact_owner.py: ``<experiment>/<run>/artifacts/...`` by default,
    any folder for an experiment made with its own ``artifact_location``), so reading needs
    READ on that experiment, writing EDIT and deleting MANAGE; the root, and a path under
    no experiment's location, are for admins."""
    from starlette.concurrency import run_in_threadpool

    from lakeml.server.access import SESSION, deny, require
    from lakeml.server.artifact_owner import experiment_of_path

    session = SESSION.get()
    if session is None:
        return
    path = relative(request.path_params.get("path") or request.query_params.get("path") or "")
    need = {"GET": "READ", "PUT": "EDIT"}.get(request.method, "MANAGE")  # DELETE: MANAGE
    route = f"{request.method} mlflow-artifacts"
    def check() -> None:  # a denial is recorded through the Client: one call at a time
        with lock:
            experiment = experiment_of_path(client, path) if path else None
            if experiment is None:
                if not session.user.admin:
                    where = f"path {path!r}, under no experiment" if path else "the root"
                    deny(client, session, route, "route", path or "/", "none", "admin",
                         f"user {session.user.name!r} may not {request.method} {where} of "
                         "the artifact store: admins only")
                return
            require(client, session, route, "experiment", experiment, need)

    await run_in_threadpool(check)


def _path(request: Request) -> str:
    path = relative(request.path_params.get("path", ""))
    if not path:
        from lakeml.errors import InvalidArgument

        raise InvalidArgument("the artifact path after /mlflow-artifacts/artifacts/ is empty")
    return path


async def _list(repo: ArtifactRepository, request: Request) -> Response:
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    path = relative(request.query_params.get("path") or "")
    infos = await run_in_threadpool(repo.list_artifacts, path or None)
    return JSONResponse({"files": [
        file_info_json(posixpath.basename(i.path), i.is_dir, i.file_size) for i in infos]})


async def _upload(repo: ArtifactRepository, request: Request) -> Response:
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    upload = await run_in_threadpool(repo.open_upload, _path(request))
    pending = bytearray()  # the network's small pieces, written CHUNK at a time
    try:
        async for piece in request.stream():
            pending += piece
            if len(pending) >= CHUNK:
                await run_in_threadpool(upload.write, bytes(pending))
                pending.clear()
        if pending:
            await run_in_threadpool(upload.write, bytes(pending))
        await run_in_threadpool(upload.commit)
    except BaseException:
        await run_in_threadpool(upload.abort)
        raise
    return JSONResponse({})


async def _download(repo: ArtifactRepository, request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import StreamingResponse

    path = _path(request)
    size = await run_in_threadpool(repo.size, path)  # NotFound before the 200 starts
    kind = mimetypes.guess_type(posixpath.basename(path))[0] or "application/octet-stream"
    return StreamingResponse(repo.iter_bytes(path, CHUNK), media_type=kind,
                             headers={"Content-Length": str(size)})


async def _delete(repo: ArtifactRepository, request: Request) -> Response:
    from fastapi.responses import JSONResponse
    from starlette.concurrency import run_in_threadpool

    await run_in_threadpool(repo.delete, _path(request))
    return JSONResponse({})
