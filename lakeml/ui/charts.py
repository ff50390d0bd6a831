"""The UI API of metric charts: histories of one metric for many runs, each cut down on
the server to at most ``max_points`` points (:mod:`lakeml.ui.downsample`), so a
million-step history costs the page what a two-thousand-step one does.

A long series is drawn from the buckets the writer derived as the points were logged
(:mod:`lakeml.ui.chart_buckets`: a few thousand rows for a million steps). The others'
points come from the store's raw metrics table (sql/queries/ui_metric_points.sql: no
DISTINCT, no ORDER BY over millions of points), read for :data:`RUNS_PER_READ` runs at a
time so that the server never holds more than their points (a chart of 1,000 runs of
100,000 steps is 100 M points, ~3 GB at once), or, when metric_buckets counts their
points, up to :data:`POINTS_PER_READ` points at a time. Each run's points are put in
step order here, a no-op when they were logged in order: the rows of one data file come
as a block, so a run's points are a few blocks to join, not a sort of every point.

The answer is JSON of up to ~200,000 points (about 0.5 s to encode); it is kept, encoded,
until the metrics table gets a new commit (:mod:`lakeml.ui.cache`), so a chart opened
again, or the same runs charted on another page, costs nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.ui.cache import cached
from lakeml.ui.downsample import DEFAULT_MAX_POINTS, check_max_points, min_max

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from starlette.responses import Response

    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_RUNS = 1000
RUNS_PER_READ = 25
POINTS_PER_READ = 1_000_000


def metric_history(client: Client, args: Args) -> Response:
    """Metric ``key`` of the runs ``run_id`` (repeatable): per run, its downsampled
    ``step``, ``timestamp`` (ms) and ``value`` lists in step order (NaN and infinities
    as null), how many points it has in full, and ``bucket_width``: null when cut down
    from its raw points, else the width in steps of the buckets of metric_buckets it
    was drawn from (:mod:`lakeml.ui.chart_buckets`)."""
    from starlette.responses import Response

    run_ids = list(dict.fromkeys(args.all("run_id")))
    if not 1 <= len(run_ids) <= MAX_RUNS:
        raise InvalidArgument(f"a chart needs 1 to {MAX_RUNS} run_id parameters, "
                              f"got {len(run_ids)}")
    key = args.need("key")
    max_points = check_max_points(args.get("max_points", str(DEFAULT_MAX_POINTS)))
    body = cached(client, ("chart", tuple(run_ids), key, max_points),
                  ("metrics", "metric_latest", "metric_buckets"),  # see chart_buckets
                  lambda: _encoded(client, run_ids, key, max_points), shelf="charts")
    return Response(body, media_type="application/json")


def _encoded(client: Client, run_ids: list[str], key: str, max_points: int) -> bytes:
    """The answer as JSON bytes (as Starlette's JSONResponse writes it)."""
    from lakeml.ui.chart_buckets import bucketed_series, plans

    sizes: dict[str, int] = {}
    bucketed = bucketed_series(client, key, plans(client, run_ids, key, max_points, sizes))
    exact = [r for r in run_ids if r not in bucketed]
    found: dict[str, str] = {}
    for batch in read_groups(exact, sizes):
        found.update((run_id, _json(_series(run_id, *points, max_points=max_points)))
                     for run_id, points in zip(batch, run_points(client, batch, key)))
    series = ",".join(bucketed.get(run_id) or found[run_id] for run_id in run_ids)
    head = _json({"key": key, "max_points": max_points})[:-1]
    return f'{head},"series":[{series}]}}'.encode()


def read_groups(run_ids: list[str], sizes: dict[str, int]) -> list[list[str]]:
    """``run_ids`` in groups to read at once: runs of known size (``sizes``, from the
    summary of metric_buckets) up to :data:`POINTS_PER_READ` points and a quarter of
    :data:`MAX_RUNS` runs a group, the others :data:`RUNS_PER_READ` a group. Each read
    is a scan of the metrics table's matching files, ~15 ms at a million runs: a
    thousand one-point runs in four reads, not forty."""
    known = [r for r in run_ids if r in sizes]
    unknown = [r for r in run_ids if r not in sizes]
    out = [unknown[i:i + RUNS_PER_READ] for i in range(0, len(unknown), RUNS_PER_READ)]
    group: list[str] = []
    held = 0
    for run_id in known:
        # (a count can fall short: points backfilled without rows; so runs are capped too)
        if group and (held + sizes[run_id] > POINTS_PER_READ or len(group) >= MAX_RUNS // 4):
            out.append(group)
            group, held = [], 0
        group.append(run_id)
        held += sizes[run_id]
    return out + [group] if group else out


def _json(value: Any) -> str:
    """``value`` as compact JSON (as Starlette's JSONResponse writes it)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None,
                      separators=(",", ":"))


def run_points(client: Client, run_ids: list[str], key: str
               ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per run of ``run_ids``, the (step, timestamp ms, value) arrays of its ``key``
    points, in the order they were read."""
    import numpy as np

    from lakeml.query.sqlfiles import query

    table: pa.Table = client.sql(query("ui_metric_points"),
                                 {"run_ids": run_ids, "key": key}).arrow()
    if hasattr(table, "read_all"):  # a record batch reader
        table = table.read_all()
    runs = table["r"].to_numpy()
    columns = [table[c].to_numpy() for c in ("step", "timestamp", "value")]
    # blocks of rows of one run (a data file's rows come together), by run then position
    starts = np.concatenate(([0], np.flatnonzero(runs[1:] != runs[:-1]) + 1)) if len(runs) \
        else np.zeros(0, dtype=np.int64)
    ends = np.append(starts[1:], len(runs))
    blocks: dict[int, list[tuple[int, int]]] = {}
    for run, begin, end in zip(runs[starts].tolist(), starts.tolist(), ends.tolist()):
        blocks.setdefault(run, []).append((begin, end))
    out = []
    for r in range(1, len(run_ids) + 1):
        spans = blocks.get(r, [])
        if len(spans) == 1:  # a view, no copy
            out.append(tuple(c[spans[0][0]:spans[0][1]] for c in columns))
        else:
            out.append(tuple(np.concatenate([c[b:e] for b, e in spans]) if spans
                             else c[:0] for c in columns))
    return out  # type: ignore[return-value]


def _series(run_id: str, steps: np.ndarray, stamps: np.ndarray, values: np.ndarray, *,
            max_points: int) -> dict[str, Any]:
    """One run's points in (step, time) order, downsampled, as JSON lists."""
    import numpy as np

    if len(steps) > 1 and not np.all(steps[1:] >= steps[:-1]):
        order = np.lexsort((stamps, steps))
        steps, stamps, values = steps[order], stamps[order], values[order]
    keep = min_max(steps, values, max_points)
    kept = values[keep].astype(np.float64)
    finite = np.isfinite(kept)
    return {"run_id": run_id, "points": int(len(values)), "bucket_width": None,
            "step": steps[keep].tolist(),
            "timestamp": stamps[keep].tolist(),
            "value": kept.tolist() if finite.all()
            else [v if ok else None for v, ok in zip(kept.tolist(), finite.tolist())]}


ROUTES = {"/metric-history": metric_history}
