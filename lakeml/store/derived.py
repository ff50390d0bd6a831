"""Tables derived from batches of another table as the writer commits them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# MLflow's latest value: highest step, then newest timestamp, then largest value.
_LATEST_SQL = """
SELECT run_id, key, value, step, timestamp
FROM batch
QUALIFY row_number() OVER (PARTITION BY run_id, key
                           ORDER BY step DESC, timestamp DESC, value DESC) = 1
ORDER BY run_id, key  -- files sorted by run: lookups of a few runs skip most row groups
"""


def latest_points(batch: pa.Table) -> pa.Table:
    """The latest point of each (run_id, key) in a batch of metric rows."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("batch", batch)
        return con.sql(_LATEST_SQL).to_arrow_table().cast(batch.schema)
    finally:
        con.close()


DERIVE = {"metric_latest": latest_points}

# Latest points of the history that metric_latest does not hold (yet).
_MISSING_SQL = """
WITH history AS ({latest_of_history}),
     known AS ({latest_of_derived})
SELECT h.run_id, h.key, h.value, h.step, h.timestamp
FROM history AS h
LEFT JOIN known AS k USING (run_id, key)
WHERE k.run_id IS NULL
   OR h.step > k.step
   OR (h.step = k.step AND h.timestamp > k.timestamp)
   OR (h.step = k.step AND h.timestamp = k.timestamp AND h.value > k.value)
ORDER BY h.run_id, h.key
"""


def _latest_of(files: list[str]) -> str:
    if not files:
        return ("SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS key, NULL::DOUBLE AS value, "
                "NULL::BIGINT AS step, NULL::TIMESTAMPTZ AS timestamp WHERE false")
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return ("SELECT run_id, key, value, step, timestamp "
            f"FROM read_parquet([{listed}], union_by_name = true) "
            "QUALIFY row_number() OVER (PARTITION BY run_id, key "
            "ORDER BY step DESC, timestamp DESC, value DESC) = 1")


def missing_latest(metric_files: list[str], latest_files: list[str]) -> pa.Table:
    """The points metric_latest lacks: a writer killed between its two commits leaves some.

    Appending them is safe at any time: the latest_metrics view takes the
    newest point per (run_id, key), so a point it already had changes nothing.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET disabled_optimizers = 'statistics_propagation'")  # NaN, see engine
        return con.sql(_MISSING_SQL.format(latest_of_history=_latest_of(metric_files),
                                           latest_of_derived=_latest_of(latest_files))
                       ).to_arrow_table()
    finally:
        con.close()
