"""A window of logged traffic reduced to counts, and how DuckDB counts it.

Windows are fixed-width and aligned to the Unix epoch in UTC: a row logged at time
``t`` (microseconds) is in the window starting at ``t // width * width``. Both engines
use that arithmetic, so they cut the same windows. Only answered requests
(``status = 200``) of the monitored model version are counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeml.data.monitor.reference import (
    Reference,
    category_histogram,
    histogram_counts,
    numeric_histogram,
    quote,
)
from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

_UNITS_US = {"s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6, "d": 86400 * 10**6,
             "w": 7 * 86400 * 10**6}


def window_us(text: str) -> int:
    """Microseconds in a window such as ``1h``, ``15m``, ``1d``, ``1w``."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", str(text))
    if match is None or int(match.group(1)) == 0:
        raise InvalidArgument(f"window {text!r} is not a duration such as 15m, 1h, 1d or 1w")
    return int(match.group(1)) * _UNITS_US[match.group(2)]


@dataclass
class ColumnCounts:
    """One column's counts in a window: nulls, and bin counts or category counts."""

    nulls: int
    bins: np.ndarray | None = None
    categories: dict[str, int] = field(default_factory=dict)


@dataclass
class WindowCounts:
    """What one window of traffic holds, per monitored column present in the log."""

    start_us: int
    end_us: int
    rows: int
    columns: dict[str, ColumnCounts] = field(default_factory=dict)


def count_windows_duckdb(files: list[str], reference: Reference, *, model_name: str,
                         model_version: int | None, width_us: int,
                         since_us: int | None = None, until_us: int | None = None,
                         log_columns: set[str]) -> list[WindowCounts]:
    """Count each window of the inference log's ``files`` for ``reference``'s columns
    that the log has (``log_columns``), in one DuckDB pass."""
    import duckdb

    from lakeml.sqltext import read_files

    if not files:
        return []
    present = [ref for ref in reference.columns.values() if ref.log_column in log_columns]
    selects = ["count(*) AS n"]
    for i, ref in enumerate(present):
        col = quote(ref.log_column)
        selects.append(f"count(*) - count({col}) AS z{i}")
        if ref.kind == "numeric" and len(ref.edges):
            selects.append(f"{numeric_histogram(col, ref.edges)} AS h{i}")
        elif ref.kind == "numeric":
            selects.append(f"NULL AS h{i}")
        else:
            selects.append(f"{category_histogram(col)} AS h{i}")
    where, params = _filters(model_name, model_version, since_us, until_us)
    sql = (f"SELECT epoch_us(\"time\") // {int(width_us)} * {int(width_us)} AS w, "
           f"{', '.join(selects)} FROM {read_files(files)} WHERE {where} "
           f"GROUP BY w ORDER BY w")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a long count prints nothing
    try:
        found = con.execute(sql, params).fetchall()
    finally:
        con.close()
    out = []
    for row in found:
        start = int(row[0])
        window = WindowCounts(start, start + width_us, int(row[1]))
        for i, ref in enumerate(present):
            nulls, hist = int(row[2 + 2 * i]), row[3 + 2 * i]
            if ref.kind == "numeric":
                bins = histogram_counts(hist, ref.edges) if len(ref.edges) else None
                window.columns[ref.name] = ColumnCounts(nulls, bins=bins)
            else:
                window.columns[ref.name] = ColumnCounts(
                    nulls, categories={str(k): int(v) for k, v in (hist or {}).items()})
        out.append(window)
    return out


def _filters(model_name: str, model_version: int | None, since_us: int | None,
             until_us: int | None) -> tuple[str, list[Any]]:
    where = ["status = 200", "model_name = ?"]
    params: list[Any] = [model_name]
    if model_version is not None:
        where.append("model_version = ?")
        params.append(int(model_version))
    if since_us is not None:
        where.append("epoch_us(\"time\") >= ?")
        params.append(int(since_us))
    if until_us is not None:
        where.append("epoch_us(\"time\") < ?")
        params.append(int(until_us))
    return " AND ".join(where), params


def count_windows_arrow(frame: pa.Table, reference: Reference, *, width_us: int
                        ) -> list[WindowCounts]:
    """The same counts from rows already filtered, in numpy (the Spark job's partial
    counts use this on each batch; tests compare it with DuckDB's)."""
    import pyarrow.compute as pc

    from lakeml.data.monitor.stats import bin_counts

    times = pc.cast(frame.column("time"), "int64").to_numpy(zero_copy_only=False)
    starts = times // width_us * width_us
    out = []
    for start in np.unique(starts):
        mask = starts == start
        window = WindowCounts(int(start), int(start) + width_us, int(mask.sum()))
        for ref in reference.columns.values():
            if ref.log_column not in frame.column_names:
                continue
            values = frame.column(ref.log_column).filter(mask)
            nulls = values.null_count
            if ref.kind == "numeric":
                numbers = pc.cast(values.drop_null(), "double").to_numpy(zero_copy_only=False)
                bins = bin_counts(numbers, ref.edges) if len(ref.edges) else None
                window.columns[ref.name] = ColumnCounts(nulls, bins=bins)
            else:
                texts = pc.cast(values.drop_null(), "string").to_pylist()
                unique, counts = np.unique(np.asarray(texts, dtype=object), return_counts=True)
                window.columns[ref.name] = ColumnCounts(
                    nulls, categories={str(k): int(v) for k, v in zip(unique, counts)})
        out.append(window)
    return out


def merge(parts: list[WindowCounts]) -> list[WindowCounts]:
    """Sum partial counts of the same windows (from several batches or executors)."""
    merged: dict[int, WindowCounts] = {}
    for part in parts:
        into = merged.get(part.start_us)
        if into is None:
            merged[part.start_us] = into = WindowCounts(part.start_us, part.end_us, 0)
        into.rows += part.rows
        for name, counts in part.columns.items():
            have = into.columns.get(name)
            if have is None:
                into.columns[name] = ColumnCounts(
                    counts.nulls, None if counts.bins is None else counts.bins.copy(),
                    dict(counts.categories))
                continue
            have.nulls += counts.nulls
            if counts.bins is not None:
                have.bins = counts.bins if have.bins is None else have.bins + counts.bins
            for key, n in counts.categories.items():
                have.categories[key] = have.categories.get(key, 0) + n
    return [merged[k] for k in sorted(merged)]


ROWS_KEY, NULLS_KEY = "__rows__", "__nulls__"


def to_long(windows: list[WindowCounts]) -> list[tuple[int, str, str, int]]:
    """Counts as (window start, column, key, count) rows: a bin index, a category, or
    the rows / nulls markers. The shape Spark sums across partitions."""
    out = []
    for window in windows:
        out.append((window.start_us, "", ROWS_KEY, window.rows))
        for name, counts in window.columns.items():
            out.append((window.start_us, name, NULLS_KEY, counts.nulls))
            if counts.bins is not None:
                out += [(window.start_us, name, str(i), int(n))
                        for i, n in enumerate(counts.bins) if n]
            out += [(window.start_us, name, f"={k}", n) for k, n in counts.categories.items()]
    return out


def from_long(rows: list[tuple[int, str, str, int]], reference: Reference,
              width_us: int) -> list[WindowCounts]:
    """The windows of summed :func:`to_long` rows."""
    windows: dict[int, WindowCounts] = {}
    for start, name, key, n in rows:
        window = windows.setdefault(int(start), WindowCounts(int(start), int(start) + width_us, 0))
        if key == ROWS_KEY:
            window.rows += int(n)
            continue
        ref = reference.columns[name]
        counts = window.columns.get(name)
        if counts is None:
            bins = np.zeros(len(ref.edges) + 1, dtype=np.int64) \
                if ref.kind == "numeric" and len(ref.edges) else None
            window.columns[name] = counts = ColumnCounts(0, bins=bins)
        if key == NULLS_KEY:
            counts.nulls += int(n)
        elif key.startswith("="):
            counts.categories[key[1:]] = counts.categories.get(key[1:], 0) + int(n)
        elif counts.bins is not None:
            counts.bins[int(key)] += int(n)
    return [windows[k] for k in sorted(windows)]
