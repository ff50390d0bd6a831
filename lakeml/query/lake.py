"""The store's Delta tables as DuckDB sees them: one follower of a table's files, one
Arrow→DuckDB type map, and the ``lake_<table>`` views every reader builds on.

A Delta table only ever moves forward by commits that add data files (and,
on compaction, remove some whose rows a new file repeats). What lakeml keeps in
DuckDB follows a table the same way everywhere: look up the latest version and
its files (one log listing), and take in only what changed since the last look.
:class:`DeltaFollower` is that bookkeeping; :class:`LakeViews` points a view per
table at its files, and :class:`lakeml.query.registry_state.RegistryState` loads
the registry log's new files into a table of its own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

from lakeml.query import grown
from lakeml.query.as_of import version_for
from lakeml.query.sandbox import lock_down
from lakeml.query.sqlfiles import view_definitions
from lakeml.sqltext import configure, identifier, read_files
from lakeml.store import open_tables, schemas
from lakeml.store.file_cache import store_folder

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb
    import pyarrow as pa

    from lakeml.store import Store

# The tables a lake reads: the fixed ones and those whose columns grow (store/open_tables.py)
NAMES = (*schemas.TABLES, *open_tables.TABLES)


def duckdb_type(arrow_type: Any) -> str:
    """The DuckDB column type of one of the Arrow types lakeml's schemas use.

    Example:
        >>> import pyarrow as pa
        >>> duckdb_type(pa.timestamp("us", tz="UTC"))
        'TIMESTAMPTZ'
    """
    import pyarrow as pa

    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    known = {pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.int64(): "BIGINT",
             pa.bool_(): "BOOLEAN", pa.list_(pa.string()): "VARCHAR[]",
             pa.map_(pa.string(), pa.string()): "MAP(VARCHAR, VARCHAR)"}
    if arrow_type not in known:
        raise TypeError(f"no DuckDB type for Arrow type {arrow_type} in lakeml's schemas")
    return known[arrow_type]


def column_ddl(schema: pa.Schema) -> str:
    """``"name" TYPE, …``: the columns of a CREATE TABLE holding rows of ``schema``."""
    return ", ".join(f"{identifier(f.name)} {duckdb_type(f.type)}" for f in schema)


class DeltaFollower:
    """The version and data files of one Delta table as a reader last took them in.

    ``look`` lists the table's latest (or ``as_of``) version and files; the
    reader loads what :meth:`added` names, then :meth:`take` records it. Not
    locked: each owner serialises its own looks and takes.

    Example:
        >>> follower = DeltaFollower(store, "params")                # doctest: +SKIP
        >>> version, files = follower.look()                         # doctest: +SKIP
        >>> follower.added(files)   # every file, the first time     # doctest: +SKIP
    """

    def __init__(self, store: Store, table: str) -> None:
        self.store = store
        self.table = table
        self.version: int | None = None  # None: nothing taken in yet
        self.files: list[str] = []

    def look(self, as_of: int | datetime | None = None) -> tuple[int, list[str]]:
        """(version, data files) of the table now, or at ``as_of``."""
        return self.store.snapshot_files(self.table, as_of)

    def added(self, files: Iterable[str]) -> list[str]:
        """Of ``files``, those not taken in yet, in their order."""
        known = set(self.files)
        return [f for f in files if f not in known]

    def compacted(self, files: Iterable[str]) -> bool:
        """Whether some file taken in is gone from ``files``: a compaction replaced it by
        one repeating its rows."""
        return not set(files).issuperset(self.files)

    def take(self, version: int, files: Iterable[str]) -> None:
        """Record that ``version`` (of these ``files``) is taken in."""
        self.version, self.files = version, list(files)


class LakeViews:
    """A view ``lake_<table>`` per table of the store over the data files of its latest
    (or ``as_of``: a parsed :func:`lakeml.query.as_of.parse_as_of`) snapshot, and the
    sql/ views over those, in every database it connected. Callers serialise
    :meth:`connect` and :meth:`refresh`.

    Example:
        >>> lake = LakeViews(store)                                  # doctest: +SKIP
        >>> con = lake.connect(); lake.refresh(["runs"])             # doctest: +SKIP
        >>> con.sql("SELECT count(*) FROM runs").fetchall()          # doctest: +SKIP
    """

    def __init__(self, store: Store, as_of: datetime | dict[str, int] | None = None) -> None:
        self.store = store
        self.as_of = as_of
        self._follow = {name: DeltaFollower(store, name) for name in NAMES}
        self._columns: dict[str, pa.Schema] = {}  # a growing table's, at its version
        self._sources: dict[str, str] = {}  # the FROM of each lake_* view (default: empty)
        self._databases: list[duckdb.DuckDBPyConnection] = []

    def connect(self, *, sandboxed: bool = False) -> duckdb.DuckDBPyConnection:
        """A new database whose ``lake_*`` views read the files of the last refresh (none
        yet: empty) and whose sql/ views exist; ``sandboxed``: locked to reading the
        tables' folders. Later refreshes move its views too.

        DuckDB binds a view when it is queried, so the sql/ views defined here
        follow every later redefinition of the ``lake_*`` views beneath them.
        """
        import duckdb

        con = configure(duckdb.connect())
        if sandboxed:
            folders = [f"{self.store.table_uri(name)}/" for name in NAMES]
            if not self.store.is_local:  # its data files are read from their local copies
                folders = [f"{store_folder(self.store.uri)}{os.sep}"]
            lock_down(con, folders)
        for name, schema in schemas.TABLES.items():
            # DDL, not an empty Arrow table: DuckDB's first Arrow scan costs 0.2 s.
            con.execute(f"CREATE TABLE empty_{name} ({column_ddl(schema)})")
            self._point(con, name)
        for name in open_tables.TABLES:
            self._point(con, name)
        for _, statement in view_definitions():
            con.execute(statement)
        self._databases.append(con)
        return con

    def _point(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        """(Re)define view ``lake_<name>`` over its current source."""
        source = self._sources.get(name, f"empty_{name}")
        schema = schemas.TABLES.get(name)
        if schema is None:  # a growing table: its columns at the version read
            schema = self._columns.get(name) or open_tables.core_schema(name)
            if name not in self._sources:
                ddl = grown.empty_ddl(schema, duckdb_type)
                con.execute(f"CREATE OR REPLACE TABLE empty_{name} ({ddl})")
        columns = ", ".join(identifier(f.name) for f in schema)
        con.execute(f"CREATE OR REPLACE VIEW lake_{name} AS SELECT {columns} FROM {source}")

    def refresh(self, names: Iterable[str]) -> None:
        """Point the ``lake_*`` views of tables ``names`` at their latest snapshots (an
        ``as_of`` lake reads each table once, at that point)."""
        todo = [n for n in names
                if self.as_of is None or self._follow[n].version is None]
        looks = self._look_all(todo)
        for name in todo:
            follower = self._follow[name]
            version, files = looks[name]
            if follower.version == version:
                continue
            if name in open_tables.TABLES:
                self._columns[name] = self.store.schema_at(name, version)
            if files and name in open_tables.TABLES:
                self._sources[name] = grown.source(self._columns[name], files, duckdb_type)
            elif files:
                self._sources[name] = read_files(files)
            else:
                self._sources.pop(name, None)
            for con in self._databases:
                self._point(con, name)
            follower.take(version, files)

    def _look_all(self, names: list[str]) -> dict[str, tuple[int, list[str]]]:
        """Each table's (version, files) now (or as of the lake's time). On a remote
        store each look is a few round trips (opening the table, fetching new files), so
        the tables are looked at in parallel there."""
        def look(name: str) -> tuple[int, list[str]]:
            return self._follow[name].look(
                None if self.as_of is None else version_for(self.as_of, name))

        if self.store.is_local or len(names) < 2:
            return {name: look(name) for name in names}
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(8, len(names))) as pool:
            return dict(zip(names, pool.map(look, names)))

    def files(self, table: str) -> list[str]:
        """The data files of ``table`` as of the last refresh."""
        return list(self._follow[table].files)

    def versions(self) -> dict[str, int]:
        """The Delta version each table was read at by the last refresh."""
        return {name: f.version for name, f in self._follow.items()
                if f.version is not None and f.version >= 0}  # -1: not created yet
