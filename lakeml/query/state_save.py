"""A reader's run state saved as the run snapshot of a remote store.

On a local store, the processes that commit keep the run snapshot fresh
(:func:`lakeml.query.run_snapshot.refresh_soon`). On a remote one they cannot cheaply:
deciding and folding would fetch every data file, which a writer never reads. A reader
has just done both: its run state (:class:`lakeml.query.run_state.RunsMirror`), when it
holds every key and run column, is exactly a snapshot's fold. So after a reader folded
more than ``run_snapshot.STALE_SHARE`` of the run tables' bytes that no snapshot covered,
it writes its state out as the store's snapshot, on a thread of its own: into this
machine's file cache (the next process here folds nothing) and published beside the
tables (:mod:`lakeml.query.shared_snapshot`: a process on another machine fetches one
object instead of every data file).

The thread reads the state in a DuckDB transaction begun while the mirror was locked, so
what it writes is the state of exactly the files it names, whatever the mirror does
meanwhile. The process waits for it at exit within bounds (see background): its DuckDB
part is a local COPY, what may outlast the wait is publishing.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import TYPE_CHECKING, Mapping

from lakeml.query import background, run_snapshot, shared_snapshot
from lakeml.query.run_fold import RUN_COLUMNS, SOURCES, data_bytes
from lakeml.sqltext import sql_string
from lakeml.store.file_cache import state_folder

if TYPE_CHECKING:
    import duckdb

    from lakeml.store import Store

log = logging.getLogger(__name__)

Files = Mapping[str, frozenset[str]]


def stale(store: Store, files: Files, covered: Files | None) -> bool:
    """Whether a snapshot of ``files`` (each run table's data files, local copies) is worth
    writing for a reader of ``store``: it is remote, and the files ``covered`` by the
    snapshot in force (None: none) miss more than STALE_SHARE of their bytes."""
    if store.is_local:
        return False  # its writers keep it (run_snapshot.refresh_soon)
    if covered is None:
        return True
    missing = [f for t in SOURCES for f in files[t]
               if run_snapshot.file_name(store, t, f) not in covered.get(t, ())]
    if not missing:
        return False
    total = data_bytes(f for t in SOURCES for f in files[t])
    return data_bytes(missing) > run_snapshot.STALE_SHARE * total


def start(cur: duckdb.DuckDBPyConnection, store: Store, columns: Mapping[tuple[str, str], str],
          files: Files) -> threading.Thread | None:
    """Write ``state_wide`` (every run column, key columns ``columns``) as the store's
    snapshot of ``files``, on a new thread (see background: waited for within bounds at
    exit; None, the cursor closed, once the exit has begun). ``cur`` is a cursor of the
    state's database whose transaction the caller began while the state was that of
    ``files``; the thread ends it and closes the cursor."""
    thread = background.start(_save, (cur, store, dict(columns), dict(files)),
                              "lakeml-state-save")
    if thread is None:
        cur.execute("ROLLBACK")
        cur.close()
    return thread


def begin(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor in a transaction that reads the state as it is now (call under the mirror's
    lock; hand it to :func:`start`)."""
    cur = con.cursor()
    cur.execute("BEGIN TRANSACTION")
    cur.execute("SELECT count(*) FROM state_wide").fetchall()  # its snapshot starts here
    return cur


def _save(cur: duckdb.DuckDBPyConnection, store: Store, columns: dict[tuple[str, str], str],
          files: dict[str, frozenset[str]]) -> None:
    folder = state_folder(store.uri)
    name = f"runs-{uuid.uuid4().hex}.parquet"
    partial = folder / f".{name}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        picks = ", ".join([*RUN_COLUMNS, *columns.values()])
        try:
            cur.execute(f"COPY (SELECT {picks} FROM state_wide ORDER BY run_id) TO "
                        f"{sql_string(str(partial))} (FORMAT parquet, COMPRESSION zstd, "
                        f"ROW_GROUP_SIZE 16384)")
            (runs,) = cur.execute("SELECT count(*) FROM state_wide").fetchone() or (0,)
        finally:
            cur.execute("ROLLBACK")  # it only read
            cur.close()
        previous = run_snapshot.load(store, fetch=False)
        os.replace(partial, folder / name)
        pointer = {
            "format": run_snapshot.FORMAT, "file": name, "runs": int(runs),
            "bytes": (folder / name).stat().st_size,
            "columns": [[e, k, c] for (e, k), c in columns.items()],
            "files": {t: sorted(run_snapshot.file_name(store, t, f) for f in files[t])
                      for t in SOURCES},
            "tables": store.table_ids(SOURCES)}
        shared_snapshot.write_pointer(folder, pointer)
        run_snapshot.prune(folder, keep={name, os.path.basename(previous.path)
                                         if previous else name})
        shared_snapshot.publish(store, name, pointer)
    except Exception as exc:  # noqa: BLE001 - a cache: readers fold the tables without it
        log.warning("could not save the run state of %s as its snapshot: %s", store.uri, exc)
    finally:
        partial.unlink(missing_ok=True)
