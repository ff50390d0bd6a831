"""A PostgreSQL-wire SQL endpoint over the store's current-state views
(``lakeml sql-server``), for BI tools, psql, JDBC and any PostgreSQL driver."""

from __future__ import annotations

from lakeml.sqlserver.server import SqlServer

__all__ = ["SqlServer"]
