"""The baseline a model's traffic is compared with, reduced to counts.

A :class:`Reference` holds, per monitored column (each signature input, and each
prediction column), what the drift statistics need from the baseline: for a numeric
column its fine bin edges (baseline quantiles, :data:`stats.KS_BINS` of them) and the
baseline's counts in those bins; for a categorical column its value counts; and its
null rate and row count. It is computed once, by DuckDB, from an Arrow table, and both
engines count the current windows into the same bins, so they agree exactly.

The baseline's predictions are the model's predictions on (a repeatable sample of at
most :data:`PREDICTION_SAMPLE` rows of) the baseline data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeml.data.monitor import stats
from lakeml.sqltext import identifier

if TYPE_CHECKING:
    import pyarrow as pa

PREDICTION_SAMPLE = 100_000
NUMERIC_TYPES = ("double", "float", "long", "integer")
_NUMERIC_DUCK = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                 "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")


@dataclass
class ColumnRef:
    """One monitored column's baseline: ``log_column`` is its column in inference_log."""

    name: str
    log_column: str
    kind: str  # "numeric" or "categorical"
    rows: int
    nulls: int
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    categories: dict[str, int] = field(default_factory=dict)
    expected_type: str | None = None  # the signature's type, for schema checks

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0

    @property
    def minimum(self) -> float:
        return float(self.edges[1]) if len(self.edges) else float("nan")

    @property
    def maximum(self) -> float:
        return float(self.edges[-1]) if len(self.edges) else float("nan")


@dataclass
class Reference:
    """Every monitored column's baseline, and a description of where it came from."""

    columns: dict[str, ColumnRef]
    description: str
    rows: int


def reference_of(data: pa.Table, features: dict[str, str | None], description: str,
                 predictions: pa.Table | None = None) -> Reference:
    """The reference of baseline ``data`` for ``features`` (name -> signature type or
    None to infer), plus the ``predictions`` columns (already named as logged)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a long count prints nothing
    try:
        con.register("baseline", data)
        columns = {}
        present = {str(r[0]): str(r[1]) for r in con.execute("DESCRIBE baseline").fetchall()}
        for name, sig_type in features.items():
            if name not in present:
                continue
            kind = _kind(sig_type, present[name])
            columns[name] = _column_ref(con, "baseline", name, f"input_{name}", kind)
            columns[name].expected_type = sig_type
        if predictions is not None:
            con.register("predicted", predictions)
            for name, duck_type in ((str(r[0]), str(r[1])) for r in
                                    con.execute("DESCRIBE predicted").fetchall()):
                columns[name] = _column_ref(con, "predicted", name, name,
                                            _kind(None, duck_type))
        return Reference(columns, description, int(data.num_rows))
    finally:
        con.close()


def _kind(sig_type: str | None, duck_type: str) -> str:
    if sig_type is not None:
        return "numeric" if sig_type in NUMERIC_TYPES else "categorical"
    return "numeric" if duck_type.split("(")[0].upper() in _NUMERIC_DUCK else "categorical"


def _column_ref(con: Any, relation: str, name: str, log_column: str, kind: str) -> ColumnRef:
    col = quote(name)
    rows, present = con.execute(f"SELECT count(*), count({col}) FROM {relation}").fetchall()[0]
    ref = ColumnRef(name, log_column, kind, int(rows), int(rows - present))
    if kind == "numeric":
        qs = ", ".join(repr(i / stats.KS_BINS) for i in range(stats.KS_BINS + 1))
        found = con.execute(f"SELECT quantile_disc(CAST({col} AS DOUBLE), [{qs}]) "
                            f"FROM {relation} WHERE NOT isnan(CAST({col} AS DOUBLE))"
                            ).fetchall()[0][0]
        ref.edges = stats.numeric_edges(found or [])
        if len(ref.edges):  # bin 0: values below the baseline's minimum (out of range)
            ref.edges = np.concatenate([[np.nextafter(ref.edges[0], -np.inf)], ref.edges])
        if len(ref.edges):
            hist = con.execute(f"SELECT {numeric_histogram(col, ref.edges)} "
                               f"FROM {relation}").fetchall()[0][0]
            ref.counts = histogram_counts(hist, ref.edges)
        else:
            ref.counts = np.zeros(1, dtype=np.int64)
    else:
        hist = con.execute(f"SELECT {category_histogram(col)} FROM {relation}").fetchall()[0][0]
        ref.categories = {str(k): int(v) for k, v in (hist or {}).items()}
    return ref


def numeric_histogram(col: str, edges: np.ndarray) -> str:
    """The DuckDB aggregate counting ``col`` (quoted) into the bins of ``edges``."""
    listed = ", ".join(repr(float(e)) for e in edges)
    return f"histogram(CAST({col} AS DOUBLE), [{listed}]::DOUBLE[])"


def category_histogram(col: str) -> str:
    return f"histogram(CAST({col} AS VARCHAR))"


def histogram_counts(hist: dict[float, int] | None, edges: np.ndarray) -> np.ndarray:
    """A DuckDB ``histogram(x, edges)`` map (upper bound -> count; the overflow bucket's
    bound is infinity) as counts per bin, len(edges) + 1 of them."""
    counts = np.zeros(len(edges) + 1, dtype=np.int64)
    for bound, n in (hist or {}).items():
        bound = float(bound)
        index = len(edges) if bound == float("inf") else int(np.searchsorted(edges, bound))
        counts[index] += int(n)
    return counts


quote = identifier  # a column name as a SQL identifier (``"`` doubled)
