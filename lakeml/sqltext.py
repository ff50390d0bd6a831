"""Small pieces of SQL text and DuckDB settings that every layer shares.

Nothing here imports DuckDB or pyarrow, so any module may use it.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

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


def identifier(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (any ``"`` doubled): the one way a
    column name lakeml did not choose (a model's input, from a request) reaches SQL.

    Example:
        >>> identifier('x", 1 AS "y')
        '"x"", 1 AS ""y"'
    """
    return '"' + str(name).replace('"', '""') + '"'


def read_files(paths: Iterable[str]) -> str:
    """``read_parquet`` of exactly these data files (lakeml chose the paths): the one
    way every layer reads Delta data files into DuckDB.

    Never a glob (removed files stay on disk until vacuum), columns matched by
    name (a table's files may differ in their columns' order or presence), and
    no hive partitions guessed from the paths (a store under ``/data/x=1/``
    would otherwise gain a column ``x``).

    Example:
        >>> read_files(["/s/params/a.parquet"])
        "read_parquet(['/s/params/a.parquet'], hive_partitioning = false, union_by_name = true)"
    """
    listed = ", ".join(sql_string(p) for p in paths)
    return f"read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"
