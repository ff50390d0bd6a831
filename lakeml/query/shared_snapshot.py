"""A remote store's run snapshot beside its tables, so a new machine reads one object.

A remote store's snapshot (:mod:`lakeml.query.run_snapshot`) is read as a local file from
this machine's file cache. A process on a machine that never read the store would have
to fetch every data file of the run tables and fold them (seconds at 100,000 runs). So
whoever writes a snapshot of a remote store also publishes it under the store's own
``state/`` prefix: the Parquet file first, then the pointer ``state/runs.json`` naming
it (an object PUT is atomic, so a reader finds either the old pointer or the new one,
each naming a whole file). A reader without a local snapshot fetches that pointer (one
GET; a 404 when none was published) and, if its tables are the store's tables, the file
it names into the local cache.

The pointer names the data files the snapshot folded by their copies' names
(:func:`lakeml.store.file_cache.copy_name`, a digest of the file's URI: the same on every
machine), so a reader on any machine folds only the files added since.

Publishing is best effort: a reader without write access to the store still reads, and
its failure is logged, not raised (the snapshot is a cache of the tables, never a record).
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeml.query import snapshot_pointer
from lakeml.store.file_cache import (
    copy_object,
    object_files,
    read_object,
    state_folder,
    write_object,
)

if TYPE_CHECKING:
    from lakeml.store import Store

log = logging.getLogger(__name__)

POINTER = "runs.json"
# published generations younger than this are never pruned (a reader may be fetching one)
KEEP_SECONDS = 600


def remote_folder(store: Store) -> str:
    """The store's own ``state/`` prefix, where published snapshots live."""
    return f"{store.uri}/state"


def _files(store: Store) -> tuple[Any, str]:
    """(deltalake's object store of the store's bucket, the ``state/`` key prefix): the
    file system the store's tables are read with, so a reader imports no other."""
    return object_files(remote_folder(store), store.storage_options)


def publish(store: Store, name: str, pointer: dict[str, Any]) -> None:
    """Upload local snapshot ``name`` and then ``pointer`` (the pointer its writer wrote
    naming it: not the local pointer file, which an overlapping writer may have moved on
    to a file this call never uploaded) to the store's ``state/`` prefix, and prune
    published generations older than KEEP_SECONDS (but the one named and the one it
    replaced). Errors are logged."""
    folder = state_folder(store.uri)
    try:
        if pointer.get("file") != name:
            raise ValueError(f"the pointer names {pointer.get('file')!r}, not {name!r}")
        data = (folder / name).read_bytes()
        if len(data) != pointer.get("bytes"):
            raise ValueError(f"{name!r} holds {len(data)} bytes, its pointer says "
                             f"{pointer.get('bytes')!r}")
        files, remote = _files(store)
        previous = _read_pointer(files, remote)
        write_object(files, f"{remote}/{name}", data)
        write_object(files, f"{remote}/{POINTER}", json.dumps(pointer).encode())
        kept = previous.get("file") if isinstance(previous, dict) else None
        _prune(files, remote, {name, kept if isinstance(kept, str) else name})
    except Exception as exc:  # noqa: BLE001 - a cache: readers fold the tables without it
        log.info("could not publish the run snapshot of %s: %s", store.uri, exc)


def _read_pointer(files: Any, remote: str) -> Any:
    """The published pointer as parsed JSON (unchecked: see snapshot_pointer), or None."""
    try:
        return json.loads(read_object(files, f"{remote}/{POINTER}"))
    except FileNotFoundError:
        return None


def _prune(files: Any, remote: str, keep: set[str]) -> None:
    now = time.time()
    for info in files.get_file_info_selector(remote, allow_not_found=True):
        name = info.base_name
        if not (name.startswith("runs-") and name.endswith(".parquet")) or name in keep:
            continue
        if info.mtime is None or now - info.mtime.timestamp() <= KEEP_SECONDS:
            continue
        try:
            files.delete_file(info.path)
        except FileNotFoundError:
            continue


def fetch(store: Store, snapshot_format: int) -> bool:
    """Copy the store's published snapshot (pointer and file) into this machine's state
    folder, if there is one of this store's tables in ``snapshot_format``; whether it did.
    A pointer the process cannot use (another format, other tables) is left where it is."""
    folder = state_folder(store.uri)
    try:
        files, remote = _files(store)
        found = _read_pointer(files, remote)
        if found is None:
            return False
        # rebuilt from its checked fields, never copied as it came: anyone who can write
        # the store's state/ prefix wrote it, and its names reach the engine's SQL
        pointer = snapshot_pointer.checked(found, snapshot_format)
        if not store.same_tables(pointer["tables"]):
            return False
        name = pointer["file"]
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / f".{name}.{uuid.uuid4().hex}.part"
        try:
            with part.open("wb") as out:  # streamed: never the whole file in memory
                copy_object(files, f"{remote}/{name}", out)
            os.replace(part, folder / name)
        finally:
            part.unlink(missing_ok=True)
        write_pointer(folder, pointer)
        return True
    except Exception as exc:  # noqa: BLE001 - a cache: the reader folds the tables
        log.info("could not fetch the published run snapshot of %s: %s", store.uri, exc)
        return False


def write_pointer(folder: Path, pointer: dict[str, Any]) -> None:
    """Name a snapshot in ``folder``: a pointer file replaced at once (never half written)."""
    staged = folder / f".{POINTER}.{uuid.uuid4().hex}.tmp"
    staged.write_text(json.dumps(pointer))
    os.replace(staged, folder / POINTER)
