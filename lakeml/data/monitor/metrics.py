"""From a baseline and a window's counts to the rows of ``monitor_metrics``, with alerts.

Per monitored column and window: ``rows``; ``null_rate`` and ``null_rate_increase``
(over the baseline's); numeric columns ``psi``, ``ks`` and ``ks_pvalue`` and
``out_of_range_rate`` (values outside the baseline's range); categorical columns
``chi_square``, ``chi_square_pvalue``, ``js_distance`` and ``new_category_rate``
(values the baseline never had). Schema violations: ``missing_column`` (a signature
input the log lacks, 1.0) and ``type_mismatch`` (the log's column type is not the
signature's, 1.0). Prediction columns get the same drift statistics (prediction drift).

A statistic alerts when it crosses its threshold: above it, except for those in
:data:`LOWER_IS_WORSE` (p-values and quality scores), below it. Thresholds come from
flags, else conf (``monitor: thresholds: {psi: 0.25}`` in conf/lakeml.yaml), else
:data:`DEFAULT_THRESHOLDS`. Windows with fewer than ``min_rows`` rows get their
statistics but raise no drift alert (too few rows to tell a shift from noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakeml.data.monitor import stats
from lakeml.data.monitor.reference import ColumnRef, Reference
from lakeml.data.monitor.windows import ColumnCounts, WindowCounts
from lakeml.errors import InvalidArgument

DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.2, "ks": 0.1, "chi_square_pvalue": 0.01, "js_distance": 0.1,
    "null_rate_increase": 0.05, "out_of_range_rate": 0.05, "new_category_rate": 0.05,
    "missing_column": 0.5, "type_mismatch": 0.5,
}
LOWER_IS_WORSE = frozenset({"chi_square_pvalue", "ks_pvalue", "accuracy", "f1", "auc"})
KNOWN = frozenset(DEFAULT_THRESHOLDS) | LOWER_IS_WORSE | {
    "rmse", "mae", "rows", "null_rate", "chi_square", "labelled_rows"}
SCHEMA_STATS = ("missing_column", "type_mismatch")


@dataclass(frozen=True)
class Metric:
    """One row of monitor_metrics, before the model and window columns are added."""

    feature: str
    statistic: str
    value: float
    threshold: float | None
    alert: bool


def thresholds(overrides: dict[str, float] | None = None,
               conf: dict[str, Any] | None = None) -> dict[str, float]:
    """The thresholds in force: ``overrides`` > ``conf`` > defaults, names checked."""
    out = dict(DEFAULT_THRESHOLDS)
    for source in (conf or {}, overrides or {}):
        for name, value in source.items():
            if name not in KNOWN:
                raise InvalidArgument(f"unknown monitor statistic {name!r} for a threshold; "
                                      f"known: {', '.join(sorted(KNOWN))}")
            try:
                out[name] = float(value)
            except (TypeError, ValueError):
                raise InvalidArgument(f"threshold {name}={value!r} is not a number") from None
    return out


def parse_thresholds(pairs: list[str] | None) -> dict[str, float]:
    """``["psi=0.25", …]`` (the ``--threshold`` flags) as a dict, checked."""
    out = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep:
            raise InvalidArgument(f"--threshold {pair!r}: write STATISTIC=VALUE, e.g. psi=0.25")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InvalidArgument(f"--threshold {pair!r}: {value!r} is not a number") from None
    return thresholds(out) and out


def judge(feature: str, statistic: str, value: float, limits: dict[str, float], *,
          may_alert: bool = True) -> Metric:
    """The metric with its threshold and whether it alerts."""
    threshold = limits.get(statistic)
    alert = False
    if threshold is not None and may_alert and not math.isnan(value):
        alert = value < threshold if statistic in LOWER_IS_WORSE else value > threshold
    return Metric(feature, statistic, float(value), threshold, alert)


def schema_metrics(reference: Reference, features: dict[str, str | None],
                   log_types: dict[str, str], limits: dict[str, float]) -> list[Metric]:
    """Signature inputs missing from the log, or logged with another type."""
    out = []
    for name, sig_type in features.items():
        column = f"input_{name}"
        missing = column not in log_types
        out.append(judge(name, "missing_column", float(missing), limits))
        if not missing and sig_type is not None:
            wrong = not _type_fits(sig_type, log_types[column])
            out.append(judge(name, "type_mismatch", float(wrong), limits))
    return out


def _type_fits(sig_type: str, arrow_type: str) -> bool:
    numeric = ("double", "float", "int64", "int32", "int16", "int8", "uint")
    if sig_type in ("double", "float", "long", "integer"):
        return arrow_type.startswith(numeric)
    if sig_type == "string":
        return arrow_type in ("string", "large_string", "string_view")
    if sig_type == "boolean":
        return arrow_type == "bool"
    if sig_type == "datetime":
        return arrow_type.startswith("timestamp")
    return True


def window_metrics(reference: Reference, window: WindowCounts, limits: dict[str, float],
                   min_rows: int) -> list[Metric]:
    """Every drift and null statistic of one window."""
    may_alert = window.rows >= min_rows
    out = [judge("*", "rows", float(window.rows), limits)]
    for name, ref in reference.columns.items():
        counts = window.columns.get(name)
        if counts is None:
            continue
        out += _column_metrics(ref, counts, window.rows, limits, may_alert)
    return out


def _column_metrics(ref: ColumnRef, counts: ColumnCounts, rows: int,
                    limits: dict[str, float], may_alert: bool) -> list[Metric]:
    null_rate = counts.nulls / rows if rows else 0.0

    def m(statistic: str, value: float) -> Metric:
        return judge(ref.name, statistic, value, limits, may_alert=may_alert)

    out = [m("null_rate", null_rate), m("null_rate_increase", null_rate - ref.null_rate)]
    if ref.kind == "numeric":
        if counts.bins is None or not len(ref.edges):
            return out
        current = counts.bins
        present = current.sum()
        outside = current[0] + current[-1]  # below the baseline's minimum, above its max
        ks_stat, ks_p = stats.ks(ref.counts, current)
        out += [m("psi", stats.psi_binned(ref.counts, current) if present else float("nan")),
                m("ks", ks_stat), m("ks_pvalue", ks_p),
                m("out_of_range_rate", outside / present if present else 0.0)]
    else:
        keys = sorted(set(ref.categories) | set(counts.categories))
        base = np.array([ref.categories.get(k, 0) for k in keys], dtype=float)
        now = np.array([counts.categories.get(k, 0) for k in keys], dtype=float)
        present = now.sum()
        unseen = sum(n for k, n in counts.categories.items() if k not in ref.categories)
        chi, chi_p = stats.chi_square(base, now) if present else (float("nan"), float("nan"))
        out += [m("chi_square", chi), m("chi_square_pvalue", chi_p),
                m("js_distance", stats.jensen_shannon(base, now) if present else float("nan")),
                m("new_category_rate", unseen / present if present else 0.0)]
    return out

