"""The registry's event log mirrored in an in-memory DuckDB table, kept current cheaply.

The log is append-only, so catching up with the Delta table means reading
only the data files added since the last look; after a compaction (files
replaced by one with the same rows) the new file is read once and only the
rows the mirror lacks are kept. Every read first asks Delta for the latest version
(one log listing), so answers are never stale. The current-state views of
sql/views/ (registered_models, model_versions…) are defined over the mirror;
with ``as_of`` they are redefined, in one cursor, over the events up to that
time: the registry as it was then.

The registry's rules live in :mod:`lakeml.registry`: a state is made with the
function that folds one model's events (``lakeml.registry.fold.fold``), which
point reads and the fold cache apply; this module only follows, loads and
caches.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Generic, Sequence, TypeVar

from lakeml.query.lake import DeltaFollower, column_ddl
from lakeml.query.sqlfiles import view_definitions
from lakeml.sqltext import configure, read_files, sql_string
from lakeml.store import schemas

if TYPE_CHECKING:
    import duckdb

    from lakeml.query.registry_snapshot import Snapshot
    from lakeml.store import Store

log = logging.getLogger(__name__)

TABLE = "registry_log"
VIEWS = ("registered_models", "model_versions", "model_aliases", "registered_model_tags",
         "model_version_tags", "transition_requests", "model_version_comments",
         "registry_events")
_COLUMNS = ", ".join(f'"{f.name}"' for f in schemas.REGISTRY_LOG)

State = TypeVar("State")  # what a fold makes of one model's events (registry.fold.ModelState)
# fold(model_id, events by seq) -> its state; events are rows of the columns asked for
Fold = Callable[[str, Sequence[tuple]], Any]


def _statements() -> list[str]:
    return [stmt for name, stmt in view_definitions() if name in VIEWS]


class FoldCache(Generic[State]):
    """The folded state of the models read most recently, each with the number of mirror
    rows it has seen (see RegistryBase._fold)."""

    def __init__(self, size: int = 20_000) -> None:
        from collections import OrderedDict

        self._items: OrderedDict[str, tuple[State, int]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, model_id: str) -> tuple[State, int] | None:
        with self._lock:
            found = self._items.get(model_id)
            if found is not None:
                self._items.move_to_end(model_id)
            return found

    def put(self, model_id: str, state: State, rows: int) -> None:
        with self._lock:
            current = self._items.get(model_id)
            if current is not None and current[1] > rows:
                return  # a thread folded further meanwhile
            self._items[model_id] = (state, rows)
            self._items.move_to_end(model_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class RegistryState:
    """The mirror of one store's registry log; see the module docstring.

    ``fold`` folds one model's events (rows of ``event_columns``, by seq) into
    its state: point reads from the snapshot apply it.
    """

    def __init__(self, store: Store, fold: Fold, event_columns: Sequence[str]) -> None:
        self._store = store
        self._fold = fold
        self._event_columns = list(event_columns)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._log = DeltaFollower(store, TABLE)
        self._lock = threading.Lock()
        self.folds: FoldCache[Any] = FoldCache()
        self._names: dict[str, set[str]] = {}  # every name a model ever had -> model ids
        self._indexed = False
        self.max_seq = 0  # the highest seq in the mirror: new events are numbered above it
        self.rows = 0  # rows in the mirror; they are only ever appended, so rowid < rows is
        #                a fixed prefix that fold caches can refer to
        self._points: dict[str, tuple[int, list[Any]]] = {}  # see point_states
        self._saver: threading.Thread | None = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        con = configure(duckdb.connect())
        con.execute(f"CREATE TABLE reg_log ({column_ddl(schemas.REGISTRY_LOG)})")
        con.execute("CREATE VIEW lake_registry_log AS SELECT * FROM reg_log")
        for statement in _statements():
            con.execute(statement)
        return con

    def refresh(self) -> tuple[int, int]:
        """Catch up with the table's latest version; returns it and the mirror's row count."""
        version, files = self._log.look()
        with self._lock:
            if self._con is None:
                self._con = self._connect()
            seen = -1 if self._log.version is None else self._log.version
            if version <= seen:  # another thread got as far, or further
                return seen, self.rows
            # A compaction replaces files by one holding the same rows: load what is
            # new, and when files went away keep only rows the mirror lacks.
            compacted = self._log.compacted(files)
            new = self._log.added(files)
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                names, new_max = self._load(con, new, compacted) if new else ([], 0)
                if not self._indexed:
                    # Point reads fetch one model's events: the index makes that ~1 ms at
                    # a million versions. Built after the first load (faster than during).
                    con.execute("CREATE INDEX reg_log_model ON reg_log (model_id)")
                rows = con.execute("SELECT count(*) FROM reg_log").fetchall()[0][0]
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            self._indexed = True
            for name, model_id in names:
                self._names.setdefault(name, set()).add(model_id)
            self._log.take(version, files)
            self.rows, self.max_seq = rows, max(self.max_seq, new_max)
        return version, rows

    @staticmethod
    def _load(con: duckdb.DuckDBPyConnection, files: list[str], compacted: bool
              ) -> tuple[list[tuple[str, str]], int]:
        """Insert the rows of ``files``; returns the (name, model id) pairs they name and
        their highest seq."""
        con.execute(f"CREATE OR REPLACE TEMP TABLE reg_new AS SELECT {_COLUMNS} FROM "
                    f"{read_files(files)}")
        if compacted:
            con.execute("INSERT INTO reg_log SELECT * FROM reg_new AS n WHERE NOT EXISTS ("
                        "SELECT 1 FROM reg_log AS r WHERE r.seq = n.seq AND "
                        "r.seq >= (SELECT min(seq) FROM reg_new) AND r.model_id = n.model_id "
                        "AND r.action = n.action AND r.outcome = n.outcome AND "
                        "r.timestamp = n.timestamp AND r.key IS NOT DISTINCT FROM n.key)")
        else:
            con.execute("INSERT INTO reg_log SELECT * FROM reg_new")
        names = con.execute("SELECT DISTINCT name, model_id FROM reg_new WHERE outcome = "
                            "'applied' AND action IN ('create_model', 'rename_model')"
                            ).fetchall()
        new_max = con.execute("SELECT coalesce(max(seq), 0) FROM reg_new").fetchall()[0][0]
        con.execute("DROP TABLE reg_new")
        return names, new_max

    # ---- point reads without the mirror (see lakeml.query.registry_snapshot) ---------
    def point_states(self, name: str) -> list[Any] | None:
        """The current state of every model ever called ``name``, read from the snapshot
        and the files after it; None when the mirror should answer (it is loaded, or
        there is no usable snapshot)."""
        from lakeml.query import registry_snapshot as snapshot

        if self._con is not None:
            return None
        version, files = self._log.look()
        cached = self._points.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = snapshot.readable(self._store, files)
        if found is None:
            return None
        try:
            events = snapshot.point_events(*found, name, self._event_columns)
        except (OSError, ValueError) as exc:  # a snapshot file deleted under the read, or
            #                                   unreadable (ArrowInvalid): use the mirror
            log.debug("registry point read of %r fell back to the log: %s", name, exc)
            return None
        states = [self._fold(model_id, rows) for model_id, rows in events.items()]
        if len(self._points) >= 10_000:
            self._points.clear()
        self._points[name] = (version, states)
        return states

    def save_soon(self) -> None:
        """Write a new snapshot on a thread of its own if the mirror is loaded and the
        current one is missing or stale. The thread is not a daemon: a process that
        started it finishes it at exit."""
        from lakeml.query import registry_snapshot as snapshot

        files = self._log.look()[1]
        with self._lock:
            if self._con is None or (self._saver is not None and self._saver.is_alive()):
                return
            if not snapshot.is_stale(self._store, files):
                return
            self._saver = threading.Thread(target=self._save, name="lakeml-registry-snapshot")
            self._saver.start()

    def wait_saved(self, timeout: float | None = None) -> None:
        """Wait for this state's snapshot writer, if one is running."""
        saver = self._saver
        if saver is not None:
            saver.join(timeout)

    def save(self) -> Snapshot:
        """Write a snapshot of the mirror as it is now (loading it first if needed)."""
        from lakeml.query import registry_snapshot as snapshot

        self.refresh()
        with self._lock:
            assert self._con is not None
            # A transaction pins the rows the file list names, while refreshes go on.
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            cur.execute("SELECT count(*) FROM reg_log").fetchall()
            files = list(self._log.files)
        try:
            written = snapshot.write(self._store, cur, files)
            cur.execute("COMMIT")
        finally:
            cur.close()
        return written

    def _save(self) -> None:
        try:
            self.save()
        except Exception:  # noqa: BLE001 - a cache; readers load the log without it
            log.exception("could not write the registry snapshot of %s", self._store.uri)

    def model_ids_named(self, name: str) -> list[str]:
        """Ids of the models that have ever been called ``name`` (live or not), oldest first."""
        with self._lock:
            return sorted(self._names.get(name, ()))

    def cursor(self, as_of: datetime | None = None) -> duckdb.DuckDBPyConnection:
        """A cursor over the current registry, or over the events up to ``as_of``."""
        return self.versioned_cursor(as_of)[0]

    def versioned_cursor(self, as_of: datetime | None = None
                         ) -> tuple[duckdb.DuckDBPyConnection, int]:
        """A cursor as :meth:`cursor`, and the table version it holds at least."""
        version = self.refresh()[0]
        assert self._con is not None
        cur = self._con.cursor()
        if as_of is not None:
            cut = sql_string(as_of.isoformat())
            cur.execute("CREATE TEMP VIEW lake_registry_log AS SELECT * FROM main.reg_log "
                        f"WHERE timestamp <= {cut}::TIMESTAMPTZ")
            for statement in _statements():
                cur.execute(statement.replace("CREATE OR REPLACE VIEW",
                                              "CREATE OR REPLACE TEMP VIEW", 1))
        return cur, version
