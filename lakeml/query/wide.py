"""One row per run, one column per metric, param and tag: MLflow's search_runs table.

Each column group is one pass over a raw append-only table, grouped by run and
key: the per-key aggregates (lakeml.query.run_fold.ENTITIES) apply the same rules
as the sql/views definitions (latest metric point by step, time, value; the first
value of a param; the newest tag row, unless it is a deletion) without first
building the long current-state view; the long rows are then pivoted in memory.
tests/query/test_search_runs.py checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakeml.sqltext import placeholders

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from lakeml.query import QueryEngine
    from lakeml.query.run_state import StateColumns

_SMALL = 2000  # up to this many runs, filter by constant id lists (pushed into the scans)


def runs_page(engine: QueryEngine, state: StateColumns, sql: str, params: list[object]
              ) -> pa.Table | WidePage:
    """The wide table of the runs ``sql`` selects (their ``run_id``, in order), or the
    lake's page of them to lay out: from the run state's own rows when it holds every
    key (a small store), else from the run snapshot, and from the lake by id for the
    runs committed since."""
    import pyarrow.compute as pc

    if state.complete:  # the state holds every key: the page is in its rows
        found = [r for (r,) in engine.rows(sql, params, tables=())]
        return from_state(*engine.run_state.held_rows(found))
    ids = engine.arrow(sql, params, tables=())["run_id"]
    saved = engine.run_state.snapshot_page(ids)
    if saved is None:
        return wide_page(engine, ids)
    rows, columns = saved
    held = from_state(rows, columns)
    rest = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=held["run_id"].combine_chunks())))
    if len(rest) == 0:
        return in_order(ids, [held])
    return in_order(ids, [held, wide_table(engine, rest)])


def wide_table(engine: QueryEngine, run_ids: pa.ChunkedArray | pa.Array) -> pa.Table:
    """The runs ``run_ids`` (in that order) with info, ``metrics.*``, ``params.*``, ``tags.*``.

    Times are UTC timestamps in ms. Keys are sorted within each group; a run
    without a key has null there.
    """
    return wide_page(engine, run_ids).to_arrow()


def wide_page(engine: QueryEngine, run_ids: pa.ChunkedArray | pa.Array) -> WidePage:
    """:func:`wide_table`'s table before it is laid out, to make as Arrow or pandas.

    Its cost follows the page's rows, never the store's count of keys: each group is
    one pass over the raw table for these runs, giving a long row per (run, key), and
    a pivot of those in memory (DuckDB's PIVOT and filtered aggregates cost the square
    of the number of keys). The run columns come from the run state when it holds them
    (its callers, the searches, have just brought it up to date), else from the lake.
    """
    import numpy as np
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
        info = engine.run_state.page_info(con, "chosen", id_list or None)
        if info is None:  # the state lacks the run columns: fold the runs table
            info = con.sql(
                f"SELECT {PAGE_COLUMNS}, c.ord "
                f"FROM chosen c JOIN (SELECT * FROM runs WHERE {where}) r USING (run_id) "
                "ORDER BY c.ord", params=id_list).to_arrow_table()
        # the page's row of each chosen run (unknown ids have none)
        row_of = np.full(n, -1, dtype=np.int64)
        row_of[info["ord"].to_numpy()] = np.arange(info.num_rows)
        info = info.drop_columns(["ord"])
        info = info.set_column(4, "start_time", _utc(info["start_time"])) \
                   .set_column(5, "end_time", _utc(info["end_time"]))
        groups = []
        for prefix, (table, _, aggregate) in ENTITIES.items():
            long = con.sql(
                f"SELECT c.ord, l.key, l.value FROM (SELECT run_id, key, {aggregate} AS value "
                f"FROM lake_{table} WHERE {where} GROUP BY run_id, key) AS l "
                "JOIN chosen c USING (run_id) WHERE l.value IS NOT NULL ORDER BY l.key, c.ord",
                params=id_list).to_arrow_table()
            groups.append(_Group.of(prefix, long, row_of))
    finally:
        con.close()
    return WidePage(info, groups)


def _utc(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow as pa

    return column.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC"))


@dataclass(frozen=True)
class _Group:
    """One group's values (metrics, params or tags) of a page, long: value ``i`` is at
    row ``rows[i]`` and key ``keys[cols[i]]``; keys sorted, each held by some row, and
    values sorted by key, then row."""

    prefix: str
    keys: list[str]
    rows: np.ndarray
    cols: np.ndarray
    values: pa.Array

    @classmethod
    def of(cls, prefix: str, long: pa.Table, row_of: np.ndarray) -> _Group:
        """The group of ``long`` rows (ord, key, value; at most one per run and key,
        sorted by key then ord), ``row_of`` giving the page's row of each ord."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        rows = row_of[long["ord"].to_numpy()]
        if (rows < 0).any():  # a run the page lacks (deleted since) is left out
            long = long.filter(pa.array(rows >= 0))
            rows = rows[rows >= 0]
        key = long["key"].combine_chunks()
        starts = np.ones(len(key), dtype=bool)
        if len(key) > 1:
            starts[1:] = pc.not_equal(key.slice(1), key.slice(0, len(key) - 1)).to_numpy(
                zero_copy_only=False)
        return cls(prefix, key.filter(pa.array(starts)).to_pylist(), rows,
                   np.cumsum(starts) - 1, long["value"].combine_chunks())

    def names(self) -> list[str]:
        """The group's column names, ``<prefix>.<key>``."""
        return [f"{self.prefix}.{key}" for key in self.keys]

    def arrow_columns(self, n: int) -> list[pa.Array]:
        """A column of ``n`` rows per key, null where a row lacks the key."""
        import numpy as np
        import pyarrow as pa

        values, rows = self.values, self.rows
        bounds = np.searchsorted(self.cols, np.arange(len(self.keys) + 1))
        columns = []
        for j in range(len(self.keys)):
            at = np.full(n, -1, dtype=np.int64)
            at[rows[bounds[j]:bounds[j + 1]]] = np.arange(bounds[j + 1] - bounds[j])
            picks = pa.array(at, mask=at < 0)
            columns.append(values.slice(bounds[j], bounds[j + 1] - bounds[j]).take(picks))
        return columns

    def matrix(self, n: int) -> np.ndarray:
        """The values as an ``n`` x keys array: float with NaN for missing metrics,
        objects with None for missing params and tags."""
        import numpy as np
        import pyarrow as pa

        if pa.types.is_floating(self.values.type):
            out = np.full((n, len(self.keys)), np.nan)
            out[self.rows, self.cols] = self.values.to_numpy(zero_copy_only=False)
        else:
            out = np.full((n, len(self.keys)), None, dtype=object)
            out[self.rows, self.cols] = self.values.to_numpy(zero_copy_only=False)
        return out


@dataclass(frozen=True)
class WidePage:
    """A page of :func:`wide_page`: the run columns, then each group's keys."""

    info: pa.Table
    groups: list[_Group]

    def to_arrow(self) -> pa.Table:
        """The page as :func:`wide_table` returns it."""
        import pyarrow as pa

        names = list(self.info.column_names)
        columns: list[pa.Array | pa.ChunkedArray] = list(self.info.columns)
        for group in self.groups:
            names += group.names()
            columns += group.arrow_columns(self.info.num_rows)
        return pa.table(columns, names=names)

    def to_pandas(self) -> pd.DataFrame:
        """The page as ``to_arrow().to_pandas()`` would give it, built without a column
        object per key: one block per group (a run with a million metrics is one row of
        a million columns, which Arrow takes minutes to make)."""
        import pandas as pd
        import pyarrow as pa

        frames = [self.info.to_pandas()]
        for group in self.groups:
            if group.keys:
                # the dtype Arrow's to_pandas gives this type (pandas 3: "str" for text)
                dtype = pa.array([], group.values.type).to_pandas().dtype
                frames.append(pd.DataFrame(group.matrix(self.info.num_rows),
                                           columns=group.names(), dtype=dtype))
        return pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]


def _append(result: pa.Table, name: str, values: pa.ChunkedArray) -> pa.Table:
    """Add a key's column unless no run has the key (all its tags deleted, say)."""
    if values.null_count == len(values):
        return result
    return result.append_column(name, values)


def from_state(rows: pa.Table, state: StateColumns) -> pa.Table:
    """Rows of the run state (``RunsMirror.held_rows`` or ``snapshot_page``) as
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
