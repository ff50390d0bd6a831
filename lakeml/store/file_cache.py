"""Local copies of a remote store's data files, for the readers.

DuckDB reads lakeml's tables with ``read_parquet`` of their data files. On an object
store that would need DuckDB's httpfs extension, which it downloads at run time (and
cannot offline); and every cold read would fetch every file again. A Delta data file
never changes once written (a new version writes new files), so a copy keyed by the
file's URI is valid forever: the readers fetch each new file once, with fsspec, into a
local folder, and DuckDB reads the copies at local-disk speed.

The folder (``LAKEML_FILE_CACHE``, default ``~/.cache/lakeml/files``) is shared by
processes: a copy is written to a temporary name and renamed, so a reader never sees a
half file. Its size is bounded (``LAKEML_FILE_CACHE_SIZE``, default 10 GB): past it,
the least recently used copies not asked for in the same call go.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterable

from lakeml import config
from lakeml.errors import StoreUnavailable

FETCH_THREADS = 8
_evict_lock = threading.Lock()


def cache_root() -> Path:
    """The folder of the copies."""
    configured = config.get("file_cache")
    return Path(configured).expanduser() if configured else \
        Path.home() / ".cache" / "lakeml" / "files"


def local_copies(uris: list[str], fs_options: dict[str, Any] | None = None) -> list[str]:
    """A local path for each remote file URI, in order, fetching the missing ones."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    paths = [str(root / copy_name(uri)) for uri in uris]
    missing = [(uri, path) for uri, path in zip(uris, paths) if not os.path.exists(path)]
    if missing:
        fs = _filesystem(missing[0][0], fs_options or {})
        with ThreadPoolExecutor(min(FETCH_THREADS, len(missing))) as pool:
            list(pool.map(lambda pair: _fetch(fs, *pair), missing))
    now = None
    for path in paths:  # mark as used (mtime), for the eviction order
        try:
            os.utime(path, now)
        except OSError:
            pass
    evict(root, config.get("file_cache_size"), keep=set(paths))
    return paths


def copy_name(uri: str) -> str:
    """The copy's file name: a digest of the URI (unique), then its own name (readable)."""
    digest = hashlib.sha256(uri.encode()).hexdigest()[:24]
    return f"{digest}-{uri.rstrip('/').rsplit('/', 1)[-1]}"


def evict(root: Path, limit: int, keep: set[str]) -> int:
    """Remove the least recently used copies (not in ``keep``) until the folder holds at
    most ``limit`` bytes; returns how many went."""
    with _evict_lock:
        entries = []
        total = 0
        for entry in os.scandir(root):
            if entry.is_file() and not entry.name.endswith(".part"):
                stat = entry.stat()
                total += stat.st_size
                entries.append((stat.st_mtime, stat.st_size, entry.path))
        removed = 0
        for _, size, path in sorted(entries):
            if total <= limit:
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


def remote(uris: Iterable[str]) -> bool:
    """Whether any of ``uris`` is remote (has a scheme other than file://)."""
    return any("://" in u and not u.startswith("file://") for u in uris)


def state_folder(store_uri: str) -> Path:
    """Where the readers' saved folds of the store (run and registry snapshots) go: the
    store's own ``state/`` folder when it is local; for a remote store a folder of this
    machine's cache (one per store URI), since the snapshots are read as local files and
    name the local copies of the data files they folded."""
    if "://" not in store_uri:
        return Path(store_uri, "state")
    digest = hashlib.sha256(store_uri.encode()).hexdigest()[:24]
    return cache_root() / "state" / digest
