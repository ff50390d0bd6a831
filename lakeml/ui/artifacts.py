"""The UI API of a run's artifacts: a folder's listing and a file's preview.

A preview is sent as what it can safely be: an image type the browser draws in an
``<img>`` (PNG, JPEG, GIF, WebP; SVG is sent as text, since a script inside would run
when opened), otherwise ``text/plain``. Every preview carries ``nosniff`` and a
``sandbox`` content security policy, so an artifact opened directly, an HTML file
say, runs nothing on the UI's origin. Files above :data:`MAX_PREVIEW` bytes are refused
with a message naming their size; a text preview is the file's first :data:`MAX_TEXT`
bytes (``X-Lakeml-Truncated`` says so).
"""

from __future__ import annotations

import posixpath
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from starlette.responses import Response

    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_PREVIEW = 10 * 1024 * 1024
MAX_TEXT = 1024 * 1024  # of a text preview: the file's first MiB
IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".gif": "image/gif", ".webp": "image/webp"}
PREVIEW_HEADERS = {"X-Content-Type-Options": "nosniff",
                   "Content-Security-Policy": "sandbox; default-src 'none'",
                   "Cache-Control": "no-store"}


def listing(client: Client, args: Args) -> dict[str, Any]:
    """The files and folders at ``path`` (default: the top) of run ``run_id``."""
    path = _path(args.get("path") or "")
    files = client.list_artifacts(args.need("run_id"), path or None)
    return {"path": path, "files": [{"path": f.path, "is_dir": f.is_dir,
                                     "file_size": f.file_size} for f in files]}


def preview(client: Client, args: Args) -> Response:
    """The artifact file ``path`` of run ``run_id``: an image as itself, else as text."""
    from starlette.responses import Response

    run_id, path = args.need("run_id"), _path(args.need("path"))
    parent = posixpath.dirname(path)
    found = {f.path: f for f in client.list_artifacts(run_id, parent or None)}
    info = found.get(path)
    if info is None or info.is_dir:
        raise NotFound(f"run {run_id} has no artifact file {path!r}")
    if (info.file_size or 0) > MAX_PREVIEW:
        raise InvalidArgument(f"artifact {path!r} has {info.file_size:,} bytes; previews "
                              f"stop at {MAX_PREVIEW:,}")
    with tempfile.TemporaryDirectory(prefix="lakeml-ui-") as tmp:
        local = Path(client.download_artifacts(run_id, path, dst_path=tmp))
        data = local.read_bytes()
    kind = IMAGES.get(posixpath.splitext(path)[1].lower())
    headers = dict(PREVIEW_HEADERS)
    if kind is None:  # text: its head is enough for a page
        kind = "text/plain; charset=utf-8"
        if len(data) > MAX_TEXT:
            data, headers["X-Lakeml-Truncated"] = data[:MAX_TEXT], str(MAX_TEXT)
    return Response(data, media_type=kind, headers=headers)


def _path(path: str) -> str:
    """An artifact path inside the run's folder: relative, no ``..``."""
    clean = posixpath.normpath(path).lstrip("/") if path else ""
    if clean == ".":
        clean = ""
    if clean.startswith("..") or "\\" in path or "\x00" in path:
        raise InvalidArgument(f"artifact path {path!r:.200} must stay inside the run's "
                              f"artifacts")
    return clean


ROUTES = {"/artifacts": listing, "/artifact": preview}
