"""Artifact calls of the REST tracking service, through MLflow's artifact proxy.

A server with the proxy shows a run's artifact root as ``mlflow-artifacts:/<path>``
(``<path>`` under the server's artifact root) and serves its files under
``/api/2.0/mlflow-artifacts/artifacts/<path>``: PUT uploads a file, GET downloads one,
``GET .../artifacts?path=<folder>`` lists a folder (entry names relative to it). The
calls here keep the lake's semantics (lakeml/artifacts/repository.py): the same relative
paths, the same listing (children sorted by path, paths relative to the run's root),
the same download layout. A run whose root the server shows as a plain location (a
server without the proxy, or an experiment whose artifacts live outside the server's
root) cannot have its files moved over HTTP: NotSupported says so.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import quote, unquote, urlparse

from lakeml.entities import FileInfo
from lakeml.errors import InvalidArgument, NotFound, NotSupported
from lakeml.uris import clean_relative

if TYPE_CHECKING:
    from lakeml.rest.http import Http

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
SCHEME = "mlflow-artifacts:"


class RestArtifacts:
    """A part of :class:`~lakeml.rest.tracking.RestTrackingService`: its artifact calls.

    ``state(run_id)`` gives what the service knows of the run (its ``artifact_uri``),
    ``writable(run_id)`` checks that the run takes log calls, ``flush`` sends the
    buffered log rows first.
    """

    CALLS = ("get_artifact_uri", "log_artifact", "log_artifacts", "log_text", "log_dict",
             "log_figure", "list_artifacts", "download_artifacts")

    def __init__(self, http: Http, state: Callable[[str], Any], writable: Callable[[str], Any],
                 flush: Callable[[], None]) -> None:
        self._http = http
        self._state = state
        self._writable = writable
        self._flush = flush

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        """The URI of the run's artifact root, or of ``artifact_path`` under it."""
        root = self._state(run_id).artifact_uri
        rel = clean_relative(artifact_path)
        return f"{root}/{rel}" if rel else root

    def _root(self, run_id: str, call: str) -> str:
        """The run's artifact root as a path under the proxy; NotSupported without one."""
        uri = self._state(run_id).artifact_uri
        if not uri.startswith(SCHEME):
            raise NotSupported(
                f"{call} over HTTP needs MLflow's artifact proxy ({PROXY}/<path>): the "
                f"server shows run {run_id!r}'s artifacts at {uri!r}, which this process "
                "cannot reach through it (a server without the proxy, or artifacts outside "
                "its root); use that location directly")
        return unquote(urlparse(uri).path).strip("/")

    def _put(self, run_id: str, rel: str, data: Any, call: str) -> None:
        target = posixpath.join(self._root(run_id, call), rel)
        self._http.raw("PUT", f"{PROXY}/{quote(target)}", content=data)

    # ---- writing ------------------------------------------------------------------------
    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts."""
        self._writable(run_id)
        src = Path(local_path)
        if not src.is_file():
            raise InvalidArgument(f"artifact {os.fspath(local_path)!r} is not a file")
        rel = posixpath.join(clean_relative(artifact_path), src.name).lstrip("/")
        with open(src, "rb") as data:
            self._put(run_id, rel, data, "log_artifact")

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Copy a local folder's files (recursively) into the run's artifacts."""
        self._writable(run_id)
        src = Path(local_dir)
        if not src.is_dir():
            raise InvalidArgument(f"artifact folder {os.fspath(local_dir)!r} is not a folder")
        base = clean_relative(artifact_path)
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            sub = file.parent.relative_to(src).as_posix()
            dest = posixpath.join(base, sub) if sub != "." else base
            self.log_artifact(run_id, file, dest or None)

    def _write(self, run_id: str, artifact_file: str, data: bytes, call: str) -> None:
        rel = clean_relative(artifact_file, "artifact_file")
        if not rel:
            raise InvalidArgument("artifact_file must name a file, got an empty path")
        self._put(run_id, rel, data, call)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save ``text`` as the artifact ``artifact_file``."""
        if not isinstance(text, str):
            raise InvalidArgument(f"log_text takes a str, got {type(text).__name__}")
        self._writable(run_id)
        self._write(run_id, artifact_file, text.encode(), "log_text")

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """Save a dict as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
        self._writable(run_id)
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_dump(dict(dictionary), sort_keys=False)
        else:
            data = json.dumps(dictionary, indent=2, default=str)
        self._write(run_id, artifact_file, data.encode(), "log_dict")

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (format from the file's extension)."""
        self._writable(run_id)
        if not hasattr(figure, "savefig"):
            raise InvalidArgument(f"log_figure takes a matplotlib figure, got "
                                  f"{type(figure).__name__}")
        suffix = os.path.splitext(artifact_file)[1] or ".png"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "figure" + suffix)
            figure.savefig(path)
            self._write(run_id, artifact_file, Path(path).read_bytes(), "log_figure")

    # ---- reading ------------------------------------------------------------------------
    def _entries(self, run_id: str, rel: str, call: str) -> list[dict[str, Any]]:
        """The proxy's listing of ``rel`` under the run's root (names relative to it)."""
        target = posixpath.join(self._root(run_id, call), rel).strip("/")
        self._flush()
        body = self._http.get("", {"path": target}, api=PROXY)
        return list(body.get("files") or ())

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` in the run's artifacts."""
        rel = clean_relative(path)
        entries = self._entries(run_id, rel, "list_artifacts")
        if _is_the_file(entries, rel):
            entry = entries[0]
            return [FileInfo(rel, False, _size(entry))]
        infos = [FileInfo(posixpath.join(rel, e["path"]) if rel else e["path"],
                          bool(e.get("is_dir")), None if e.get("is_dir") else _size(e))
                 for e in entries]
        return sorted(infos, key=lambda i: i.path)

    def download_artifacts(self, run_id: str, path: str = "",
                           dst_path: str | os.PathLike[str] | None = None) -> str:
        """Copy artifacts to ``dst_path`` (a new temporary folder by default)."""
        rel = clean_relative(path)
        dst = Path(dst_path if dst_path is not None else tempfile.mkdtemp(prefix="lakeml-"))
        entries = self._entries(run_id, rel, "download_artifacts")
        if not entries:
            raise NotFound(f"artifact {rel or '/'!r} does not exist under "
                           f"{self._state(run_id).artifact_uri!r}")
        dst.mkdir(parents=True, exist_ok=True)
        local = dst / (posixpath.basename(rel) if rel else "")
        root = self._root(run_id, "download_artifacts")
        if _is_the_file(entries, rel):
            self._get(posixpath.join(root, rel), local)
            return str(local)
        local.mkdir(parents=True, exist_ok=True)
        self._get_folder(run_id, root, rel, entries, local)
        return str(local)

    def _get_folder(self, run_id: str, root: str, rel: str, entries: list[dict[str, Any]],
                    local: Path) -> None:
        for entry in entries:
            name = entry.get("path")
            if not isinstance(name, str) or not name or "/" in name or name in (".", "..") \
                    or "\\" in name:  # a listing names children: never a path out of dst
                raise InvalidArgument(f"the server listed {name!r} under {rel or '/'!r} of "
                                      f"run {run_id!r}: not a plain file name; nothing "
                                      f"written there")
            child = posixpath.join(rel, name) if rel else name
            if entry.get("is_dir"):
                (local / entry["path"]).mkdir(parents=True, exist_ok=True)
                self._get_folder(run_id, root, child, self._entries(
                    run_id, child, "download_artifacts"), local / entry["path"])
            else:
                self._get(posixpath.join(root, child), local / entry["path"])

    def _get(self, target: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        self._http.download(f"{PROXY}/{quote(target)}", local)


def _is_the_file(entries: list[dict[str, Any]], rel: str) -> bool:
    """Whether a listing of ``rel`` is the proxy's answer for a file (itself, by name)."""
    return bool(rel) and len(entries) == 1 and not entries[0].get("is_dir") \
        and entries[0]["path"] == posixpath.basename(rel)


def _size(entry: dict[str, Any]) -> int:
    return int(entry.get("file_size") or 0)
