"""Copying MLflow's artifact folders into the lakeml store, file by file, resumably.

A file already at the destination with the same size is not copied again, so
a second import copies nothing and an interrupted one picks up where it
stopped. Local to local copies go through shutil; anything else through
fsspec (the store's artifact options apply on the lakeml side).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lakeml.errors import InvalidArgument, StoreUnavailable
from lakeml.migrate.file_source import local_path


class ArtifactMapper:
    """Where MLflow's artifacts are read from: as recorded, or under ``--artifact-root``.

    ``artifact_root`` replaces the experiment's recorded artifact location
    (``<root>/<experiment id>/<run id>/artifacts`` is MLflow's default layout),
    for stores whose artifacts moved or were recorded as ``mlflow-artifacts:/``
    (which only a server source, ``proxied``, can read itself).
    """

    def __init__(self, artifact_root: str | None,
                 experiment_locations: dict[str, str | None], *, proxied: bool = False) -> None:
        self.root = artifact_root.rstrip("/") if artifact_root else None
        self.proxied = proxied  # the source serves mlflow-artifacts: URIs itself
        self._locations = {k: (v or "").rstrip("/") for k, v in experiment_locations.items()}

    def source(self, uri: str | None, experiment_id: str) -> str | None:
        """Where to read MLflow location ``uri`` (of an experiment's run or model) from."""
        if not uri:
            return None
        if self.root is not None:
            base = self._locations.get(experiment_id, "")
            if base and uri.startswith(base):
                return f"{self.root}/{experiment_id}{uri[len(base):]}"
            marker = f"/{experiment_id}/"
            if marker in uri:
                return f"{self.root}{marker}{uri.split(marker, 1)[1]}"
        if uri.startswith("mlflow-artifacts:") and not self.proxied:
            raise InvalidArgument(f"artifact location {uri!r} is served by an MLflow server; "
                                  "give --artifact-root, the folder (or URI) that server "
                                  "stores its artifacts in")
        return uri


def _is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file:")


def copy_tree(src: str, dst: str, storage_options: dict[str, str] | None = None) -> int:
    """Copy every file under ``src`` to the same place under ``dst``; returns how many were
    copied (files already there with the same size are skipped). A missing ``src`` copies
    nothing."""
    try:
        if _is_local(src) and _is_local(dst):
            return _copy_local(Path(local_path(src)), Path(local_path(dst)))
        return _copy_fsspec(src, dst, storage_options)
    except OSError as exc:
        raise StoreUnavailable(f"cannot copy artifacts from {src!r} to {dst!r}: {exc}") from exc


def _copy_local(src: Path, dst: Path) -> int:
    if not src.is_dir():
        return 0
    copied = 0
    for dirpath, _, files in os.walk(src):
        out_dir = dst / Path(dirpath).relative_to(src)
        for name in files:
            source = Path(dirpath, name)
            target = out_dir / name
            if target.exists() and target.stat().st_size == source.stat().st_size:
                continue
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            copied += 1
    return copied


def _copy_fsspec(src: str, dst: str, storage_options: dict[str, str] | None) -> int:
    import fsspec.core

    src_fs, src_root = fsspec.core.url_to_fs(src)
    dst_fs, dst_root = fsspec.core.url_to_fs(dst, **(storage_options or {}))
    if not src_fs.isdir(src_root):
        return 0
    copied = 0
    for file in src_fs.find(src_root):
        rel = os.path.relpath(file, src_root).replace(os.sep, "/")
        target = f"{dst_root.rstrip('/')}/{rel}"
        if dst_fs.exists(target) and dst_fs.size(target) == src_fs.size(file):
            continue
        with src_fs.open(file, "rb") as fin, dst_fs.open(target, "wb") as fout:
            shutil.copyfileobj(fin, fout)
        copied += 1
    return copied


def tree_digest(uri: str | None, storage_options: dict[str, str] | None = None) -> str:
    """A digest of the files under ``uri``: each one's relative path, size and modification
    time (``""`` when there are none). An export puts it in a run's fingerprint, so a file
    logged to a run after the run was exported sends the run, and its files, again."""
    import hashlib

    if not uri:
        return ""
    entries: list[str] = []
    try:
        if _is_local(uri):
            root = Path(local_path(uri))
            for dirpath, _, files in os.walk(root):
                for name in files:
                    stat = os.stat(os.path.join(dirpath, name))
                    rel = os.path.relpath(os.path.join(dirpath, name), root)
                    entries.append(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}")
        else:
            import fsspec.core

            fs, root_path = fsspec.core.url_to_fs(uri, **(storage_options or {}))
            if fs.isdir(root_path):
                for path, info in fs.find(root_path, detail=True).items():
                    when = info.get("LastModified") or info.get("mtime") or info.get("created")
                    entries.append(f"{os.path.relpath(path, root_path)}\0{info.get('size')}\0"
                                   f"{when}")
    except OSError as exc:
        raise StoreUnavailable(f"cannot list the artifacts at {uri!r}: {exc}") from exc
    if not entries:
        return ""
    entries.sort()
    return f"{len(entries)}:" + hashlib.md5("\n".join(entries).encode()).hexdigest()
