"""The monitoring tables in SQL: ``inference_log``, ``inference_labels`` and
``monitor_metrics`` are views of every lake database (sql/views/, over the ``lake_*``
views of :mod:`lakeml.query.lake`, whose columns follow each growing table's schema per
Delta version), so ``lakeml.sql(...)``, ``lakeml sql``, the SQL server and Spark's
``register_views`` all see them. :func:`connect` is a database of those same views for
a script that wants its own DuckDB connection.

Example, the p95 latency per model version and hour::

    SELECT model_name, model_version, date_trunc('hour', "time") AS hour,
           quantile_cont(latency_ms, 0.95) AS p95_ms, count(*) AS requests
    FROM inference_log GROUP BY ALL ORDER BY hour
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.store import open_tables

if TYPE_CHECKING:
    import duckdb

TABLES = open_tables.TABLES


def connect(store: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake's views (the monitoring tables among them) over
    the latest snapshot of each table of ``store`` (default: the current store); a
    table no one wrote yet is an empty view of its fixed columns."""
    from lakeml import config
    from lakeml.query.lake import NAMES, LakeViews
    from lakeml.store.store import Store

    lake = LakeViews(Store(store or config.store_uri()))
    con = lake.connect()
    lake.refresh(NAMES)
    return con
