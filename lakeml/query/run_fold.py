"""SQL that folds the append-only run tables into one row per run, one column per key.

The row has the ``runs`` view's columns and one generated column (``c0``,
``c1``…) per (entity, key) asked for: keys are user text and never become SQL
text. A metric's column holds its latest value, a param's its first, a tag's
its current one (NULL once deleted): the rules of :mod:`lakeml.store.fold_rules`,
which sql/views/ states too (tests/store/test_fold_rules.py and
tests/query/test_run_state.py hold both to them).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Mapping

from lakeml.query.lake import duckdb_type
from lakeml.sqltext import placeholders
from lakeml.store import schemas
from lakeml.store.fold_rules import CURRENT_TAG, FIRST_PARAM, LATEST_METRIC
from lakeml.store.schemas import RUN_COLUMNS

if TYPE_CHECKING:
    import duckdb

# Stores whose params, metric_latest and tags files together are at most this
# big (10,000 runs of 10 params and 10 metrics: ~1.5 MB) are folded whole in
# memory by each reader; larger ones get a snapshot and load keys on demand.
SMALL_STORE_BYTES = 64 << 20

# ... and hold at most this many keys: a column per key is one filtered aggregate
# each, and DuckDB's cost grows with the square of their number (500 rows: 100
# keys 0.2 s, 1,000 keys 17 s and 2 GB, 2,000 keys 94 s and 8 GB; 5,000 crash it).
# A store with more keys loads, like a large one, only the keys searched, and gets
# no snapshot. Kept below what a whole state of a small store costs to build cold.
MAX_WHOLE_KEYS = 100

# keys_in with a limit looks at this many rows of each table first.
_PROBE_ROWS = 1 << 16

# Append-only tables whose rows make up a run's current state.
SOURCES = ("runs", "params", "metric_latest", "tags")

# entity -> (raw table, SQL type of its value, the aggregate giving a key's current value)
# (the rules of lakeml.store.fold_rules; the types those of the tables' value columns)
ENTITIES = {
    entity: (table, duckdb_type(schemas.TABLES[table].field("value").type), aggregate)
    for entity, table, aggregate in (("metrics", "metric_latest", LATEST_METRIC),
                                     ("params", "params", FIRST_PARAM),
                                     ("tags", "tags", CURRENT_TAG))
}

Columns = Mapping[tuple[str, str], str]

# The few columns of the runs view (RUN_COLUMNS) every search reads.
NARROW_RUN_COLUMNS = ("run_id", "experiment_id", "lifecycle_stage", "start_time")


def fold_select(columns: Columns, ids: str = "TRUE", ids_params: Iterable[object] = (),
                run_columns: Iterable[str] = RUN_COLUMNS) -> tuple[str, list[object]]:
    """(SELECT, params): the current rows of the runs matching ``ids`` (SQL over
    ``run_id``, with ``ids_params``), over the engine's ``runs`` view and ``lake_*``
    tables: ``run_columns`` (of RUN_COLUMNS) and a column per key."""
    ids_params = list(ids_params)
    selects, joins, params = _key_joins(columns, list(columns), ids, ids_params)
    head = (f"SELECT {', '.join('r.' + _run_column(c) for c in run_columns)}{selects} "
            f"FROM (SELECT * FROM runs WHERE {ids}) AS r")
    return f"{head} {joins}", [*ids_params, *params]


def _run_column(name: str) -> str:
    if name not in RUN_COLUMNS:
        raise ValueError(f"{name!r} is not a column of the runs view")
    return name


def _key_joins(columns: Columns, keys: list[tuple[str, str]], ids: str,
              ids_params: list[object]) -> tuple[str, str, list[object]]:
    """(", k_x.c0, …", "LEFT JOIN … USING (run_id) …", params): one grouped pass over
    each raw table, folding ``keys`` (named by ``columns``) for the runs matching ``ids``."""
    joins: list[str] = []
    params: list[object] = []
    picked: list[str] = []
    for entity, (table, _, aggregate) in ENTITIES.items():
        mine = [(k, columns[(e, k)]) for (e, k) in keys if e == entity]
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


def keys_in(con: duckdb.DuckDBPyConnection, sources: Mapping[str, str], *,
            limit: int | None = None) -> list[tuple[str, str]]:
    """Every (entity, key) in ``sources`` (raw table -> SQL relation), sorted; with a
    ``limit``, at most that many of them (ask for one more than you can hold to tell),
    without the cost of finding every key of a store holding millions."""
    def distinct(rows: int | None) -> list[tuple[str, str]]:
        head = "" if rows is None else f" LIMIT {int(rows)}"
        parts = [f"SELECT DISTINCT '{entity}', key FROM (SELECT key FROM {sources[table]}{head})"
                 for entity, (table, _, _) in ENTITIES.items() if table in sources]
        if not parts:
            return []
        bound = "" if limit is None else f" LIMIT {int(limit)}"
        return sorted(con.execute(f"{' UNION ALL '.join(parts)}{bound}").fetchall())

    if limit is not None:
        first = distinct(_PROBE_ROWS)  # a wide store shows it in its first rows
        if len(first) >= limit:
            return first
    return distinct(None)


def data_bytes(paths: Iterable[str]) -> float:
    """Bytes of these local data files; infinite for a remote or missing one (no cheap
    size: such a store counts as large)."""
    total = 0
    for path in paths:
        if "://" in path and not path.startswith("file://"):
            return float("inf")
        try:
            total += os.path.getsize(path.removeprefix("file://"))
        except OSError:
            return float("inf")
    return total
