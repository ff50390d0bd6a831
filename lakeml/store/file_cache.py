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
import io
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable

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
                 folder: Path | None = None,
                 delta_options: dict[str, str] | None = None) -> list[str]:
    """A local path for each remote file URI, in order, fetching the missing ones into
    ``folder`` (default: the cache root): with deltalake's object store given its
    ``delta_options`` (a store's tables: already loaded, and a tenth of s3fs's start-up),
    else with fsspec given ``fs_options``."""
    root = folder or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    paths = [str(root / copy_name(uri)) for uri in uris]
    missing = [(uri, path) for uri, path in zip(uris, paths) if not os.path.exists(path)]
    if missing:
        if delta_options is not None:
            def fetch(uri: str, path: str) -> None:
                _fetch_object(uri, path, delta_options)
        else:
            fs = _filesystem(missing[0][0], fs_options or {})

            def fetch(uri: str, path: str) -> None:
                _fetch(fs, uri, path)
        with ThreadPoolExecutor(min(FETCH_THREADS, len(missing))) as pool:
            list(pool.map(lambda pair: fetch(*pair), missing))
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
    _download(uri, path, lambda part: fs.get_file(uri, part))


def _download(uri: str, path: str, into: Callable[[str], Any]) -> None:
    """Fetch ``uri`` into the copy ``path``: ``into`` writes it to a temporary name next
    to it, renamed once whole (a reader never sees a half copy; a failure leaves none)."""
    part = f"{path}.{uuid.uuid4().hex}.part"
    try:
        into(part)
        os.replace(part, path)
    except Exception as exc:
        try:
            os.remove(part)
        except OSError:
            pass
        raise StoreUnavailable(f"cannot fetch data file {uri!r} into the local cache "
                               f"{os.path.dirname(path)!r}: {exc}") from exc


_object_stores: dict[tuple[str, str], Any] = {}
_object_stores_lock = threading.Lock()


def object_files(uri: str, options: dict[str, str] | None) -> tuple[Any, str]:
    """(deltalake's object store of ``uri``'s bucket (its Rust file system handler: reads
    and writes bytes, unlike the pyarrow wrapper of it whose writes deltalake 1.6 refuses),
    the path of ``uri`` in it): one per bucket and options in a process, since making one
    costs more than the request it sends. It reads and writes with the store's deltalake
    options (credentials, endpoint); opening a file to read is a HEAD (its size)."""
    scheme, rest = uri.split("://", 1)
    bucket, _, key = rest.partition("/")
    root = f"{scheme}://{bucket}"
    cache_key = (root, repr(sorted((options or {}).items())))
    with _object_stores_lock:
        files = _object_stores.get(cache_key)
        if files is None:
            from deltalake._internal import DeltaFileSystemHandler

            files = _object_stores[cache_key] = DeltaFileSystemHandler(root, options)
        return files, key


READ_ATTEMPTS = 5
# Bytes asked per GET (a ranged one past the first): a fetch holds at most this much in
# memory, whatever the object's size (FETCH_THREADS of them at once).
CHUNK_BYTES = 8 << 20


def read_object(files: Any, key: str) -> bytes:
    """The bytes of object ``key`` of ``files`` (of :func:`object_files`); for small
    objects (a pointer, a checkpoint marker): see :func:`copy_object`."""
    buffer = io.BytesIO()
    copy_object(files, key, buffer)
    return buffer.getvalue()


def copy_object(files: Any, key: str, out: BinaryIO) -> int:
    """Write object ``key`` of ``files`` into ``out`` (at its start); its size.

    A HEAD (its size; FileNotFoundError if there is none), then GETs of CHUNK_BYTES each,
    streamed to ``out``: an object of one chunk comes from one response, so it is one
    version of it even if it is overwritten in place (a pointer). A larger one is read
    by ranges, so its size and modification time are taken before and compared after
    (and before resuming): one that changed meanwhile is read again from byte 0, never
    pieced together from two versions. A read that fails or comes back short (a
    connection lost mid-body) is tried again (a large object from where it stopped if it
    has not changed), up to READ_ATTEMPTS times; then OSError.
    """
    failures = 0
    got = 0
    stamp: tuple[int, int] | None = None
    while True:
        try:
            source = files.open_input_file(key)  # a HEAD: its size
            size = source.size()
            if size > CHUNK_BYTES:
                now = _stamp(files, key)
                if stamp != now:
                    got = 0  # the first read, or it changed: from the start
                stamp = now
            else:
                got, stamp = 0, None
            out.seek(got)
            out.truncate()
            if got:
                source.seek(got)
            while got < size:
                chunk = source.read(min(CHUNK_BYTES, size - got))
                if not chunk:
                    raise OSError(f"the body ended at byte {got} of {size}")
                out.write(chunk)
                got += len(chunk)
            if stamp is None or _stamp(files, key) == stamp:
                return size
            raise OSError("it changed while being read")
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - counted, then reported
            failures += 1
            if failures >= READ_ATTEMPTS:
                raise OSError(f"object {key!r}: read {got} bytes in {failures} attempts: "
                              f"{exc}") from exc
            time.sleep(0.05 * failures)


def _stamp(files: Any, key: str) -> tuple[int, int]:
    """(size, modification time in ns) of object ``key``: a HEAD."""
    (info,) = files.get_file_info([key])
    return int(info.size), int(info.mtime_ns or 0)


def write_object(files: Any, key: str, data: bytes) -> None:
    """Write object ``key`` of ``files`` (of :func:`object_files`) whole: deltalake's
    output stream is an S3 multipart upload (create, one part per 5 MB, complete), so
    the object appears at once, whole, or not at all. Its Python API cannot abort an
    upload: it aborts one whose part failed itself, and an upload left incomplete
    otherwise (the complete failing, the process killed) holds its parts until the
    bucket's lifecycle rule (AbortIncompleteMultipartUpload) removes them; a data write
    is all this function does between opening and closing the stream."""
    out = files.open_output_stream(key, None)
    out.write(data)
    out.close()


def _fetch_object(uri: str, path: str, options: dict[str, str]) -> None:
    def into(part: str) -> None:
        files, key = object_files(uri, options)
        with open(part, "wb") as out:
            copy_object(files, key, out)

    _download(uri, path, into)


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
