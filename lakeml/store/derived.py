"""Tables derived from batches of another table as the writer commits them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from lakeml.sqltext import configure, read_files
from lakeml.store import buckets
from lakeml.store.fold_rules import (
    latest_points_grouped_sql,
    latest_points_sql,
    metric_order,
    newer_point_sql,
)

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


@contextmanager
def _duckdb() -> Iterator[duckdb.DuckDBPyConnection]:
    import duckdb

    con = configure(duckdb.connect())
    try:
        yield con
    finally:
        con.close()


# Batches up to this many points take their latest points in Python: a server's group
# commit or a notebook's flush holds a few hundred, where opening a DuckDB connection
# (tens of ms) would cost more than the whole commit.
SMALL_BATCH = 2_000


def latest_points(batch: pa.Table) -> pa.Table:
    """The latest point of each (run_id, key) in a batch of metric rows (by the rule of
    :mod:`lakeml.store.fold_rules`), sorted by run and key."""
    if batch.num_rows <= SMALL_BATCH:
        return latest_points_in_python(batch)
    return latest_points_in_duckdb(batch)


def latest_points_in_duckdb(batch: pa.Table) -> pa.Table:
    """:func:`latest_points` by the SQL of fold_rules, for batches of any size."""
    with _duckdb() as con:
        con.register("batch", batch)
        # Sorted by run: each file covers few run ids, so lookups skip most row groups.
        query = latest_points_grouped_sql("batch") + " ORDER BY run_id, key"
        return con.sql(query).to_arrow_table().cast(batch.schema)


def latest_points_in_python(batch: pa.Table) -> pa.Table:
    """:func:`latest_points` by the Python statement of the rule (fold_rules.metric_order),
    for batches small enough that a DuckDB connection would cost more."""
    import pyarrow as pa

    # timestamps as their int64 microseconds: a datetime cannot hold every value a batch
    # can (years outside 1-9999), and the order is the same
    columns = pa.table({"run_id": batch["run_id"], "key": batch["key"],
                        "value": batch["value"], "step": batch["step"],
                        "timestamp": batch["timestamp"].cast(pa.int64())}).to_pydict()
    best: dict[tuple[str, str], int] = {}
    for i, group in enumerate(zip(columns["run_id"], columns["key"])):
        held = best.get(group)
        if held is None or (metric_order(columns["step"][i], columns["timestamp"][i],
                                         columns["value"][i])
                            > metric_order(columns["step"][held], columns["timestamp"][held],
                                           columns["value"][held])):
            best[group] = i
    return batch.take(pa.array([best[group] for group in sorted(best)], pa.int64()))


# metric_buckets: each batch's points summed up per bucket of steps (store/buckets.py)
DERIVE = {"metric_latest": latest_points, "metric_buckets": buckets.derive}

# Latest points of the history that metric_latest does not hold (yet).
_MISSING_SQL = """
WITH history AS ({latest_of_history}),
     known AS ({latest_of_derived})
SELECT h.run_id, h.key, h.value, h.step, h.timestamp
FROM history AS h
LEFT JOIN known AS k USING (run_id, key)
WHERE k.run_id IS NULL OR {newer}
ORDER BY h.run_id, h.key
"""


def _latest_of_files(files: list[str]) -> str:
    if not files:
        return ("SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS key, NULL::DOUBLE AS value, "
                "NULL::BIGINT AS step, NULL::TIMESTAMPTZ AS timestamp WHERE false")
    return latest_points_sql(read_files(files))


def missing_latest(metric_files: list[str], latest_files: list[str]) -> pa.Table:
    """The points metric_latest lacks: a writer killed between its two commits leaves some.

    Appending them is safe at any time: the latest_metrics view takes the
    newest point per (run_id, key), so a point it already had changes nothing.
    """
    with _duckdb() as con:
        return con.sql(_MISSING_SQL.format(latest_of_history=_latest_of_files(metric_files),
                                           latest_of_derived=_latest_of_files(latest_files),
                                           newer=newer_point_sql("h", "k"))
                       ).to_arrow_table()
