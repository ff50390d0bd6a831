"""A saved fold of every run, so that a new process need not fold the lake again.

Folding the append-only tables into one row per run costs about a second per
million runs and table, in every new process. Maintenance writes that fold
once, to ``<store>/state/runs-<id>.parquet`` (the layout of
:mod:`lakeml.query.run_fold`, every key, sorted by run id), and names it in
``<store>/state/runs.json`` together with the data files it folded. A reader
takes the snapshot's row of every run that no data file added since names,
and folds only the others from the lake (:class:`lakeml.query.run_state.RunState`).

It is a cache of the tables, never a record: deleting ``state/`` loses nothing,
and a store whose snapshot is missing or unreadable is folded from its tables.
Local stores only; a remote store's readers fold its tables.
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
from typing import TYPE_CHECKING, Iterable, Mapping

from lakeml.query import run_fold
from lakeml.query.run_fold import SOURCES, data_bytes, fold_select, keys_in
from lakeml.sqltext import sql_string

if TYPE_CHECKING:
    from lakeml.store import Store

log = logging.getLogger(__name__)

FORMAT = 1
FOLDER = "state"
POINTER = "runs.json"

MEMORY_LIMIT = "1GB"

# A snapshot is rewritten once data files it has not folded hold this share of
# the source tables' bytes (readers fold the runs those files name).
STALE_SHARE = 0.1

# Files of another writer younger than this are never deleted (it may be about
# to name them).
_KEEP_SECONDS = 600

# Stores found to hold more than run_fold.MAX_WHOLE_KEYS keys: they get no snapshot
# (keys are never removed, so this process need not count them again).
_too_wide: set[str] = set()

_writing: dict[str, threading.Thread] = {}
_writing_lock = threading.Lock()


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
    """A data file's name within its table's folder (snapshots survive moving the store)."""
    prefix = store.table_uri(table) + "/"
    return uri[len(prefix):] if uri.startswith(prefix) else uri


def load(store: Store) -> Snapshot | None:
    """The store's snapshot, or None (remote store, none written, or unreadable)."""
    if not store.is_local:
        return None
    folder = Path(store.uri, FOLDER)
    try:
        data = json.loads((folder / POINTER).read_text())
        if data.get("format") != FORMAT:
            return None
        path = folder / data["file"]
        if not path.is_file():
            return None
        return Snapshot(str(path), {(e, k): c for e, k, c in data["columns"]},
                        {t: frozenset(names) for t, names in data["files"].items()},
                        int(data["runs"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(store: Store) -> Snapshot | None:
    """Fold every run of the store's latest commits into a new snapshot; None if remote
    or if it holds more than ``run_fold.MAX_WHOLE_KEYS`` keys (readers fold those).

    Runs on a query engine of its own, so the caller's engine is never moved
    under a query. Keeps the previous snapshot file (a reader may have just
    opened it) and deletes older ones.
    """
    from lakeml.query.engine import QueryEngine

    if not store.is_local:
        return None
    engine = QueryEngine(store, flush_first=False)  # maintenance may run in the flusher
    folder = Path(store.uri, FOLDER)
    folder.mkdir(exist_ok=True)
    con = engine.connection()
    # It runs inside users' processes: bounded memory, spilling beside the snapshot
    # (1 M runs: 1.2 GB and 16 s, against 3.7 GB and 10 s unbounded).
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = {sql_string(str(folder / '.spill'))}")
    engine.refresh(SOURCES)
    keys = keys_in(con, {t: f"lake_{t}" for t in SOURCES}, limit=run_fold.MAX_WHOLE_KEYS + 1)
    if len(keys) > run_fold.MAX_WHOLE_KEYS:  # a column per key would not be bounded
        con.close()
        _too_wide.add(store.uri)
        log.info("no run snapshot of %s: more than %d keys", store.uri, run_fold.MAX_WHOLE_KEYS)
        return None
    columns = {key: f"c{i}" for i, key in enumerate(keys)}
    select, params = fold_select(columns)
    # Small row groups: a page of runs decodes only the groups holding them (sorted by id).
    name = f"runs-{uuid.uuid4().hex}.parquet"
    partial = folder / f".{name}.tmp"
    try:
        con.execute(f"COPY ({select} ORDER BY run_id) TO {sql_string(str(partial))} "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16384)", params)
        runs = con.execute(f"SELECT count(*) FROM read_parquet({sql_string(str(partial))})"
                           ).fetchall()[0][0]
        os.replace(partial, folder / name)
    finally:
        partial.unlink(missing_ok=True)
        con.close()
    previous = load(store)
    pointer = {"format": FORMAT, "file": name, "runs": runs,
               "columns": [[e, k, c] for (e, k), c in columns.items()],
               "files": {t: sorted(file_name(store, t, f) for f in engine.files(t))
                         for t in SOURCES}}
    staged = folder / f".{POINTER}.{uuid.uuid4().hex}.tmp"
    staged.write_text(json.dumps(pointer))
    os.replace(staged, folder / POINTER)
    keep = {name, Path(previous.path).name if previous else None}
    for old in [*folder.glob("runs-*.parquet"), *folder.glob(".runs-*.tmp")]:
        if old.name not in keep and time.time() - old.stat().st_mtime > _KEEP_SECONDS:
            old.unlink(missing_ok=True)
    return load(store)


def is_stale(store: Store) -> bool:
    """Whether a snapshot would pay: the store is past SMALL_STORE_BYTES (smaller ones
    are folded whole in memory) and has none, or one missing STALE_SHARE of its bytes."""
    if not store.is_local or store.uri in _too_wide:
        return False
    files = {t: store.snapshot_files(t)[1] for t in SOURCES}
    if data_bytes(f for t in SOURCES[1:] for f in files[t]) <= run_fold.SMALL_STORE_BYTES:
        return False
    snapshot = load(store)
    if snapshot is None:
        return True
    uncovered = data_bytes(f for paths in snapshot.uncovered(store, files).values()
                           for f in paths)
    return uncovered > STALE_SHARE * data_bytes(f for t in SOURCES for f in files[t])


def refresh_soon(store: Store) -> None:
    """Rewrite the snapshot on a thread of its own if it is stale (one writer per store
    and process). The thread is not a daemon: a process that wrote finishes it at exit."""
    with _writing_lock:
        running = _writing.get(store.uri)
        if running is not None and running.is_alive():
            return
        if not is_stale(store):
            return
        thread = threading.Thread(target=_write_logged, args=(store,),
                                  name="lakeml-run-snapshot")
        _writing[store.uri] = thread
        thread.start()


def wait(store: Store, timeout: float | None = None) -> None:
    """Wait for this process's snapshot writer of ``store``, if one is running."""
    with _writing_lock:
        running = _writing.get(store.uri)
    if running is not None:
        running.join(timeout)


def _write_logged(store: Store) -> None:
    try:
        write(store)
    except Exception:  # noqa: BLE001 - a cache; readers fold the tables without it
        log.exception("could not write the run snapshot of %s", store.uri)
