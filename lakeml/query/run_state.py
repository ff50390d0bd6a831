"""Current state of the runs held in the engine's DuckDB: one row per run, for searches.

The views of sql/views/ fold the append-only logs into current state on every
query: at a million runs that costs about a second. A search instead reads
``state_wide``, one row per run in the layout of :mod:`lakeml.query.run_fold`
(the runs view's columns, then a generated column per loaded key;
:class:`StateColumns` maps keys to columns).

A small store (keyed tables under ``run_fold.SMALL_STORE_BYTES``, at most
``run_fold.MAX_WHOLE_KEYS`` keys) is loaded whole, every key at once, so a search
answers with one query over memory and fills its page from the same rows. Any
other loads the keys searched so far (at most MAX_WHOLE_KEYS of them, beyond
which only the current search's): a state's width never follows the store's
count of keys, which users push to thousands and a single run to millions.

Where it comes from: the store's snapshot (:mod:`lakeml.query.run_snapshot`)
for every run it holds that no later data file names, and a fold of the lake
for the rest (all runs, without a snapshot). After that the state follows the
store without re-reading it: each table's data files are remembered, and when
a table moves, only the runs named in its new files are folded again and
replaced. Tables are append-only (compaction rewrites rows, never changes
them), so a run absent from every new file has not changed.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol

from lakeml.query import run_fold, run_snapshot
from lakeml.query.run_fold import (
    ENTITIES,
    NARROW_RUN_COLUMNS,
    RUN_COLUMNS,
    SOURCES,
    data_bytes,
    fold_select,
    keys_in,
)
from lakeml.sqltext import identifier, placeholders, read_files, sql_string

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from lakeml.query.run_snapshot import Snapshot
    from lakeml.store import Store

log = logging.getLogger(__name__)

# A page's run columns, as search_runs returns them (times in ms), before the key columns.
PAGE_COLUMNS = ("r.run_id, r.experiment_id, r.status, r.artifact_uri, "
                "epoch_ms(r.start_time) AS start_time, epoch_ms(r.end_time) AS end_time")
# The run columns PAGE_COLUMNS reads. A state that pages from the lake (no snapshot, not
# every key) holds them too, so a page's run info comes from memory (see page_info).
PAGE_RUN_COLUMNS = ("run_id", "experiment_id", "status", "artifact_uri", "start_time",
                    "end_time")

# Up to this many runs, fold them with constant id lists (pushed into the file
# scans; files are sorted by run id, so most row groups are skipped).
_CONSTANT_IDS = 2000

# The table the mirror keeps: one row per run, run columns then key columns.
STATE_TABLE = "state_wide"

# (limit, offset) -> (SQL, params) selecting the run ids of a search page, in order
# (given ``picks``, SQL over ``r``: those columns instead of the run id)
Select = Callable[..., tuple[str, list[Any]]]


def select_runs(where: tuple[str, list[Any]], order_clause: str, experiments: list[str],
                stages: list[str]) -> Select:
    """The SELECT of a search over the mirror: the ids of the runs of ``experiments`` in
    ``stages`` (lifecycle stages) for which ``where`` (SQL over ``STATE_TABLE AS r``,
    and its params) holds, sorted by ``order_clause``, a page of them if given a limit;
    or, given ``picks`` (SQL over ``r``), those columns of theirs instead of the id.

    No experiment means no run (as MLflow answers a search of unknown experiment names).
    """
    in_experiments = (f"r.experiment_id IN ({placeholders(experiments)})" if experiments
                      else "FALSE")
    body = (f"FROM {STATE_TABLE} AS r WHERE {in_experiments} "
            f"AND r.lifecycle_stage IN ({placeholders(stages, 'stages')}) "
            f"AND ({where[0]}) ORDER BY {order_clause}")
    params: list[Any] = [*experiments, *stages, *where[1]]

    def select(limit: int | None, offset: int, picks: str = "r.run_id"
               ) -> tuple[str, list[Any]]:
        if limit is None:
            return f"SELECT {picks} {body}", params
        return f"SELECT {picks} {body} LIMIT ? OFFSET ?", [*params, limit, offset]

    return select


def picked_rows(con: duckdb.DuckDBPyConnection, select: Select, limit: int | None,
                picks: str) -> pa.Table:
    """``picks`` (SQL over ``STATE_TABLE AS r``) of the runs of a search page (``select``
    of :func:`select_runs`, the first ``limit`` runs), in the page's order.

    The page's row ids first, then those rows: a sort that carries every picked column
    of a million rows costs several times the top-k of the ids (and a newest-first page
    is then one row group). One transaction, so that the row ids stay those of the rows.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    con.execute("BEGIN TRANSACTION")
    try:
        sql, params = select(limit, 0, "r.rowid")
        rowids = [r for (r,) in con.execute(sql, params).fetchall()]
        if len(rowids) <= _CONSTANT_IDS:
            # a list parameter, not constants: DuckDB makes it a semi join whose build
            # side filters the scan, which then reads the picked columns of those rows
            # only (~10x less CPU at a million runs than an IN list, which fetches
            # every column of every row group: its rowid range is the whole table)
            where, params = "r.rowid = ANY(?::BIGINT[])", [rowids]
        else:
            where = f"r.rowid IN ({sql})"
        rows = con.sql(f"SELECT {picks}, r.rowid AS page_rowid FROM {STATE_TABLE} AS r "
                       f"WHERE {where}", params=params or None).to_arrow_table()
    finally:
        con.execute("ROLLBACK")  # it only read
    at = pc.index_in(pa.array(rowids, pa.int64()), value_set=rows["page_rowid"])
    return rows.take(at).drop_columns(["page_rowid"])


@dataclass(frozen=True)
class StateColumns:
    """What ``state_wide`` holds: the column of each loaded (entity, key).

    ``complete`` means every key of the store is loaded: a key without a
    column then belongs to no run.
    """

    columns: Mapping[tuple[str, str], str]
    complete: bool

    def keys(self, entity: str) -> list[tuple[str, str]]:
        """(key, column) of ``entity``'s loaded keys, sorted by key."""
        return sorted((k, c) for (e, k), c in self.columns.items() if e == entity)


class Engine(Protocol):
    """What the mirror needs of its :class:`lakeml.query.QueryEngine` (which owns it)."""

    store: Store
    as_of: Any

    def refresh(self, tables: Iterable[str] | None = None) -> None: ...
    def files(self, table: str) -> list[str]: ...
    def connection(self) -> duckdb.DuckDBPyConnection: ...


class RunsMirror:
    """``state_wide`` of one engine: the runs' current state, one row per run, followed
    from the lake; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._built = False
        self._complete = False
        self._columns: dict[tuple[str, str], str] = {}
        self._run_columns: tuple[str, ...] = RUN_COLUMNS
        self._files: dict[str, frozenset[str]] = {}
        self._snapshot: Snapshot | None = None
        # a whole small store's state_wide as Arrow (PAGE_COLUMNS layout) and each
        # run's row in it, made on first use after each change (see held_rows)
        self._copy: tuple[pa.Table, dict[str, int]] | None = None
        # remote stores: the files the snapshot in force covers (by file_name; None: no
        # snapshot), and this process's saving of its state as a new one (state_save.py)
        self._covered: Mapping[str, frozenset[str]] | None = None
        self._saving: threading.Thread | None = None

    def prepare(self, wanted: Mapping[str, Iterable[str]] | None = None,
                run_columns: Iterable[str] = ()) -> StateColumns:
        """Bring ``state_wide`` up to the store's latest commit, holding the ``wanted``
        keys ({"metrics": {"m0"}, "params": {...}, "tags": {...}}) and, besides
        NARROW_RUN_COLUMNS, these ``run_columns`` (a whole store holds them all)."""
        engine = self._engine
        engine.refresh([*SOURCES, "inputs"])
        files = {t: frozenset(engine.files(t)) for t in SOURCES}
        want = [(entity, key) for entity, keys in (wanted or {}).items() for key in keys]
        runs = {*NARROW_RUN_COLUMNS, *run_columns}
        with self._lock:
            con = engine.connection().cursor()  # a connection of its own for this thread
            try:
                if not self._built or not self._catch_up(con, files):
                    self._build(con, files, want, runs)
                else:
                    missing = [k for k in want if k not in self._columns]
                    if not self._complete and (missing or not runs <= set(self._run_columns)):
                        kept = list(self._columns)
                        if len(kept) + len(missing) > run_fold.MAX_WHOLE_KEYS:
                            kept = []  # a bounded state: keep only this search's keys
                        self._build(con, files, [*kept, *missing],
                                    runs | set(self._run_columns))
            finally:
                con.close()
            self._maybe_save()
            return StateColumns(dict(self._columns), self._complete)

    def wait_saving(self, timeout: float | None = None) -> None:
        """Wait for this state's saving as the store's snapshot, if one is running."""
        saving = self._saving
        if saving is not None:
            saving.join(timeout)

    def _maybe_save(self) -> None:
        """Give a remote store a snapshot for the next process: write one in the
        background if there is none (the first read, which folded only the keys asked:
        see :func:`lakeml.query.run_snapshot.write_soon`), or save a whole state as one
        when the one in force covers too little of the files it holds (see
        :mod:`lakeml.query.state_save`). Called under the lock."""
        from lakeml.query import state_save

        store = self._engine.store
        if store.is_local or self._engine.as_of is not None:
            return
        if self._snapshot is None and not self._complete:
            # once per state; a store past SMALL_STORE_BYTES would keep the process from
            # exiting for its whole fold: `lakeml maintenance snapshot` writes (and
            # publishes) those
            if self._saving is None and data_bytes(
                    f for t in SOURCES for f in self._files[t]) <= run_fold.SMALL_STORE_BYTES:
                self._saving = run_snapshot.write_soon(store)
            return
        if not self._complete or \
                (self._saving is not None and self._saving.is_alive()) or \
                not state_save.stale(store, self._files, self._covered):
            return
        files = dict(self._files)
        self._saving = state_save.start(state_save.begin(self._engine.connection()), store,
                                        self._columns, files)
        self._covered = {t: frozenset(run_snapshot.file_name(store, t, f) for f in files[t])
                         for t in SOURCES}

    # ---- building -----------------------------------------------------------------
    def _build(self, con: duckdb.DuckDBPyConnection, files: dict[str, frozenset[str]],
               want: list[tuple[str, str]], run_columns: set[str]) -> None:
        """(Re)create ``state_wide``: the snapshot's rows where they are current, a fold of
        the lake for every other run."""
        import duckdb

        snapshot = run_snapshot.load(self._engine.store) if self._engine.as_of is None else None
        try:
            self._build_from(con, files, want, run_columns, snapshot)
        except duckdb.Error as exc:
            if snapshot is None:
                raise
            # deleted by a later writer, or damaged (it is a cache): fold the lake
            log.warning("run snapshot %s unreadable (%s); folding the tables", snapshot.path,
                        str(exc).splitlines()[0])
            self._build_from(con, files, want, run_columns, None)

    def _build_from(self, con: duckdb.DuckDBPyConnection, files: dict[str, frozenset[str]],
                    want: list[tuple[str, str]], run_columns: set[str],
                    snapshot: Snapshot | None) -> None:
        store = self._engine.store
        new = snapshot.uncovered(store, files) if snapshot else {t: sorted(files[t])
                                                                  for t in SOURCES}
        # a remote store that no one has saved a snapshot of: fold only the keys asked
        # (the snapshot is written in the background, see _maybe_save)
        first_read = snapshot is None and not store.is_local and self._engine.as_of is None
        keys = None if first_read else self._whole_keys(con, files, new, snapshot)
        self._complete = keys is not None
        if keys is None:
            keys = want
        pages_from_lake = not self._complete and snapshot is None
        self._run_columns = tuple(c for c in RUN_COLUMNS if self._complete or c in run_columns
                                  or (pages_from_lake and c in PAGE_RUN_COLUMNS))
        self._columns = {}
        self._assign(sorted(set(keys)))
        if snapshot is None:
            select, params = fold_select(self._columns, run_columns=self._run_columns)
            con.execute(f"CREATE OR REPLACE TABLE state_wide AS {select}", params)
        else:
            self._touched(con, new)
            con.execute("CREATE OR REPLACE TABLE state_folded AS SELECT run_id FROM state_touched")
            con.execute("CREATE OR REPLACE TABLE state_wide AS "
                        f"{self._from_snapshot(snapshot)} WHERE s.run_id NOT IN "
                        "(SELECT run_id FROM state_folded)")
            self._refold(con)
        self._snapshot = snapshot
        self._covered = snapshot.files if snapshot is not None else None
        self._files = files
        self._built = True
        self._copy = None

    def _from_snapshot(self, snapshot: Snapshot) -> str:
        """SELECT of the snapshot's rows in this state's layout (its keys, its column names)."""
        # quoted, though run_snapshot.load admits only c<n> names: they came from a file
        picks = "".join(
            f", s.{identifier(snapshot.columns[key])} AS {identifier(column)}"
            if key in snapshot.columns
            else f", NULL::{ENTITIES[key[0]][1]} AS {identifier(column)}"
            for key, column in self._columns.items())
        runs = ", ".join(f"s.{identifier(c)}" for c in self._run_columns)
        return f"SELECT {runs}{picks} FROM read_parquet({sql_string(snapshot.path)}) AS s"

    @staticmethod
    def _whole_keys(con: duckdb.DuckDBPyConnection, files: dict[str, frozenset[str]],
                    new: Mapping[str, list[str]], snapshot: Snapshot | None
                    ) -> list[tuple[str, str]] | None:
        """Every key of a store small enough to hold whole (at most SMALL_STORE_BYTES
        and MAX_WHOLE_KEYS keys), else None."""
        if data_bytes(f for t in SOURCES[1:] for f in files[t]) > run_fold.SMALL_STORE_BYTES:
            return None
        bound = run_fold.MAX_WHOLE_KEYS
        found = keys_in(con, {t: read_files(new[t]) for t in SOURCES[1:] if new[t]},
                        limit=bound + 1)
        keys = {*found, *(snapshot.columns if snapshot else ())}
        return sorted(keys) if len(keys) <= bound else None

    def _assign(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Give each new key a column; return the new ones."""
        new = [k for k in keys if k not in self._columns]
        for key in new:
            self._columns[key] = f"c{len(self._columns)}"
        return new

    # ---- following the store -----------------------------------------------------------
    def _catch_up(self, con: duckdb.DuckDBPyConnection, files: dict[str, frozenset[str]]
                  ) -> bool:
        """Fold again the runs named in the files added since the last look; False (and
        nothing done) when a whole state would outgrow MAX_WHOLE_KEYS: the caller builds
        anew, loading keys on demand."""
        new = {t: sorted(files[t] - self._files[t]) for t in SOURCES}
        if not any(new.values()):
            self._files = files
            return True
        added: list[tuple[str, str]] = []
        if self._complete:
            bound = run_fold.MAX_WHOLE_KEYS
            added = [k for k in keys_in(con, {t: read_files(new[t]) for t in SOURCES[1:]
                                               if new[t]}, limit=bound + 1)
                     if k not in self._columns]
            if len(self._columns) + len(added) > bound:
                return False
        self._touched(con, new)
        if self._complete:
            for entity, key in self._assign(added):
                con.execute(f"ALTER TABLE state_wide ADD COLUMN "
                            f"{self._columns[(entity, key)]} {ENTITIES[entity][1]}")
        self._copy = None
        con.execute("DELETE FROM state_wide WHERE run_id IN (SELECT run_id FROM state_touched)")
        if self._snapshot is not None:
            con.execute("INSERT INTO state_folded SELECT run_id FROM state_touched")
        self._refold(con)
        self._files = files
        return True

    def _touched(self, con: duckdb.DuckDBPyConnection, new: Mapping[str, list[str]]) -> None:
        """Fill table ``state_touched`` with the run ids of the ``new`` files."""
        scans = " UNION ".join(f"SELECT run_id FROM {read_files(paths)}"
                               for paths in new.values() if paths)
        con.execute("CREATE OR REPLACE TABLE state_touched AS "
                    f"{scans or 'SELECT NULL::VARCHAR AS run_id WHERE false'}")

    def _refold(self, con: duckdb.DuckDBPyConnection) -> None:
        """Insert the folded rows of the runs in ``state_touched``."""
        touched = [r for (r,) in con.execute("SELECT run_id FROM state_touched").fetchall()]
        if not touched:
            return
        if len(touched) <= _CONSTANT_IDS:
            ids, ids_params = f"run_id IN ({placeholders(touched)})", list(touched)
        else:
            ids, ids_params = "run_id IN (SELECT run_id FROM state_touched)", []
        select, params = fold_select(self._columns, ids, ids_params, self._run_columns)
        con.execute(f"INSERT INTO state_wide BY NAME {select}", params)

    # ---- pages -----------------------------------------------------------------------
    def held_rows(self, run_ids: list[str]) -> tuple[pa.Table, StateColumns]:
        """A whole store's rows of ``run_ids``, in that order, in PAGE_COLUMNS layout
        with every key column, and the columns.

        Taken from an Arrow copy of the state kept until the state next changes:
        DuckDB's projection of every column through a sort costs more than the
        sort itself, and pages are read far more often than stores change.
        """
        import pyarrow as pa

        with self._lock:
            if self._copy is None:
                picks = "".join(f", r.{c}" for c in self._columns.values())
                cur = self._engine.connection().cursor()
                try:
                    table = cur.sql(f"SELECT {PAGE_COLUMNS}{picks} FROM state_wide AS r"
                                    ).to_arrow_table()
                finally:
                    cur.close()
                self._copy = table, {r: i for i, r in enumerate(table["run_id"].to_pylist())}
            table, row_of = self._copy
            columns = StateColumns(dict(self._columns), self._complete)
        return table.take(pa.array([row_of[r] for r in run_ids], pa.int64())), columns

    def page_info(self, cur: duckdb.DuckDBPyConnection, chosen: str, ids: list[str] | None
                  ) -> pa.Table | None:
        """PAGE_COLUMNS and ``ord`` of the runs of ``chosen`` (a relation of run_id, ord
        on ``cur``), in ``ord`` order, from ``state_wide``: no lake scan. None when the
        state does not hold those columns. ``ids``: the same runs as a constant list
        (filters the state faster), or None."""
        with self._lock:
            if not self._built or not set(PAGE_RUN_COLUMNS) <= set(self._run_columns):
                return None
            where = f"WHERE run_id IN ({placeholders(ids)})" if ids else ""
            return cur.sql(
                f"SELECT {PAGE_COLUMNS}, c.ord FROM {chosen} c JOIN "
                f"(SELECT * FROM {STATE_TABLE} {where}) r USING (run_id) ORDER BY c.ord",
                params=ids or None).to_arrow_table()

    def snapshot_page(self, run_ids: pa.ChunkedArray) -> tuple[pa.Table, StateColumns] | None:
        """The snapshot's rows of those ``run_ids`` that are current, in PAGE_COLUMNS
        layout with every snapshot key, and their columns; None without a snapshot.
        Runs folded from the lake since (left out of the table) are the caller's."""
        import duckdb
        import pyarrow as pa

        with self._lock:
            snapshot = self._snapshot
            if snapshot is None:
                return None
            if not os.path.exists(snapshot.path):
                self._built = False  # pruned: the next prepare() takes the new one
                return None  # the caller reads the lake
            columns = StateColumns(dict(snapshot.columns), True)
            picks = "".join(f", r.{c}" for c in snapshot.columns.values())
            ids = run_ids.to_pylist() if len(run_ids) <= _CONSTANT_IDS else None
            chosen = f"r.run_id IN ({placeholders(ids)})" if ids else \
                "r.run_id IN (SELECT run_id FROM page_ids)"
            cur = self._engine.connection().cursor()
            try:
                cur.register("page_ids", pa.table({"run_id": run_ids}))
                table = cur.sql(
                    f"SELECT {PAGE_COLUMNS}{picks} FROM read_parquet({sql_string(snapshot.path)}) "
                    f"AS r WHERE {chosen} AND r.run_id NOT IN (SELECT run_id FROM state_folded)",
                    params=ids or None).to_arrow_table()
            except duckdb.Error:
                self._built = False  # pruned or damaged: the next prepare() looks again
                return None  # the caller reads the lake
            finally:
                cur.close()
            return table, columns
