"""Drift statistics computed from counts, so that every engine gives the same numbers.

Both engines (DuckDB in :mod:`lakeml.data.monitor.duck`, Spark in jobs/monitor.py)
reduce a window of traffic to counts: per numeric feature, how many values fall in
each bin of the baseline's bins; per categorical feature, how many of each value.
Everything here turns such counts into statistics, in plain numpy.

Numeric bins: the edges are up to :data:`KS_BINS` quantiles of the baseline (all its
distinct values when it has fewer), after one edge just below the baseline's minimum.
Bin ``i`` holds the values ``x`` with ``edges[i-1] < x <= edges[i]``: bin 0 the values
below the baseline's range, bin ``len(edges)`` those above it.

- **Population stability index** over :data:`PSI_BINS` baseline-decile bins (merged
  from the fine bins): ``sum((c - b) * ln(c / b))`` over bin shares, with shares
  floored at :data:`EPSILON` so an empty bin does not make it infinite. Common
  reading: < 0.1 stable, 0.1-0.2 moderate, > 0.2 a significant shift.
- **Kolmogorov-Smirnov**: the largest gap between the two empirical CDFs, read at the
  bin edges. Exact when the baseline has at most :data:`KS_BINS` distinct values; else
  within one fine bin's baseline share (1/KS_BINS) of the exact two-sample statistic.
  The p-value is the asymptotic Kolmogorov distribution's.
- **Chi-square** (2 x k contingency of baseline and current category counts, as
  ``scipy.stats.chi2_contingency`` without correction) with its p-value, and the
  **Jensen-Shannon distance** (base 2, in [0, 1], as ``scipy.spatial.distance
  .jensenshannon``) for categorical features.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

KS_BINS = 1000
PSI_BINS = 10
EPSILON = 1e-4


def numeric_edges(sorted_quantiles: Sequence[float]) -> np.ndarray:
    """Strictly increasing bin edges from baseline quantiles (duplicates dropped)."""
    edges = np.unique(np.asarray(sorted_quantiles, dtype=float))
    return edges[np.isfinite(edges)]


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` (no nulls) in the bins of ``edges`` (len(edges) + 1 bins)."""
    index = np.searchsorted(edges, values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def psi_groups(edges_count: int, baseline_counts: np.ndarray) -> np.ndarray:
    """For each fine bin, its PSI bin: cuts at the baseline's cumulative deciles, so each
    PSI bin holds about a tenth of the baseline."""
    total = baseline_counts.sum()
    if total == 0:
        return np.zeros(edges_count + 1, dtype=int)
    cumulative = np.cumsum(baseline_counts) / total
    groups = np.minimum((cumulative * PSI_BINS - 1e-9).astype(int), PSI_BINS - 1)
    return np.maximum.accumulate(np.maximum(groups, 0))


def psi(baseline: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    b = _shares(baseline)
    c = _shares(current)
    return float(np.sum((c - b) * np.log(c / b)))


def psi_binned(baseline_fine: np.ndarray, current_fine: np.ndarray) -> float:
    """PSI over decile bins of the baseline, from fine-bin counts."""
    groups = psi_groups(len(baseline_fine) - 1, baseline_fine)
    width = int(groups.max()) + 1
    b = np.bincount(groups, weights=baseline_fine, minlength=width)
    c = np.bincount(groups, weights=current_fine, minlength=width)
    return psi(b, c)


def ks(baseline_fine: np.ndarray, current_fine: np.ndarray) -> tuple[float, float]:
    """(Kolmogorov-Smirnov statistic, asymptotic p-value) from fine-bin counts."""
    n, m = float(baseline_fine.sum()), float(current_fine.sum())
    if n == 0 or m == 0:
        return float("nan"), float("nan")
    gap = np.abs(np.cumsum(baseline_fine) / n - np.cumsum(current_fine) / m)
    statistic = float(gap.max())
    return statistic, kolmogorov_pvalue(statistic, n * m / (n + m))


def kolmogorov_pvalue(statistic: float, effective_n: float) -> float:
    """P(D > statistic) under the asymptotic Kolmogorov distribution, with Stephens'
    small-sample correction of the scale."""
    root = math.sqrt(effective_n)
    lam = (root + 0.12 + 0.11 / root) * statistic
    if lam < 1e-3:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = 2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
    return float(min(max(total, 0.0), 1.0))


def chi_square(baseline: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the 2 x k contingency table of two count vectors."""
    table = np.vstack([baseline, current]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, chi2_sf(statistic, table.shape[1] - 1)


def jensen_shannon(baseline: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2) of two count vectors over the same categories."""
    p = np.asarray(baseline, dtype=float)
    q = np.asarray(current, dtype=float)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    mid = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        keep = a > 0
        return float(np.sum(a[keep] * np.log2(a[keep] / mid[keep])))

    return math.sqrt(max((kl(p) + kl(q)) / 2, 0.0))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square variable with ``dof`` degrees of freedom: the
    regularised upper incomplete gamma function Q(dof/2, x/2)."""
    if x <= 0:
        return 1.0
    return _gamma_q(dof / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """Q(a, x) by its series (x < a + 1) or its continued fraction (Lentz), the two
    classical expansions."""
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(10_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_front) * h)


def _shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts)
    return np.maximum(shares, EPSILON)
