"""Local copies of a remote store's data files, for the readers.

DuckDB reads lakeml's tables with ``read_parquet`` of their data files. On an object
store that would need DuckDB's httpfs extension, which it downloads at run time (and
cannot offline); and every cold read would fetch every file again. A Delta data file
never changes once written (a new version writes new files), so a copy keyed by the
file's URI is valid forever: the readers fetch each new file once, with fsspec, into a
local folder, and DuckDB reads the copies at local-disk speed.

The cache (``LAKEML_FILE_CACHE``, default ``~/.cache/lakeml/files``) holds one folder per
store (a digest of its URI and endpoint), so a SQL sandbox over one store is allowed
that store's copies only. Processes share it: a copy is written to a temporary name and
renamed, so a reader never sees a half file. Its size is bounded per store
(``LAKEML_FILE_CACHE_SIZE``, default 10 GB): past it, the least recently used copies go,
but never one used in the last ``RECENT_SECONDS`` (another reader may be scanning it; a
reader that finds one of its copies gone fetches it again).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

from lakeml import config
from lakeml.errors import StoreUnavailable

FETCH_THREADS = 8
RECENT_SECONDS = 600
_evict_lock = threading.Lock()


def cache_root() -> Path:
    """The folder of every store's copies."""
    configured = config.get("file_cache")
    return Path(configured).expanduser() if configured else \
        Path.home() / ".cache" / "lakeml" / "files"


def store_folder(store_uri: str) -> Path:
    """The folder of one remote store's copies and saved folds: a digest of its URI and
    of the endpoint it is read from (two S3-compatible endpoints may share a bucket name)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT") or ""
    digest = hashlib.sha256(f"{store_uri}\0{endpoint}".encode()).hexdigest()[:24]
    return cache_root() / digest


def local_copies(uris: list[str], fs_options: dict[str, Any] | None = None, *,
                 folder: Path | None = None) -> list[str]:
    """A local path for each remote file URI, in order, fetching the missing ones into
    ``folder`` (default: the cache root)."""
    root = folder or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    paths = [str(root / copy_name(uri)) for uri in uris]
    missing = [(uri, path) for uri, path in zip(uris, paths) if not os.path.exists(path)]
    if missing:
        fs = _filesystem(missing[0][0], fs_options or {})
        with ThreadPoolExecutor(min(FETCH_THREADS, len(missing))) as pool:
            list(pool.map(lambda pair: _fetch(fs, *pair), missing))
    touch(paths)
    evict(root, config.get("file_cache_size"), keep=set(paths))
    return paths


def touch(paths: Iterable[str]) -> None:
    """Mark the copies as used now (their mtime orders eviction)."""
    for path in paths:
        try:
            os.utime(path, None)
        except OSError:
            pass


def all_present(paths: Iterable[str]) -> bool:
    """Whether every copy is still there (eviction by another process may remove one
    that has not been used for RECENT_SECONDS)."""
    return all(os.path.exists(p) for p in paths)


def copy_name(uri: str) -> str:
    """The copy's file name: a digest of the URI (unique), then its own name (readable)."""
    digest = hashlib.sha256(uri.encode()).hexdigest()[:24]
    return f"{digest}-{uri.rstrip('/').rsplit('/', 1)[-1]}"


def evict(root: Path, limit: int, keep: set[str]) -> int:
    """Remove the least recently used copies in ``root`` (not in ``keep``, none used in
    the last RECENT_SECONDS) until it holds at most ``limit`` bytes; returns how many
    went."""
    with _evict_lock:
        entries = []
        total = 0
        for entry in os.scandir(root):
            if entry.is_file() and not entry.name.endswith(".part"):
                stat = entry.stat()
                total += stat.st_size
                entries.append((stat.st_mtime, stat.st_size, entry.path))
        removed = 0
        recent = time.time() - RECENT_SECONDS
        for mtime, size, path in sorted(entries):
            if total <= limit or mtime >= recent:
                break
            if path in keep:
                continue
            try:
                os.remove(path)
            except OSError:
                continue
            total -= size
            removed += 1
        return removed


def _fetch(fs: Any, uri: str, path: str) -> None:
    part = f"{path}.{uuid.uuid4().hex}.part"
    try:
        fs.get_file(uri, part)
        os.replace(part, path)
    except Exception as exc:
        try:
            os.remove(part)
        except OSError:
            pass
        raise StoreUnavailable(f"cannot fetch data file {uri!r} into the local cache "
                               f"{os.path.dirname(path)!r}: {exc}") from exc


def _filesystem(uri: str, options: dict[str, Any]) -> Any:
    import fsspec

    return fsspec.filesystem(uri.split("://", 1)[0], **options)


def state_folder(store_uri: str) -> Path:
    """Where the readers' saved folds of the store (run and registry snapshots) go: the
    store's own ``state/`` folder when it is local; for a remote store a folder inside
    that store's cache folder, since the snapshots are read as local files and name the
    local copies of the data files they folded."""
    if "://" not in store_uri:
        return Path(store_uri, "state")
    return store_folder(store_uri) / "state"
