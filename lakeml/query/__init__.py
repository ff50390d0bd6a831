"""The query layer: DuckDB (and later Spark) over the store's tables."""

from __future__ import annotations

from lakeml.query.engine import QueryEngine

__all__ = ["QueryEngine"]
