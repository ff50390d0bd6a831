"""The registry's event log mirrored in an in-memory DuckDB table, kept current cheaply.

The log is append-only, so catching up with the Delta table means reading
only the data files added since the last look; a compaction (files removed)
triggers one full reload. Every read first asks Delta for the latest version
(one log listing), so answers are never stale. The current-state views of
sql/views/ (registered_models, model_versions…) are defined over the mirror;
with ``as_of`` they are redefined, in one cursor, over the events up to that
time: the registry as it was then.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from lakeml.query.sqlfiles import view_definitions
from lakeml.sqltext import configure, sql_string
from lakeml.store import schemas

if TYPE_CHECKING:
    import duckdb

    from lakeml.store import Store

TABLE = "registry_log"
VIEWS = ("registered_models", "model_versions", "model_aliases", "registered_model_tags",
         "model_version_tags", "transition_requests", "model_version_comments",
         "registry_events")
_COLUMNS = ", ".join(f'"{f.name}"' for f in schemas.REGISTRY_LOG)


def _ddl() -> str:
    types = {"string": "VARCHAR", "int64": "BIGINT", "timestamp[us, tz=UTC]": "TIMESTAMPTZ"}
    return ", ".join(f'"{f.name}" {types[str(f.type)]}' for f in schemas.REGISTRY_LOG)


def _statements() -> list[str]:
    return [stmt for name, stmt in view_definitions() if name in VIEWS]


class RegistryState:
    """The mirror of one store's registry log; see the module docstring."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._con: duckdb.DuckDBPyConnection | None = None
        self._files: list[str] = []
        self._version = -1
        self._lock = threading.Lock()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        import duckdb

        con = configure(duckdb.connect())
        con.execute(f"CREATE TABLE reg_log ({_ddl()})")
        # Point reads fetch one model's events: indexes make that ~1 ms at a million versions.
        con.execute("CREATE INDEX reg_log_model ON reg_log (model_id)")
        con.execute("CREATE INDEX reg_log_name ON reg_log (name)")
        con.execute("CREATE VIEW lake_registry_log AS SELECT * FROM reg_log")
        for statement in _statements():
            con.execute(statement)
        return con

    def refresh(self) -> int:
        """Catch up with the table's latest version; returns that version."""
        version, files = self._store.snapshot_files(TABLE)
        with self._lock:
            if self._con is None:
                self._con = self._connect()
            if version == self._version:
                return version
            current = set(files)
            if not current.issuperset(self._files):  # compacted: start over
                self._con.execute("DELETE FROM reg_log")
                self._files = []
            loaded = set(self._files)
            new = [f for f in files if f not in loaded]
            if new:
                listed = ", ".join(sql_string(f) for f in new)
                self._con.execute(f"INSERT INTO reg_log SELECT {_COLUMNS} FROM read_parquet("
                                  f"[{listed}], hive_partitioning = false, union_by_name = true)")
            self._files = list(files)
            self._version = version
            return version

    def cursor(self, as_of: datetime | None = None) -> duckdb.DuckDBPyConnection:
        """A cursor over the current registry, or over the events up to ``as_of``."""
        self.refresh()
        assert self._con is not None
        cur = self._con.cursor()
        if as_of is not None:
            cut = sql_string(as_of.isoformat())
            cur.execute("CREATE TEMP VIEW lake_registry_log AS SELECT * FROM main.reg_log "
                        f"WHERE timestamp <= {cut}::TIMESTAMPTZ")
            for statement in _statements():
                cur.execute(statement.replace("CREATE OR REPLACE VIEW",
                                              "CREATE OR REPLACE TEMP VIEW", 1))
        return cur
