"""Current state of the runs held in the engine's DuckDB: one row per run, for searches.

The views of sql/views/ fold the append-only logs into current state on every
query: at a million runs that costs about a second. A search instead reads
``state_wide``, one row per run with

* the columns of the ``runs`` view (run_id, experiment_id, status, times…), and
* one column per (entity, key) loaded so far, named ``c0``, ``c1``… (generated
  names: keys are user text and never become SQL text; :class:`StateColumns`
  maps them). Metrics hold the latest value, params the first, tags the
  current one, by the same rules as the views.

A small store (keyed tables under :data:`COMPLETE_BYTES`) is loaded whole, every
key at once, so a search answers with one query over memory and fills its page
from the same row. A large one loads the keys searched so far.

The state follows the store without re-reading it: each table's data files
are remembered, and when a table moves, only the runs named in its new files
are recomputed from the lake and replaced. Tables are append-only (compaction
rewrites rows, never changes them), so a run absent from every new file has
not changed.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

from lakeml.sqltext import placeholders, sql_string

if TYPE_CHECKING:
    import duckdb

    from lakeml.query.engine import QueryEngine

# Append-only tables whose rows make up a run's current state.
SOURCES = ("runs", "params", "metric_latest", "tags")

# Stores whose params, metric_latest and tags files together are at most this
# big (10,000 runs of 10 params and 10 metrics: ~1.5 MB) are loaded whole.
COMPLETE_BYTES = 64 << 20

# Up to this many runs, recompute them with constant id lists (pushed into the
# file scans; files are sorted by run id, so most row groups are skipped).
_CONSTANT_IDS = 2000

# entity -> (raw table, SQL type of its value, the aggregate giving a key's current value).
# The same rules as sql/views/ (tests/query/test_run_state.py compares them).
ENTITIES = {
    "metrics": ("metric_latest", "DOUBLE",
                "arg_max(value, struct_pack(step, timestamp, value))"),
    "params": ("params", "VARCHAR", "min_by(value, timestamp)"),
    "tags": ("tags", "VARCHAR", "arg_max_null(CASE WHEN deleted THEN NULL ELSE value END, seq)"),
}


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


class RunState:
    """``state_wide`` of one engine; see the module docstring."""

    def __init__(self, engine: QueryEngine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._built = False
        self._complete = False
        self._columns: dict[tuple[str, str], str] = {}
        self._files: dict[str, frozenset[str]] = {}

    def prepare(self, wanted: Mapping[str, Iterable[str]] | None = None) -> StateColumns:
        """Bring ``state_wide`` up to the store's latest commit, holding the ``wanted``
        keys ({"metrics": {"m0"}, "params": {...}, "tags": {...}})."""
        engine = self._engine
        engine.refresh([*SOURCES, "inputs"])
        files = {t: frozenset(engine.files(t)) for t in SOURCES}
        want = [(entity, key) for entity, keys in (wanted or {}).items() for key in keys]
        with self._lock:
            con = engine.connection()
            if not self._built:
                self._build(con, files, want)
            else:
                self._catch_up(con, files)
                missing = [k for k in want if k not in self._columns]
                if missing and not self._complete:
                    self._add_keys(con, missing)
            return StateColumns(dict(self._columns), self._complete)

    # ---- building -----------------------------------------------------------------
    def _build(self, con: duckdb.DuckDBPyConnection, files: dict[str, frozenset[str]],
               want: list[tuple[str, str]]) -> None:
        self._complete = _total_bytes(f for t in SOURCES[1:] for f in files[t]) <= COMPLETE_BYTES
        keys = self._all_keys(con) if self._complete else sorted(set(want))
        self._columns = {}
        self._assign(keys)
        select, params = self._fold("TRUE", [])
        con.execute(f"CREATE OR REPLACE TABLE state_wide AS {select}", params)
        self._files = files
        self._built = True

    def _all_keys(self, con: duckdb.DuckDBPyConnection, source: str = "lake_{table}"
                  ) -> list[tuple[str, str]]:
        parts = " UNION ALL ".join(
            f"SELECT DISTINCT '{entity}', key FROM {source.format(table=table)}"
            for entity, (table, _, _) in ENTITIES.items())
        return sorted(con.execute(parts).fetchall())

    def _assign(self, keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Give each new key a column; return the new ones."""
        new = [k for k in keys if k not in self._columns]
        for key in new:
            self._columns[key] = f"c{len(self._columns)}"
        return new

    def _fold(self, ids: str, ids_params: list[object]) -> tuple[str, list[object]]:
        """SELECT of the current rows of the runs matching ``ids`` (SQL over ``run_id``):
        the runs view's columns and one column per loaded key."""
        selects, joins, params = self._key_joins(list(self._columns), ids, ids_params)
        head = f"SELECT r.*{selects} FROM (SELECT * FROM runs WHERE {ids}) AS r"
        return f"{head} {joins}", [*ids_params, *params]

    def _key_joins(self, keys: list[tuple[str, str]], ids: str, ids_params: list[object]
                   ) -> tuple[str, str, list[object]]:
        """(", x.c0, …", "LEFT JOIN … USING (run_id) …", params): one pass over each raw
        table folding ``keys`` for the runs matching ``ids``."""
        joins: list[str] = []
        params: list[object] = []
        picked: list[str] = []
        for entity, (table, _, aggregate) in ENTITIES.items():
            mine = [(k, self._columns[(e, k)]) for (e, k) in keys if e == entity]
            if not mine:
                continue
            names = [k for k, _ in mine]
            picks = ", ".join(f"{aggregate} FILTER (WHERE key = ?) AS {col}" for _, col in mine)
            alias = f"k_{table}"
            joins.append(f"LEFT JOIN (SELECT run_id, {picks} FROM lake_{table} "
                         f"WHERE ({ids}) AND key IN ({placeholders(names)}) "
                         f"GROUP BY run_id) AS {alias} USING (run_id)")
            params += [*names, *ids_params, *names]
            picked += [f", {alias}.{col}" for _, col in mine]
        return "".join(picked), " ".join(joins), params

    # ---- following the store -----------------------------------------------------------
    def _catch_up(self, con: duckdb.DuckDBPyConnection, files: dict[str, frozenset[str]]) -> None:
        """Recompute the runs named in the files added since the last look."""
        new = {t: sorted(files[t] - self._files[t]) for t in SOURCES}
        if not any(new.values()):
            self._files = files
            return
        scans = " UNION ".join(f"SELECT run_id FROM {_read(paths)}"
                               for paths in new.values() if paths)
        con.execute(f"CREATE OR REPLACE TEMP TABLE state_touched AS {scans}")
        if self._complete:
            fresh = [k for k in self._new_keys(con, new) if k not in self._columns]
            for entity, key in self._assign(fresh):
                sql_type = ENTITIES[entity][1]
                con.execute(f"ALTER TABLE state_wide ADD COLUMN "
                            f"{self._columns[(entity, key)]} {sql_type}")
        touched = [r for (r,) in con.execute("SELECT run_id FROM state_touched").fetchall()]
        if len(touched) <= _CONSTANT_IDS:
            ids, ids_params = f"run_id IN ({placeholders(touched)})", list(touched)
        else:
            ids, ids_params = "run_id IN (SELECT run_id FROM state_touched)", []
        select, params = self._fold(ids, ids_params)
        con.execute("DELETE FROM state_wide WHERE run_id IN (SELECT run_id FROM state_touched)")
        con.execute(f"INSERT INTO state_wide BY NAME {select}", params)
        self._files = files

    def _new_keys(self, con: duckdb.DuckDBPyConnection, new: dict[str, list[str]]
                  ) -> list[tuple[str, str]]:
        parts = [f"SELECT DISTINCT '{entity}', key FROM {_read(new[table])}"
                 for entity, (table, _, _) in ENTITIES.items() if new[table]]
        return sorted(con.execute(" UNION ALL ".join(parts)).fetchall()) if parts else []

    def _add_keys(self, con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]]) -> None:
        """Load more keys into a partial state (one pass per raw table)."""
        new = self._assign(sorted(set(keys)))
        selects, joins, params = self._key_joins(new, "TRUE", [])
        con.execute(f"CREATE OR REPLACE TABLE state_wide AS SELECT s.*{selects} "
                    f"FROM state_wide AS s {joins}", params)


def _read(paths: Iterable[str]) -> str:
    listed = ", ".join(sql_string(p) for p in paths)
    return f"read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"


def _total_bytes(paths: Iterable[str]) -> float:
    """Bytes of local data files; remote stores count as large (no cheap size)."""
    total = 0
    for path in paths:
        if "://" in path and not path.startswith("file://"):
            return float("inf")
        try:
            total += os.path.getsize(path.removeprefix("file://"))
        except OSError:
            return float("inf")
    return total
