"""A dataset's profile: row count, and per column its null rate, range, mean, quantiles
and most frequent values, computed by DuckDB in one pass over Arrow data.

The profile travels with the logged input (``Dataset.profile``, JSON), so a run records
what its data looked like and the monitor (issue 22 §4) has a training baseline without
reading the data again.
"""

from __future__ import annotations

import math
from typing import Any

from lakeml.sqltext import identifier

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_VALUES = 5
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")
_CATEGORICAL = ("VARCHAR", "BOOLEAN", "ENUM")


def profile_arrow(data: Any) -> dict[str, Any]:
    """The profile of an Arrow table or dataset (anything DuckDB scans as a relation)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("profiled", data)
        columns = con.execute("DESCRIBE profiled").fetchall()
        rows = con.execute("SELECT count(*) FROM profiled").fetchone()[0]
        out: dict[str, Any] = {"num_rows": int(rows), "num_columns": len(columns),
                               "columns": {}}
        if not columns:
            return out
        stats = _column_stats(con, [(str(c[0]), str(c[1])) for c in columns], rows)
        out["columns"] = stats
        return out
    finally:
        con.close()


def _kind(duck_type: str) -> str:
    base = duck_type.split("(")[0].upper()
    if base in _NUMERIC:
        return "numeric"
    if base in _CATEGORICAL:
        return "categorical"
    return "other"


def _column_stats(con: Any, columns: list[tuple[str, str]], rows: int) -> dict[str, Any]:
    """One aggregate query for every column's nulls, range, mean and quantiles, then a
    small top-values query per categorical column."""
    selects: list[str] = []
    for i, (name, duck_type) in enumerate(columns):
        col = _quote(name)
        selects.append(f"count({col}) AS n{i}")
        kind = _kind(duck_type)
        if kind == "numeric":
            as_double = f"CAST({col} AS DOUBLE)"
            selects += [f"min({as_double}) AS lo{i}", f"max({as_double}) AS hi{i}",
                        f"avg({as_double}) AS mean{i}", f"stddev_samp({as_double}) AS sd{i}",
                        f"approx_quantile({as_double}, {list(QUANTILES)}) AS q{i}"]
        elif kind == "categorical":
            selects.append(f"approx_count_distinct({col}) AS nd{i}")
    values = con.execute(f"SELECT {', '.join(selects)} FROM profiled").fetchone()
    named = dict(zip([d[0] for d in con.description], values))
    stats: dict[str, Any] = {}
    for i, (name, duck_type) in enumerate(columns):
        present = int(named[f"n{i}"])
        entry: dict[str, Any] = {"type": duck_type,
                                 "null_rate": (rows - present) / rows if rows else 0.0}
        kind = _kind(duck_type)
        if kind == "numeric":
            entry.update(min=_number(named[f"lo{i}"]), max=_number(named[f"hi{i}"]),
                         mean=_number(named[f"mean{i}"]), std=_number(named[f"sd{i}"]))
            qs = named[f"q{i}"]
            if qs is not None:
                entry["quantiles"] = {str(q): _number(v) for q, v in zip(QUANTILES, qs)}
        elif kind == "categorical":
            entry["approx_distinct"] = int(named[f"nd{i}"] or 0)
            entry["top_values"] = _top_values(con, name)
        stats[name] = entry
    return stats


def _top_values(con: Any, name: str) -> list[list[Any]]:
    col = _quote(name)
    found = con.execute(
        f"SELECT CAST({col} AS VARCHAR), count(*) AS n FROM profiled WHERE {col} IS NOT NULL "
        f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {TOP_VALUES}").fetchall()
    return [[value, int(n)] for value, n in found]


def _number(value: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become None (JSON has neither)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


_quote = identifier  # a column name as a SQL identifier (``"`` doubled)
