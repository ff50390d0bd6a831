"""One row per run, one column per metric, param and tag: MLflow's search_runs table.

Each column group is one pass over a raw append-only table, grouped by run:
the per-key aggregates (lakeml.query.run_fold.ENTITIES) apply the same rules as the sql/views
definitions (latest metric point by step, time, value; the first value of a
param; the newest tag row, unless it is a deletion) without first building
the long current-state view. tests/query/test_wide.py checks that both agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.sqltext import placeholders

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from lakeml.query import QueryEngine
    from lakeml.query.run_state import StateColumns

_SMALL = 2000  # up to this many runs, filter by constant id lists (pushed into the scans)

def wide_table(engine: QueryEngine, run_ids: pa.ChunkedArray | pa.Array) -> pa.Table:
    """The runs ``run_ids`` (in that order) with info, ``metrics.*``, ``params.*``, ``tags.*``.

    Times are UTC timestamps in ms. Keys are sorted within each group; a run
    without a key has null there.
    """
    import pyarrow as pa

    from lakeml.query.run_fold import ENTITIES
    from lakeml.query.run_state import PAGE_COLUMNS

    ids = pa.chunked_array([run_ids]) if isinstance(run_ids, pa.Array) else run_ids
    n = len(ids)
    con = engine.connection().cursor()
    try:
        con.register("chosen", pa.table({"run_id": ids, "ord": pa.array(range(n), pa.int64())}))
        small = n <= _SMALL
        id_list = ids.to_pylist() if small else []
        where = (f"run_id IN ({placeholders(id_list)})" if small and n
                 else "run_id IN (SELECT run_id FROM chosen)")
        info = con.sql(
            f"SELECT {PAGE_COLUMNS} "
            f"FROM chosen c JOIN (SELECT * FROM runs WHERE {where}) r USING (run_id) "
            "ORDER BY c.ord", params=id_list).to_arrow_table()
        result = info.set_column(4, "start_time", _utc(info["start_time"])) \
                     .set_column(5, "end_time", _utc(info["end_time"]))
        for prefix, (table, _, aggregate) in ENTITIES.items():
            result = _add_group(con, result, prefix, f"lake_{table}", aggregate, where, id_list)
    finally:
        con.close()
    return result


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa

    return column.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC"))


def _add_group(con: duckdb.DuckDBPyConnection, result: pa.Table, prefix: str, table: str,
               aggregate: str, where: str, id_list: list[str]) -> pa.Table:
    """Append one ``prefix.<key>`` column per key of the chosen runs."""
    if id_list or not result.num_rows:
        return _add_small_group(con, result, prefix, table, aggregate, where, id_list)
    keys = [k for (k,) in con.execute(
        f"SELECT DISTINCT key FROM {table} WHERE {where} ORDER BY key").fetchall()]
    if not keys:
        return result
    # Many runs: one pass grouped by run, one filtered aggregate per key.
    picks = ", ".join(f"{aggregate} FILTER (WHERE key = ${i + 1}) AS c{i}"
                      for i in range(len(keys)))
    part = con.sql(
        f"SELECT w.* EXCLUDE (run_id) FROM chosen c LEFT JOIN ("
        f"SELECT run_id, {picks} FROM {table} WHERE {where} GROUP BY run_id"
        ") w USING (run_id) ORDER BY c.ord", params=keys).to_arrow_table()
    for i, key in enumerate(keys):
        result = _append(result, f"{prefix}.{key}", part.column(i))
    return result


def _append(result: pa.Table, name: str, values: pa.ChunkedArray) -> pa.Table:
    """Add a key's column unless no run has the key (all its tags deleted, say)."""
    if values.null_count == len(values):
        return result
    return result.append_column(name, values)


def _add_small_group(con: duckdb.DuckDBPyConnection, result: pa.Table, prefix: str,
                     table: str, aggregate: str, where: str, id_list: list[str]) -> pa.Table:
    """A few runs: one scan (pushed down by id) for their long rows, then a pivot of those."""
    long = con.sql(f"SELECT run_id, 'k:' || key AS key, {aggregate} AS value FROM {table} "
                   f"WHERE {where} GROUP BY run_id, key", params=id_list).to_arrow_table()
    if long.num_rows == 0:
        return result
    con.register("long_values", long)
    # Keys are data: PIVOT turns them into column names, never into SQL text.
    # The 'k:' prefix keeps a key named like another column ("run_id") apart.
    wide = con.sql("SELECT w.* EXCLUDE (run_id) FROM chosen c LEFT JOIN "
                   "(PIVOT long_values ON key USING first(value) GROUP BY run_id) w "
                   "USING (run_id) ORDER BY c.ord").to_arrow_table()
    con.unregister("long_values")
    for name in sorted(wide.column_names):
        result = _append(result, f"{prefix}.{name[2:]}", wide[name])
    return result


def from_state(rows: pa.Table, state: StateColumns) -> pa.Table:
    """Rows of the run state (``RunState.held_rows`` or ``snapshot_page``) as
    :func:`wide_table`'s table: ``metrics.*``, ``params.*`` and ``tags.*`` of the keys
    these runs have."""
    result = rows.select(range(6))
    result = result.set_column(4, "start_time", _utc(result["start_time"])) \
                   .set_column(5, "end_time", _utc(result["end_time"]))
    for entity in ("metrics", "params", "tags"):
        for key, column in state.keys(entity):
            result = _append(result, f"{entity}.{key}", rows[column])
    return result


def in_order(run_ids: pa.ChunkedArray, parts: list[pa.Table]) -> pa.Table:
    """Wide tables of disjoint runs as one, rows in ``run_ids`` order and key columns
    sorted within each group (as :func:`wide_table` makes them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.concat_tables(parts, promote_options="default")
    info = table.column_names[:6]
    keyed = sorted(table.column_names[6:],
                   key=lambda c: (("metrics.", "params.", "tags.").index(c[:c.index(".") + 1]), c))
    table = table.select(info + keyed)
    return table.take(pc.index_in(run_ids, value_set=table["run_id"].combine_chunks()))
