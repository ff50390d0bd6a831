"""The UI API of metric charts: histories of one metric for many runs, each cut down on
the server to at most ``max_points`` points (:mod:`lakeml.ui.downsample`), so a
million-step history costs the page what a two-thousand-step one does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.ui.downsample import DEFAULT_MAX_POINTS, check_max_points, min_max

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_RUNS = 1000


def metric_history(client: Client, args: Args) -> dict[str, Any]:
    """Metric ``key`` of the runs ``run_id`` (repeatable): per run, its downsampled
    ``step``, ``timestamp`` and ``value`` lists (NaN and infinities as null), and how
    many points it has in full."""
    import numpy as np

    run_ids = list(dict.fromkeys(args.all("run_id")))
    if not 1 <= len(run_ids) <= MAX_RUNS:
        raise InvalidArgument(f"a chart needs 1 to {MAX_RUNS} run_id parameters, "
                              f"got {len(run_ids)}")
    key = args.need("key")
    max_points = check_max_points(args.get("max_points", str(DEFAULT_MAX_POINTS)))
    frame = client.get_metric_histories(run_ids, [key])
    series = []
    by_run = {r: g for r, g in frame.groupby("run_id", sort=False)} if len(frame) else {}
    for run_id in run_ids:
        g = by_run.get(run_id)
        if g is None:
            series.append({"run_id": run_id, "points": 0, "step": [], "timestamp": [],
                           "value": []})
            continue
        steps = g["step"].to_numpy()
        values = g["value"].to_numpy(dtype=np.float64)
        stamps = _epoch_ms(g["timestamp"])
        keep = min_max(steps, values, max_points)
        kept = values[keep]
        series.append({"run_id": run_id, "points": int(len(values)),
                       "step": steps[keep].tolist(), "timestamp": stamps[keep].tolist(),
                       "value": np.where(np.isfinite(kept), kept, np.nan).tolist()})
    for s in series:  # JSON has no NaN
        s["value"] = [None if v != v else v for v in s["value"]]
    return {"key": key, "max_points": max_points, "series": series}


def _epoch_ms(column: Any) -> Any:
    """A pandas column of times (datetimes, aware or not, or epoch ms) as epoch ms."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return column.to_numpy(dtype=np.int64)


ROUTES = {"/metric-history": metric_history}
