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
