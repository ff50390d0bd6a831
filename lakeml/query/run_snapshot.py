"""A saved fold of every run, so that a new process need not fold the lake again.

Folding the append-only tables into one row per run costs about a second per
million runs and table, in every new process. Maintenance writes that fold
once, to ``<store>/state/runs-<id>.parquet`` (a remote store's in this machine's
file cache, see :func:`lakeml.store.file_cache.state_folder`) (the layout of
:mod:`lakeml.query.run_fold`, every key, sorted by run id), and names it in
``<store>/state/runs.json`` together with the data files it folded. A reader
takes the snapshot's row of every run that no data file added since names,
and folds only the others from the lake (:class:`lakeml.query.run_state.RunsMirror`).

It is a cache of the tables, never a record: deleting ``state/`` loses nothing,
and a store whose snapshot is missing, truncated or unreadable is folded from
its tables; so is one whose tables are not those the snapshot folded (their Delta
table ids differ: a remote store deleted and made again at the same URI).

Who writes it: every process that commits, in the background once it is stale
(:func:`refresh_soon`, a maintenance hook), and once more as it closes its
store or exits if its last commits left it stale (:func:`finish`); or
``lakeml maintenance snapshot``. Each write folds in chunks under a memory
limit and prunes older generations.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

from lakeml import config
from lakeml.errors import LakemlError, StoreUnavailable
from lakeml.query import background, run_fold, shared_snapshot, snapshot_pointer
from lakeml.query.lake import LakeViews
from lakeml.query.run_fold import RUN_COLUMNS, SOURCES, data_bytes, fold_select, keys_in
from lakeml.sqltext import sql_string
from lakeml.store.file_cache import state_folder

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from lakeml.store import Store

log = logging.getLogger(__name__)

FORMAT = 1
POINTER = "runs.json"

# DuckDB's memory while folding a chunk: about _FOLD_FIXED_BYTES whatever its size
# (the scans, the hash tables and sort of a fold of every key), then per run and
# column _FOLD_BYTES_PER_CELL (the aggregates' states, the join, the sort); chunks
# are sized from these so that each folds within the limit without spilling much.
_FOLD_FIXED_BYTES = 32 << 20
_FOLD_BYTES_PER_CELL = 512
_MIN_CHUNK_RUNS = 1024
_ROW_GROUP = 16384

# A snapshot is rewritten once data files it has not folded hold this share of
# the source tables' bytes (readers fold the runs those files name).
STALE_SHARE = 0.1

# Generations younger than this are never deleted (another writer may be about
# to name its own; naming follows writing within milliseconds), nor partial files
# younger than _PARTIAL_KEEP_SECONDS (another writer may still be folding).
_KEEP_SECONDS = 10
_PARTIAL_KEEP_SECONDS = 600

# Stores found to hold more than run_fold.MAX_WHOLE_KEYS keys: they get no snapshot
# (keys are never removed, so this process need not count them again).
_too_wide: set[str] = set()

_writing: dict[str, threading.Thread] = {}
_writing_lock = threading.Lock()
# Stores whose writer is closing (see finish): no new thread may start, since at
# interpreter exit nothing would join it (DuckDB then aborts the process).
_finishing: set[str] = set()


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: its Parquet file, key columns, and the data files it covers
    (by name within each table's folder)."""

    path: str
    columns: Mapping[tuple[str, str], str]
    files: Mapping[str, frozenset[str]]
    runs: int

    def uncovered(self, store: Store, files: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
        """Of each table's current data files, those this snapshot has not folded."""
        return {t: [f for f in files[t] if file_name(store, t, f) not in self.files.get(t, ())]
                for t in SOURCES}


def file_name(store: Store, table: str, uri: str) -> str:
    """A data file's name within its table's folder (snapshots survive moving the store);
    a remote store's local copy by its own name, a digest of the file's URI that is the
    same on every machine (see shared_snapshot)."""
    prefix = store.table_uri(table) + "/"
    if uri.startswith(prefix):
        return uri[len(prefix):]
    return uri if store.is_local else os.path.basename(uri)


def load(store: Store, *, fetch: bool = True) -> Snapshot | None:
    """The store's snapshot, or None (none written, or unreadable). A remote store
    without one on this machine takes the one published beside its tables, if any
    (``fetch``; see shared_snapshot)."""
    folder = state_folder(store.uri)
    if fetch and not store.is_local and not (folder / POINTER).exists():
        shared_snapshot.fetch(store, FORMAT)
    try:
        # every field checked: its names reach the engine's SQL (see snapshot_pointer)
        data = snapshot_pointer.checked(json.loads((folder / POINTER).read_text()), FORMAT)
        path = folder / data["file"]
        if not _whole(path, data["bytes"]) or not store.same_tables(data["tables"]):
            return None
        return Snapshot(str(path), {(e, k): c for e, k, c in data["columns"]},
                        {t: frozenset(names) for t, names in data["files"].items()},
                        data["runs"])
    except Exception as exc:  # noqa: BLE001 - any damage: a cache, the tables are folded
        log.info("run snapshot pointer of %s ignored: %s", store.uri, exc)
        return None


def _whole(path: Path, size: int) -> bool:
    """Whether ``path`` is the Parquet file it was written as: there, of the ``size``
    the pointer recorded, ending in Parquet's magic."""
    with path.open("rb") as f:
        if os.fstat(f.fileno()).st_size != size:
            return False
        f.seek(-4, os.SEEK_END)
        return f.read(4) == b"PAR1"


def write(store: Store, *, memory_limit: int | None = None,
          threads: int | None = None) -> Snapshot | None:
    """Fold every run of the store's latest commits into a new snapshot; None if it
    holds more than ``run_fold.MAX_WHOLE_KEYS`` keys (readers fold those).

    Runs on lake views of its own, so the caller's engine is never moved
    under a query. DuckDB's memory stays under ``memory_limit`` bytes (default:
    the ``snapshot_memory`` setting), spilling beside the snapshot, whatever
    the store's size: runs are folded in chunks of consecutive ids (see
    :func:`chunk_runs`), appended in id order to one Parquet file. Then the
    pointer names it, and older generations are deleted (see :func:`prune`).

    Raises:
        StoreUnavailable: the fold could not be written (out of memory or disk);
            the previous snapshot, if any, stays in force.
    """
    import duckdb

    limit = memory_limit if memory_limit is not None else config.get("snapshot_memory")
    # views of its own (the caller's engine is never moved under a query), which commit
    # nothing first: maintenance may run in the flusher
    lake = LakeViews(store)
    folder = state_folder(store.uri)
    folder.mkdir(parents=True, exist_ok=True)
    con = lake.connect()
    try:
        _bound(con, limit, folder)
        if threads is not None:  # a reader's background write leaves it the other cores
            con.execute(f"SET threads = {int(threads)}")
        lake.refresh(SOURCES)
        keys = keys_in(con, {t: f"lake_{t}" for t in SOURCES},
                       limit=run_fold.MAX_WHOLE_KEYS + 1)
        if len(keys) > run_fold.MAX_WHOLE_KEYS:  # a column per key would not be bounded
            _too_wide.add(store.uri)
            log.info("no run snapshot of %s: more than %d keys", store.uri,
                     run_fold.MAX_WHOLE_KEYS)
            return None
        columns = {key: f"c{i}" for i, key in enumerate(keys)}
        name, runs = _fold_to_file(con, folder, columns, chunk_runs(limit, len(columns)))
    except duckdb.Error as exc:
        raise _failure(store, limit, exc) from exc
    except OSError as exc:
        raise StoreUnavailable(f"cannot write the run snapshot of {store.uri!r}: {exc}") from exc
    finally:
        con.close()
    previous = load(store, fetch=False)
    path = folder / name
    pointer = {"format": FORMAT, "file": name, "runs": runs, "bytes": path.stat().st_size,
               "columns": [[e, k, c] for (e, k), c in columns.items()],
               "files": {t: sorted(file_name(store, t, f) for f in lake.files(t))
                         for t in SOURCES},
               "tables": store.table_ids(SOURCES)}  # a store made anew has other ids
    shared_snapshot.write_pointer(folder, pointer)
    prune(folder, keep={name, Path(previous.path).name if previous else name})
    if not store.is_local:  # beside the tables too, for other machines
        shared_snapshot.publish(store, name, pointer)
    return load(store, fetch=False)


def chunk_runs(memory_limit: int, keys: int) -> int:
    """Runs folded per chunk: a share of ``memory_limit`` over what a run's row of
    ``keys`` key columns (and the run columns) costs DuckDB while folding."""
    cells = keys + len(RUN_COLUMNS)
    room = memory_limit - _FOLD_FIXED_BYTES
    return max(_MIN_CHUNK_RUNS, room // (_FOLD_BYTES_PER_CELL * cells))


def _bound(con: duckdb.DuckDBPyConnection, limit: int, folder: Path) -> None:
    """Hold DuckDB to ``limit`` bytes, spilling into ``folder/.spill``."""
    con.execute(f"SET memory_limit = '{int(limit)}B'")
    con.execute(f"SET temp_directory = {sql_string(str(folder / '.spill'))}")
    con.execute("SET preserve_insertion_order = false")  # each chunk is sorted anyway
    con.execute("SET parquet_metadata_cache = true")  # every chunk opens every file


def _fold_to_file(con: duckdb.DuckDBPyConnection, folder: Path, columns: dict[tuple[str, str], str],
                  per_chunk: int) -> tuple[str, int]:
    """Write the fold of every run to a new ``runs-<id>.parquet`` in ``folder``, chunk by
    chunk of ``per_chunk`` runs in id order; (its name, its runs)."""
    name = f"runs-{uuid.uuid4().hex}.parquet"
    partial = folder / f".{name}.tmp"
    writer: pq.ParquetWriter | None = None
    runs = 0
    try:
        for ids, ids_params in _chunks(con, per_chunk):
            select, params = fold_select(columns, ids, ids_params)
            table = con.sql(f"{select} ORDER BY run_id", params=params).to_arrow_table()
            if writer is None:
                writer = _parquet_writer(partial, table.schema)
            writer.write_table(table.cast(writer.schema), row_group_size=_ROW_GROUP)
            runs += table.num_rows
        assert writer is not None  # _chunks yields at least once
        writer.close()
        writer = None
        os.replace(partial, folder / name)
    finally:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
    return name, runs


def _parquet_writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    """A zstd Parquet writer for the fold's rows: metric columns byte-stream-split
    (their random bits compress a fifth better so), the others dictionary-encoded.
    Row groups stay small (see _ROW_GROUP): a page of runs decodes only its own."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    return pq.ParquetWriter(path, schema, compression="zstd", use_byte_stream_split=floats,
                            use_dictionary=[f.name for f in schema if f.name not in floats])


def _chunks(con: duckdb.DuckDBPyConnection, per_chunk: int
            ) -> Iterator[tuple[str, list[object]]]:
    """(SQL over ``run_id``, params) of consecutive id ranges of ``per_chunk`` runs each,
    in id order, together covering every run (one that matches nothing if none)."""
    starts = [r for (r,) in con.execute(
        "SELECT run_id FROM (SELECT run_id, row_number() OVER (ORDER BY run_id) AS i "
        "FROM (SELECT DISTINCT run_id FROM lake_runs)) WHERE i % ? = 1 ORDER BY run_id",
        [per_chunk]).fetchall()]
    if not starts:
        yield "FALSE", []
        return
    for lo, hi in zip(starts, [*starts[1:], None]):
        if hi is None:
            yield "run_id >= ?", [lo]
        else:
            yield "run_id >= ? AND run_id < ?", [lo, hi]


def _failure(store: Store, limit: int, exc: Exception) -> LakemlError:
    """DuckDB's error while writing the snapshot, as lakeml's, saying what to change."""
    import duckdb

    why = str(exc).splitlines()[0]
    if isinstance(exc, duckdb.OutOfMemoryException):
        why = (f"it ran out of its memory limit of {limit:,} bytes ({why}); raise "
               f"{config.SETTINGS['snapshot_memory'].env} or free disk for spilling")
    return StoreUnavailable(f"cannot write the run snapshot of {store.uri!r}: {why}. "
                            "Searches keep working from the tables (and any older snapshot).")


def prune(folder: Path, *, keep: set[str]) -> list[str]:
    """Delete snapshot generations other than ``keep`` (the one just named and the one
    before, which a reader may have just opened); return their names.

    Spared besides: generations younger than _KEEP_SECONDS (a concurrent
    writer may be about to name its own) and partial files younger than
    _PARTIAL_KEEP_SECONDS (one may still be writing). A reader whose
    generation goes folds the lake instead (see RunsMirror), so this costs
    it speed, never an answer.
    """
    now = time.time()
    gone = []
    for old in [*folder.glob("runs-*.parquet"), *folder.glob(".runs-*.tmp")]:
        grace = _KEEP_SECONDS if old.suffix == ".parquet" else _PARTIAL_KEEP_SECONDS
        try:
            if old.name in keep or now - old.stat().st_mtime <= grace:
                continue
            old.unlink()
        except FileNotFoundError:
            continue  # another writer pruned it first
        gone.append(old.name)
    return gone


def is_stale(store: Store) -> bool:
    """Whether a snapshot would pay: the store is past SMALL_STORE_BYTES (smaller ones
    are folded whole in memory) and has none, or one missing STALE_SHARE of its bytes."""
    if store.uri in _too_wide:
        return False
    if not store.is_local and not _copies_local(store):
        return False  # deciding would fetch the whole store; a reader fetches it anyway
    files = {t: store.snapshot_files(t)[1] for t in SOURCES}
    if data_bytes(f for t in SOURCES[1:] for f in files[t]) <= run_fold.SMALL_STORE_BYTES:
        return False
    snapshot = load(store)
    if snapshot is None:
        return True
    uncovered = data_bytes(f for paths in snapshot.uncovered(store, files).values()
                           for f in paths)
    return uncovered > STALE_SHARE * data_bytes(f for t in SOURCES for f in files[t])


def _copies_local(store: Store) -> bool:
    """Whether every data file of a remote store's run tables already has its local copy
    (then a snapshot is decided and written from them, fetching nothing)."""
    from lakeml.store.file_cache import copy_name, store_folder

    folder = store_folder(store.uri)
    return all(os.path.exists(folder / copy_name(uri)) for t in SOURCES
               for uri in store.tables[t].snapshot_files(readable=False)[1])


def refresh_soon(store: Store) -> None:
    """Rewrite the snapshot on a thread of its own if it is stale (one writer per store
    and process). The process waits for it at exit, within bounds (see background)."""
    with _writing_lock:
        running = _writing.get(store.uri)
        if store.uri in _finishing or (running is not None and running.is_alive()):
            return
        if not is_stale(store):
            return
        # started before it is shown: whoever finds it may join it at once
        thread = background.start(_write_logged, (store,), "lakeml-run-snapshot")
        if thread is not None:
            _writing[store.uri] = thread


def write_soon(store: Store) -> threading.Thread | None:
    """Write the snapshot on a thread of its own now, stale or not (one writer per store
    and process): the first reader of a remote store without one, which has just
    fetched its data files (see RunsMirror). The thread, or None while the store's
    writer closes or the process exits."""
    with _writing_lock:
        running = _writing.get(store.uri)
        if store.uri in _finishing or (running is not None and running.is_alive()):
            return running
        thread = background.start(_write_logged, (store, 1), "lakeml-run-snapshot")
        if thread is not None:
            _writing[store.uri] = thread
        return thread


def wait(store: Store, timeout: float | None = None) -> None:
    """Wait for this process's snapshot writer of ``store``, if one is running."""
    with _writing_lock:
        running = _writing.get(store.uri)
    if running is not None:
        running.join(timeout)


def finish(store: Store) -> None:
    """Leave the snapshot fresh as a writing process closes its store (at exit): wait for
    this process's writer, then rewrite it here if it is still stale, as the last
    commits may have made it."""
    with _writing_lock:
        _finishing.add(store.uri)
    try:
        wait(store, background.EXIT_WAIT_SECONDS)  # bounded: it may be stuck on the network
        with _writing_lock:
            running = _writing.get(store.uri)
        if running is not None and running.is_alive():
            log.warning("run snapshot of %s still being written; not waiting for it",
                        store.uri)
        elif is_stale(store):
            write(store)
    except LakemlError as exc:
        log.warning("%s", exc)
    finally:
        with _writing_lock:
            _finishing.discard(store.uri)


def _write_logged(store: Store, threads: int | None = None) -> None:
    try:
        write(store, threads=threads)
    except LakemlError as exc:  # a cache; readers fold the tables without it
        log.warning("%s", exc)
    except Exception:  # noqa: BLE001
        log.exception("could not write the run snapshot of %s", store.uri)
