"""Metric series cut down to a few thousand points for a chart, keeping every extreme.

A chart a thousand pixels wide cannot show a million points, and sending them costs
seconds (MLflow's UI froze on 10,000-step histories). :func:`min_max` splits a series
into buckets of consecutive points and keeps, from each, the point with the lowest and
the point with the highest value (in step order), plus the first and last point of the
series: a spike or a dip anywhere survives, which the average of a bucket or a plain
stride would lose. This is the "M4"-style reduction chart libraries use for line charts;
LTTB looks smoother but may drop a single-point spike, which matters for a loss curve.

Non-finite values (NaN, inf) are kept only when a bucket has nothing else: they are not
extremes of a chart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MAX_POINTS = 2000
MIN_POINTS = 4


def check_max_points(max_points: object) -> int:
    """``max_points`` of a request, checked: an integer from 4 to 100,000."""
    try:
        n = int(str(max_points))
    except ValueError:
        raise InvalidArgument(f"max_points must be an integer, got {max_points!r:.40}") from None
    if not MIN_POINTS <= n <= 100_000:
        raise InvalidArgument(f"max_points must be from {MIN_POINTS} to 100000, got {n}")
    return n


def min_max(x: np.ndarray, y: np.ndarray, max_points: int = DEFAULT_MAX_POINTS
            ) -> np.ndarray:
    """Indices (ascending) of at most ``max_points`` points of the series ``(x, y)``
    that keep its shape: per bucket of consecutive points, its minimum and maximum,
    and the series' first and last point.

    ``x`` must already be in order (a metric history is, by step then time); only
    ``y`` decides which points stay. A series that fits is returned whole.

    Example:
        >>> import numpy as np
        >>> y = np.zeros(10_000); y[1234] = 5.0
        >>> keep = min_max(np.arange(10_000), y, 100)
        >>> len(keep) <= 100 and 1234 in keep
        True
    """
    import numpy as np

    n = len(y)
    if len(x) != n:
        raise InvalidArgument(f"x and y differ in length: {len(x)} and {n}")
    max_points = check_max_points(max_points)
    if n <= max_points:
        return np.arange(n)
    buckets = (max_points - 2) // 2  # two points a bucket, plus the first and last
    size = -(-n // buckets)  # ceil: every bucket full but the last
    values = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf)
    high = np.where(finite, values, -np.inf)
    full = n // size  # the full buckets, as rows of a matrix; then the last, partial one
    starts = np.arange(full) * size
    lows = [starts + low[:full * size].reshape(full, size).argmin(axis=1)]
    highs = [starts + high[:full * size].reshape(full, size).argmax(axis=1)]
    if full * size < n:
        lows.append([full * size + int(low[full * size:].argmin())])
        highs.append([full * size + int(high[full * size:].argmax())])
    return np.unique(np.concatenate([[0, n - 1], *lows, *highs]))
