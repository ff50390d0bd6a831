"""Small pieces of SQL text and DuckDB settings that every layer shares.

Nothing here imports DuckDB or pyarrow, so any module may use it.
"""

from __future__ import annotations

from typing import Any, Sequence

from lakeml.errors import InvalidArgument

# Set on every DuckDB connection lakeml opens over its Parquet files.
DUCKDB_SETTINGS = (
    "SET enable_progress_bar = false",  # a library prints nothing
    # Parquet min/max statistics leave NaN out (arrow-rs writes them so), and
    # DuckDB's statistics propagation then folds isnan(value) to false for a
    # file holding a NaN: NaN metrics would vanish from queries.
    "SET disabled_optimizers = 'statistics_propagation'",
    # Times are UTC instants: a date or a displayed time is the UTC one on every
    # machine, as in Spark's lakeml session (otherwise the machine's zone applies).
    "SET TimeZone = 'UTC'",
)


def configure(con: Any) -> Any:
    """Apply DUCKDB_SETTINGS to a DuckDB connection; returns it."""
    for statement in DUCKDB_SETTINGS:
        con.execute(statement)
    return con


def placeholders(values: Sequence[Any], what: str = "values") -> str:
    """``?, ?, …``: one placeholder per value, so the values stay parameters."""
    if not values:
        raise InvalidArgument(f"an empty list of {what}")
    return ", ".join("?" * len(values))


def sql_string(text: str) -> str:
    """``text`` as a single-quoted SQL literal (for paths lakeml itself chose)."""
    return "'" + text.replace("'", "''") + "'"
