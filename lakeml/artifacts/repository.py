"""Artifacts of a run: files under its artifact URI, through fsspec."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Iterator
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

    # ---- streaming: the tracking server's artifact proxy -------------------------------
    def _existing(self, rel: str) -> str:
        fs, _ = self._fs()
        target = self._target(rel)
        if not fs.exists(target):
            raise NotFound(f"artifact {rel or '/'!r} does not exist under {self.root_uri!r}")
        return target

    def size(self, path: str) -> int:
        """Bytes of the artifact file ``path``; NotFound if it is missing or a folder."""
        rel = clean_relative(path)
        fs, _ = self._fs()
        target = self._existing(rel)
        if fs.isdir(target):
            raise NotFound(f"artifact {rel or '/'!r} is a folder, not a file")
        return int(fs.size(target))

    def iter_bytes(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The artifact file ``path`` in chunks, read as they are sent (never whole)."""
        rel = clean_relative(path)
        fs, _ = self._fs()
        with fs.open(self._existing(rel), "rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def open_upload(self, path: str) -> Upload:
        """A new file at artifact ``path``, written chunk by chunk; readers see it only once
        :meth:`Upload.commit` ran (a local file is renamed into place; an object store's
        upload completes on close)."""
        rel = clean_relative(path)
        if not rel:
            raise InvalidArgument("an artifact upload must name a file, got an empty path")
        fs, _ = self._fs()
        target = self._target(rel)
        try:
            if fs.isdir(target):
                raise InvalidArgument(f"artifact {rel!r} is a folder; upload a file inside it")
            fs.makedirs(posixpath.dirname(target), exist_ok=True)
            return Upload(fs, target)
        except (FileExistsError, NotADirectoryError):
            raise InvalidArgument(f"cannot upload artifact {rel!r}: a folder on its path is "
                                  "a file") from None
        except OSError as exc:
            raise StoreUnavailable(f"cannot write artifact {rel!r}: {exc}") from exc

    def delete(self, path: str) -> None:
        """Remove the artifact file or folder ``path`` (NotFound if it is missing)."""
        rel = clean_relative(path)
        if not rel:
            raise InvalidArgument("refusing to delete the whole artifact root; name a path")
        fs, _ = self._fs()
        target = self._existing(rel)
        try:
            fs.rm(target, recursive=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot delete artifact {rel!r}: {exc}") from exc


class Upload:
    """One artifact file being written: :meth:`write` chunks, then :meth:`commit` or
    :meth:`abort`. On a local disk it is written beside its target under a temporary
    name and renamed into place, so a reader never sees half a file."""

    def __init__(self, fs: fsspec.AbstractFileSystem, target: str) -> None:
        import uuid

        self._fs, self._target = fs, target
        self._local = "file" in (fs.protocol if isinstance(fs.protocol, tuple)
                                 else (fs.protocol,))
        self._path = f"{target}.{uuid.uuid4().hex}.part" if self._local else target
        self._fh = fs.open(self._path, "wb")
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._fh.write(chunk)
        self.size += len(chunk)

    def commit(self) -> None:
        try:
            self._fh.close()
            if self._local:
                os.replace(self._path, self._target)
        except OSError as exc:
            self.abort()
            raise StoreUnavailable(f"cannot write artifact {self._target!r}: {exc}") from exc

    def abort(self) -> None:
        """Drop what was written (nothing appears at the target)."""
        discard = getattr(self._fh, "discard", None)
        try:
            if callable(discard):
                discard()
            else:
                self._fh.close()
            if self._local and os.path.exists(self._path):
                os.remove(self._path)
        except OSError:
            pass
