"""The UI API of metric charts: histories of one metric for many runs, each cut down on
the server to at most ``max_points`` points (:mod:`lakeml.ui.downsample`), so a
million-step history costs the page what a two-thousand-step one does.

The points come from the store's raw metrics table in one read
(sql/queries/ui_metric_points.sql: no DISTINCT, no ORDER BY over millions of points);
each run's points are put in step order here, a no-op when they were logged in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.ui.downsample import DEFAULT_MAX_POINTS, check_max_points, min_max

if TYPE_CHECKING:
    import numpy as np

    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_RUNS = 1000


def metric_history(client: Client, args: Args) -> dict[str, Any]:
    """Metric ``key`` of the runs ``run_id`` (repeatable): per run, its downsampled
    ``step``, ``timestamp`` (ms) and ``value`` lists in step order (NaN and infinities
    as null), and how many points it has in full."""
    import numpy as np

    from lakeml.query.sqlfiles import query

    run_ids = list(dict.fromkeys(args.all("run_id")))
    if not 1 <= len(run_ids) <= MAX_RUNS:
        raise InvalidArgument(f"a chart needs 1 to {MAX_RUNS} run_id parameters, "
                              f"got {len(run_ids)}")
    key = args.need("key")
    max_points = check_max_points(args.get("max_points", str(DEFAULT_MAX_POINTS)))
    table = client.sql(query("ui_metric_points"), {"run_ids": run_ids, "key": key}).arrow()
    if hasattr(table, "read_all"):  # a record batch reader
        table = table.read_all()
    runs = table["r"].to_numpy()
    columns = [table[c].to_numpy() for c in ("step", "timestamp", "value")]
    order = None if np.all(runs[1:] >= runs[:-1]) else np.argsort(runs, kind="stable")
    if order is not None:
        runs, columns = runs[order], [c[order] for c in columns]
    bounds = np.searchsorted(runs, np.arange(1, len(run_ids) + 2))
    series = [_series(run_id, *(c[bounds[i]:bounds[i + 1]] for c in columns),
                      max_points=max_points) for i, run_id in enumerate(run_ids)]
    return {"key": key, "max_points": max_points, "series": series}


def _series(run_id: str, steps: np.ndarray, stamps: np.ndarray, values: np.ndarray, *,
            max_points: int) -> dict[str, Any]:
    """One run's points in (step, time) order, downsampled, as JSON lists."""
    import numpy as np

    if len(steps) > 1 and not np.all(steps[1:] >= steps[:-1]):
        order = np.lexsort((stamps, steps))
        steps, stamps, values = steps[order], stamps[order], values[order]
    keep = min_max(steps, values, max_points)
    kept = values[keep].astype(np.float64)
    return {"run_id": run_id, "points": int(len(values)), "step": steps[keep].tolist(),
            "timestamp": stamps[keep].tolist(),
            "value": [v if np.isfinite(v) else None for v in kept.tolist()]}


ROUTES = {"/metric-history": metric_history}
