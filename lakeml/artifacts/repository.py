"""Artifacts of a run: files under its artifact URI, through fsspec."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from lakeml.entities import FileInfo
from lakeml.errors import InvalidArgument, NotFound, StoreUnavailable
from lakeml.uris import clean_relative

if TYPE_CHECKING:
    import fsspec


def absolute_location(location: object, what: str = "artifact_location") -> str:
    """An artifact root as every process can use it: a ``scheme://`` URI as given, or an
    absolute local path (a relative one is taken from this process's folder now, once).

    Blank values and control characters (NUL...) are refused, naming the value: a
    relative or blank root would put each process's files under its own folder.
    """
    if not isinstance(location, str):
        raise InvalidArgument(f"{what} must be a string, got {type(location).__name__} "
                              f"{location!r}")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in location):
        raise InvalidArgument(f"{what} {location!r} holds control characters (NUL, newline"
                              "...); give a folder path or a URI such as s3://bucket/prefix")
    text = location.strip()
    if not text:
        raise InvalidArgument(f"{what} must not be empty or blank, got {location!r}")
    if text.startswith("file:"):
        text = unquote(urlparse(text).path)
    elif "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())


class ArtifactRepository:
    """The files under one artifact root URI (a local folder or ``s3://…``).

    Example:
        >>> repo = ArtifactRepository("/tmp/lake/artifacts/0/abc/artifacts")  # doctest: +SKIP
        >>> repo.log_artifact("plot.png", "figures")                         # doctest: +SKIP
    """

    def __init__(self, root_uri: str, storage_options: dict[str, str] | None = None) -> None:
        self.root_uri = root_uri.rstrip("/")
        self._storage_options = storage_options or {}
        self._fs_root: tuple[fsspec.AbstractFileSystem, str] | None = None

    def _fs(self) -> tuple[fsspec.AbstractFileSystem, str]:
        if self._fs_root is None:
            import fsspec.core

            self._fs_root = fsspec.core.url_to_fs(self.root_uri, **self._storage_options)
        return self._fs_root

    def _target(self, rel: str) -> str:
        fs, root = self._fs()
        return f"{root}/{rel}" if rel else root

    def log_artifact(self, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> str:
        """Copy one local file under ``artifact_path``; returns its relative path."""
        src = Path(local_path)
        if not src.is_file():
            raise InvalidArgument(f"artifact {os.fspath(local_path)!r} is not a file")
        rel = posixpath.join(clean_relative(artifact_path), src.name).lstrip("/")
        fs, _ = self._fs()
        try:
            fs.makedirs(posixpath.dirname(self._target(rel)), exist_ok=True)
            fs.put_file(str(src), self._target(rel))
        except OSError as exc:
            raise StoreUnavailable(f"cannot write artifact {rel!r} to {self.root_uri!r}: "
                                   f"{exc}") from exc
        return rel

    def log_artifacts(self, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> list[str]:
        """Copy a local folder's files (recursively) under ``artifact_path``."""
        src = Path(local_dir)
        if not src.is_dir():
            raise InvalidArgument(f"artifact folder {os.fspath(local_dir)!r} is not a folder")
        base = clean_relative(artifact_path)
        written = []
        for file in sorted(p for p in src.rglob("*") if p.is_file()):
            sub = file.parent.relative_to(src).as_posix()
            dest = posixpath.join(base, sub) if sub != "." else base
            written.append(self.log_artifact(file, dest or None))
        return written

    def write_bytes(self, artifact_file: str, data: bytes) -> str:
        """Write ``data`` as the artifact at relative path ``artifact_file``."""
        rel = clean_relative(artifact_file, "artifact_file")
        if not rel:
            raise InvalidArgument("artifact_file must name a file, got an empty path")
        fs, _ = self._fs()
        try:
            fs.makedirs(posixpath.dirname(self._target(rel)), exist_ok=True)
            with fs.open(self._target(rel), "wb") as out:
                out.write(data)
        except OSError as exc:
            raise StoreUnavailable(f"cannot write artifact {rel!r}: {exc}") from exc
        return rel

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """The direct children of ``path`` (the root by default), sorted by path."""
        rel = clean_relative(path)
        fs, root = self._fs()
        target = self._target(rel)
        if not fs.exists(target):
            return []
        if not fs.isdir(target):
            return [FileInfo(rel, False, fs.size(target))]
        infos = []
        for entry in fs.ls(target, detail=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            child = posixpath.join(rel, name) if rel else name
            is_dir = entry["type"] == "directory"
            infos.append(FileInfo(child, is_dir, None if is_dir else int(entry.get("size") or 0)))
        return sorted(infos, key=lambda i: i.path)

    def download_artifacts(self, path: str | None, dst_path: str | os.PathLike[str]) -> str:
        """Copy the artifact file or folder ``path`` into ``dst_path``; returns the local path."""
        rel = clean_relative(path)
        fs, _ = self._fs()
        source = self._target(rel)
        if not fs.exists(source):
            raise NotFound(f"artifact {rel or '/'!r} does not exist under {self.root_uri!r}")
        dst = Path(dst_path)
        dst.mkdir(parents=True, exist_ok=True)
        local = dst / (posixpath.basename(rel) if rel else "")
        if fs.isdir(source):
            local.mkdir(parents=True, exist_ok=True)
            for file in fs.find(source):
                sub = posixpath.relpath(file, source)
                out = local / sub
                out.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(file, str(out))
        else:
            fs.get_file(source, str(local))
        return str(local)
