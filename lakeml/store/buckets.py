"""Metric histories downsampled as they are written: the ``metric_buckets`` table.

A chart of 100 runs x 100,000 steps reads 10 M points from the raw metrics table (about
a second of CPU for the read alone). The writer therefore derives, from each batch of
metrics it commits, per (run_id, key) and bucket of ``width`` consecutive steps (for each
width of :data:`WIDTHS`), the bucket's point count, its first and last point and its
lowest and highest finite value with their step and time: the "M4" summary a line
chart needs (every extreme survives). A chart reads these rows instead of the points:
about width/4 times fewer.

Rows are never updated: every batch (of every writer, in any step order) appends its
own, and a bucket's rows merge at read time (:func:`merge_sql`): the first point is the
smallest of the firsts, the lowest value the lowest of the lows, and so on. The merge
is associative and commutative and ignores a point counted twice, so concurrent
writers and appends out of step order all give the same summary as the raw points would
(only ``points`` would count a point derived twice, which is why a rebuild replaces a
run's rows rather than adding to them).
Coarser buckets are merges of finer ones (a width is a multiple of the one before), so
a reader may also merge a width's rows into buckets any multiple as wide.

The orders, the same in DuckDB (structs compare field by field, NaN above every
number) and in numpy here (:func:`derive`): first/last by (step, timestamp, value), as
:mod:`lakeml.store.fold_rules` orders a metric's points; low/high by (value, step,
timestamp) over finite values only, so a NaN or an infinity is never an extreme (as in
:mod:`lakeml.ui.downsample`).

Spark jobs that append to the metrics table directly (lakeml/spark/bulk.py: one point
per run and key) derive no rows: a chart reads such a series exactly, as it reads any
series without rows. A writer killed between its metrics commit and its buckets commit
leaves that batch out until ``rebuild-buckets`` (charts read such a run raw meanwhile:
lakeml/ui/chart_buckets.py).

A store whose metrics predate the table has none of these rows for its older points;
the row :data:`COMPLETE` says the table holds every point of the history. It is written
when the table is created together with an empty metrics table (a new store), or by
:func:`lakeml.store.maintenance.Maintenance.rebuild_buckets` (``lakeml maintenance
rebuild-buckets``) after it re-derived every run whose rows do not count its points
(:func:`lagging_runs`, :func:`rederive`). Readers use the table only when the mark is
there, and then per run only when its rows hold its latest point; raw points otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.sqltext import read_files

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

# Bucket widths, in steps, each 16 times the one before: a chart wants a few hundred
# buckets, so a reader finds a width within 16x of what it needs and merges its rows
# (at most 16 per bucket shown). A batch adds one row per width and bucket it touches.
WIDTHS = (64, 1024, 16384, 262144)

# The run_id of the row that marks the table complete (no run id is empty).
COMPLETE = ""

_ENDS = ("first", "last", "low", "high")
# per end: the field order of its struct, and the aggregate that merges it
_ORDER = {"first": ("step", "timestamp", "value"), "last": ("step", "timestamp", "value"),
          "low": ("value", "step", "timestamp"), "high": ("value", "step", "timestamp")}
_AGGREGATE = {"first": "min", "last": "max", "low": "min", "high": "max"}


def floor_div_sql(expr: str, width: int | str) -> str:
    """SQL of ``floor(expr / width)`` in integers for a positive ``width`` (DuckDB's ``//``
    rounds toward zero), without overflow at the smallest BIGINT."""
    return (f"(CASE WHEN {expr} >= 0 THEN {expr} // {width} "
            f"ELSE -((-({expr} + 1)) // {width}) - 1 END)")


def _struct(end: str, prefix: str) -> str:
    return "{" + ", ".join(f"'{c}': {prefix}{c}" for c in _ORDER[end]) + "}"


def _flatten(alias: str) -> str:
    return ", ".join(f"{alias}_{end}.{c} AS {end}_{c}" for end in _ENDS
                     for c in ("step", "timestamp", "value"))


def derive_sql(source: str) -> str:
    """SELECT of the finest buckets (width WIDTHS[0]) of the raw points of relation
    ``source`` (run_id, key, value, step, timestamp), in metric_buckets' columns."""
    width = WIDTHS[0]
    finite = "FILTER (WHERE isfinite(value))"
    aggregates = ", ".join(
        f"{_AGGREGATE[end]}({_struct(end, '')}) {finite if end in ('low', 'high') else ''}"
        f" AS a_{end}" for end in _ENDS)
    return (f"SELECT run_id, key, {width}::BIGINT AS width, bucket, points, {_flatten('a')} "
            f"FROM (SELECT run_id, key, {floor_div_sql('step', width)} AS bucket, "
            f"count(*)::BIGINT AS points, {aggregates} FROM {source} "
            f"GROUP BY run_id, key, bucket)")


def merge_sql(source: str, factor: int | str, *, group: str = "run_id, key") -> str:
    """SELECT merging the rows of relation ``source`` (metric_buckets' columns, all of one
    width) into buckets ``factor`` times as wide: ``group`` columns, then ``width``,
    ``bucket``, ``points`` and the four ends, flat."""
    aggregates = ", ".join(
        f"{_AGGREGATE[end]}({_struct(end, end + '_')}) "
        f"{f'FILTER (WHERE {end}_value IS NOT NULL)' if end in ('low', 'high') else ''}"
        f" AS a_{end}" for end in _ENDS)
    bucket_position = len(group.split(",")) + 2  # after the group columns and width
    return (f"SELECT {group}, width, bucket, points, {_flatten('a')} FROM ("
            f"SELECT {group}, any_value(width) * {factor} AS width, "
            f"{floor_div_sql('bucket', factor)} AS bucket, sum(points)::BIGINT AS points, "
            f"{aggregates} FROM {source} GROUP BY {group}, {bucket_position})")


def _levels_sql(source: str) -> str:
    """Every width's buckets of the raw points of ``source``, each width merged from the
    one before."""
    parts = ["level0 AS (" + derive_sql(source) + ")"]
    for i in range(1, len(WIDTHS)):
        parts.append(f"level{i} AS (" + merge_sql(f"level{i - 1}",
                                                  WIDTHS[i] // WIDTHS[i - 1]) + ")")
    union = " UNION ALL ".join(f"SELECT * FROM level{i}" for i in range(len(WIDTHS)))
    return "WITH " + ", ".join(parts) + " " + union + " ORDER BY run_id, key, width, bucket"


def derive(batch: pa.Table) -> pa.Table:
    """metric_buckets rows of a batch of metrics rows: every width's buckets.

    With numpy: the points in timeline order, (group, step, time, value), which a
    batch logged in order already is (else one sort); then per width a bucket is a run
    of consecutive points, its first and last point are its ends, and its lowest
    (highest) value the first (last) point holding its finite minimum (maximum): among
    equal values the earliest (latest) by step and time, as the SQL of
    :func:`derive_sql` orders them. numpy sorts NaN last, as DuckDB orders it.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from lakeml.store.schemas import METRIC_BUCKETS

    n = batch.num_rows
    if n == 0:
        return METRIC_BUCKETS.empty_table()
    runs = pc.dictionary_encode(batch["run_id"]).combine_chunks()
    keys = pc.dictionary_encode(batch["key"]).combine_chunks()
    groups = (runs.indices.to_numpy().astype(np.int64) * len(keys.dictionary)
              + keys.indices.to_numpy())
    step = batch["step"].to_numpy()
    stamp = batch["timestamp"].cast(pa.int64()).to_numpy()
    value = batch["value"].to_numpy()
    if not _in_timeline_order(groups, step, stamp):
        order = np.lexsort((value, stamp, step, groups))
        groups, step, stamp, value = groups[order], step[order], stamp[order], value[order]
    index = np.arange(n)
    finite = np.isfinite(value)
    low_values = np.where(finite, value, np.inf)
    high_values = np.where(finite, value, -np.inf)
    group_change = np.r_[True, groups[1:] != groups[:-1]]
    out: dict[str, list[Any]] = {name: [] for name in (*METRIC_BUCKETS.names, "missing")}
    for width in WIDTHS:
        bucket = step // width
        starts = np.flatnonzero(group_change | np.r_[True, bucket[1:] != bucket[:-1]])
        ends = np.r_[starts[1:], n] - 1
        lengths = ends - starts + 1
        lows = np.minimum.reduceat(low_values, starts)
        highs = np.maximum.reduceat(high_values, starts)
        low_at = np.minimum.reduceat(np.where(low_values == np.repeat(lows, lengths),
                                              index, n), starts)
        high_at = np.maximum.reduceat(np.where(high_values == np.repeat(highs, lengths),
                                               index, -1), starts)
        missing = ~np.isfinite(lows)  # no finite value in the bucket
        low_at[missing] = high_at[missing] = 0
        out["run_id"].append(groups[starts])  # the group, for now
        out["width"].append(np.full(len(starts), width, np.int64))
        out["bucket"].append(bucket[starts])
        out["points"].append(lengths)
        out["missing"].append(missing)
        for end, rows in (("first", starts), ("last", ends), ("low", low_at),
                          ("high", high_at)):
            for column, data in (("step", step), ("timestamp", stamp), ("value", value)):
                out[f"{end}_{column}"].append(data[rows])
    whole = {name: np.concatenate(parts) for name, parts in out.items() if parts}
    owners, missing = whole.pop("run_id"), whole.pop("missing")
    columns = {"run_id": runs.dictionary.take(pa.array(owners // len(keys.dictionary))),
               "key": keys.dictionary.take(pa.array(owners % len(keys.dictionary)))}
    for name, data in whole.items():
        columns[name] = pa.array(data, mask=missing if name.startswith(("low_", "high_"))
                                 else None)
    return pa.table({name: columns[name] for name in METRIC_BUCKETS.names}
                    ).cast(METRIC_BUCKETS)


def _in_timeline_order(groups: Any, step: Any, stamp: Any) -> bool:
    """Whether the points are grouped in increasing groups, each in strictly increasing
    (step, time): then no sort would move them (ties on both would need the value)."""
    import numpy as np

    same = groups[1:] == groups[:-1]
    later = (step[1:] > step[:-1]) | ((step[1:] == step[:-1]) & (stamp[1:] > stamp[:-1]))
    return bool(np.all((groups[1:] > groups[:-1]) | (same & later)))


def complete_mark() -> pa.Table:
    """The row that says metric_buckets holds every point of the metrics history."""
    import pyarrow as pa

    from lakeml.store.schemas import METRIC_BUCKETS

    row = {name: [None] for name in METRIC_BUCKETS.names}
    row.update(run_id=[COMPLETE], key=[COMPLETE], width=[0], bucket=[0], points=[0])
    return pa.table(row).cast(METRIC_BUCKETS)


def lagging_runs(metric_files: list[str], bucket_files: list[str],
                 con: duckdb.DuckDBPyConnection) -> list[str]:
    """The runs some key of which holds a different number of points in ``metric_files``
    than its finest rows in ``bucket_files`` count: points no writer derived (an older
    lakeml, a killed writer, Spark, a carry not yet committed), or points derived twice."""
    if not metric_files:
        return []
    raw = (f"SELECT run_id, key, count(*)::BIGINT AS points FROM {read_files(metric_files)} "
           f"GROUP BY ALL")
    derived = ("SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS key, 0::BIGINT AS points "
               "WHERE false") if not bucket_files else (
        f"SELECT run_id, key, sum(points)::BIGINT AS points FROM {read_files(bucket_files)} "
        f"WHERE width = {WIDTHS[0]} AND run_id <> '{COMPLETE}' GROUP BY ALL")
    query = (f"SELECT DISTINCT run_id FROM ({raw}) AS r FULL JOIN ({derived}) AS d "
             f"USING (run_id, key) WHERE r.points IS DISTINCT FROM d.points ORDER BY run_id")
    return [row[0] for row in con.sql(query).fetchall()]


def rederive(metric_files: list[str], run_ids: list[str],
             con: duckdb.DuckDBPyConnection) -> pa.Table:
    """metric_buckets rows of every point of the runs ``run_ids`` in ``metric_files``:
    what replaces all their rows."""
    import pyarrow as pa

    from lakeml.store.schemas import METRIC_BUCKETS

    if not metric_files or not run_ids:
        return METRIC_BUCKETS.empty_table()
    con.register("rederived_runs", pa.table({"run_id": pa.array(run_ids, pa.string())}))
    try:
        source = (f"(SELECT run_id, key, value, step, timestamp FROM "
                  f"{read_files(metric_files)} WHERE run_id IN "
                  f"(SELECT run_id FROM rederived_runs))")
        return con.sql(_levels_sql(source)).to_arrow_table().cast(METRIC_BUCKETS)
    finally:
        con.unregister("rederived_runs")
