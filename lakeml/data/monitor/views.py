"""The monitoring tables as SQL views: ``inference_log``, ``inference_labels`` and
``monitor_metrics``, over the data files of each table's latest Delta version.

The inference tables grow a column per model input, so their views are ``SELECT *``
over the files with columns matched by name (a model's rows hold NULL in the columns of
other models' inputs). Example, the p95 latency per model version and hour::

    SELECT model_name, model_version, date_trunc('hour', "time") AS hour,
           quantile_cont(latency_ms, 0.95) AS p95_ms, count(*) AS requests
    FROM inference_log GROUP BY ALL ORDER BY hour
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.store import open_tables

if TYPE_CHECKING:
    import duckdb

TABLES = (open_tables.INFERENCE_LOG, open_tables.INFERENCE_LABELS,
          open_tables.MONITOR_METRICS)


def connect(store: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (time zone UTC) with a view per monitoring table of ``store``
    (default: the current store); an absent table is an empty view of its fixed columns."""
    import duckdb

    from lakeml import config
    from lakeml.query.lake import column_ddl
    from lakeml.sqltext import read_files

    store_uri = store or config.store_uri()
    options = config.storage_options() or None
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in TABLES:
        files = open_tables.snapshot_files(store_uri, table, options)
        if files:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM {read_files(files)}")
        else:
            con.execute(f"CREATE TABLE {table} ({column_ddl(open_tables.core_schema(table))})")
    return con
