"""DuckDB over the current snapshot of each Delta table, with the sql/ views.

Each table is exposed as ``lake_<table>``, a view over ``read_parquet`` of the
exact data files of its latest Delta snapshot (never a glob: removed files stay
on disk until vacuum). The view is rebuilt only when the table's version
changes, so repeated queries of an unchanged store re-open nothing. The
current-state views of sql/views/ (``runs``, ``metrics``, ``latest_metrics``…)
are defined over those.

User SQL (:meth:`QueryEngine.sql`) runs in a second database with the same
views, locked down to reading the tables' files (:mod:`lakeml.query.sandbox`).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from lakeml.errors import InvalidArgument, StoreUnavailable
from lakeml.query.as_of import parse_as_of
from lakeml.query.lake import NAMES, LakeViews
from lakeml.query.run_state import RunsMirror
from lakeml.query.sandbox import check_read_only
from lakeml.store import schemas

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from lakeml.store import Store


def _with_sources(tables: Iterable[str]) -> list[str]:
    """``tables`` and the tables they are derived from: the writer derives a table's rows
    (metric_latest's) from its source's only as it commits them, so a read of the derived
    table has unflushed rows whenever its source has (the growing tables have no buffer
    here: their writers commit on their own)."""
    names = [n for n in tables if n in schemas.TABLES]
    return [*names, *(schemas.DERIVED[n] for n in names if n in schemas.DERIVED)]


class QueryEngine:
    """An in-process DuckDB database whose views follow a store's tables (and a second,
    sandboxed one with the same views for user SQL, made on its first use).

    Example:
        >>> engine = QueryEngine(store)                              # doctest: +SKIP
        >>> engine.sql("SELECT count(*) FROM runs").fetchall()       # doctest: +SKIP
    """

    def __init__(self, store: Store, *, as_of: Any = None, flush_first: bool = True) -> None:
        self._store = store
        self._as_of = parse_as_of(as_of)
        # read this process's buffered rows by committing them first (not from the flusher)
        self._flush_first = flush_first and self._as_of is None
        #: True once :meth:`read_commits_only` was called (a server worker): the tracking
        #: service then validates writes against other workers' commits (run_freshness.py)
        self.commits_only = False
        self._lake = LakeViews(store, self._as_of)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._sandbox: duckdb.DuckDBPyConnection | None = None  # user SQL's database
        self._lock = threading.RLock()
        self._state: RunsMirror | None = None

    def _connect(self, *, sandboxed: bool = False) -> duckdb.DuckDBPyConnection:
        """A database of the lake's views (see :class:`lakeml.query.lake.LakeViews`);
        ``sandboxed``: locked to reading the tables' folders."""
        return self._lake.connect(sandboxed=sandboxed)

    def refresh(self, tables: Iterable[str] | None = None) -> None:
        """Point the ``lake_*`` views of ``tables`` (default: all) at their latest snapshots.

        If this process has rows of those tables (or of the tables they are
        derived from) not yet committed, the writer commits first, so a process
        always reads its own writes. With nothing pending this costs a few
        attribute reads.
        """
        names = list(tables) if tables is not None else list(NAMES)
        if self._flush_first and self._store.has_unflushed(_with_sources(names)):
            self._store.flush(report=False)  # rejected rows are the logging code's to hear
        with self._lock:
            if self._con is None:
                self._con = self._connect()
            self._lake.refresh(names)

    def read_commits_only(self) -> None:
        """From now on, reads see committed rows only: this process's buffered rows are not
        committed first. For a server whose write requests each wait for the commit of
        their rows (lakeml.server.group_commit): a read must neither commit other
        requests' rows inside its lock nor show a write not yet acknowledged. A remote
        store's tables are then listed on every read (no freshness window)."""
        self._flush_first = False
        self.commits_only = True
        self._store.list_on_every_read()  # other workers' commits, at once

    def connection(self) -> duckdb.DuckDBPyConnection:
        """The engine's own DuckDB connection (for tables it materialises)."""
        with self._lock:
            if self._con is None:
                self._con = self._connect()
            return self._con

    @property
    def run_state(self) -> RunsMirror:
        """The runs' current state in memory, used by searches (created on first use)."""
        with self._lock:
            if self._state is None:
                self._state = RunsMirror(self)
            return self._state

    def files(self, table: str) -> list[str]:
        """The data files of ``table`` as of the last refresh."""
        return self._lake.files(table)

    @property
    def store(self) -> Store:
        """The store whose tables this engine reads."""
        return self._store

    @property
    def as_of(self) -> Any:
        """The version or time this engine reads at (None: the latest commits)."""
        return self._as_of

    def versions(self) -> dict[str, int]:
        """The Delta version each table was read at by the last refresh."""
        return self._lake.versions()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB cursor over the refreshed views (one per thread or call)."""
        self.refresh()
        assert self._con is not None
        return self._con.cursor()

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None
            ) -> duckdb.DuckDBPyRelation:
        """Run user SQL ``query`` (with ``?`` or ``$name`` parameters) over the current views.

        One read-only query, on a fresh cursor of the sandboxed database (see
        :mod:`lakeml.query.sandbox`): any other statement, or a read of a file
        outside the store's tables, raises InvalidArgument naming it.
        """
        with self._lock:
            if self._sandbox is None:
                self._sandbox = self._connect(sandboxed=True)
            cur = self._sandbox.cursor()
        check_read_only(cur, query)  # before the refresh: a refusal commits nothing
        self.refresh()
        with self._translated(query, user_sql=True):
            return cur.sql(query, params=params)

    def columns(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None,
                tables: Iterable[str] | None = None) -> dict[str, Any]:
        """Like :meth:`rows`, but the result as numpy arrays by column name."""
        return self._run(query, params, tables).fetchnumpy()

    def arrow(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None,
              tables: Iterable[str] | None = None) -> pa.Table:
        """Like :meth:`rows`, but the result as one Arrow table."""
        self.refresh(tables)
        with self._translated(query):
            return self.connection().cursor().sql(query, params=params).to_arrow_table()

    def rows(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None,
             tables: Iterable[str] | None = None) -> list[tuple[Any, ...]]:
        """Run ``query`` after refreshing only ``tables``, and fetch all rows."""
        return self._run(query, params, tables).fetchall()

    def _run(self, query: str, params: Sequence[Any] | dict[str, Any] | None,
             tables: Iterable[str] | None) -> duckdb.DuckDBPyConnection:
        self.refresh(tables)
        with self._translated(query):
            return self.connection().cursor().execute(query, params)

    @contextmanager
    def _translated(self, query: str, *, user_sql: bool = False) -> Iterator[None]:
        """DuckDB's errors as lakeml's: unreadable files, and (for user SQL) bad SQL."""
        import duckdb

        try:
            yield
        except duckdb.PermissionException as exc:
            raise InvalidArgument(f"SQL may read only the store's tables: {exc}\n"
                                  f"  query: {query}") from exc
        except duckdb.IOException as exc:
            raise StoreUnavailable(f"cannot read the store {self._store.uri!r}: {exc}") from exc
        except duckdb.Error as exc:
            if not user_sql:
                raise
            raise InvalidArgument(f"SQL failed: {exc}\n  query: {query}") from exc
