"""Long metric histories for charts, from the writer's downsampled rows.

The store's ``metric_buckets`` table (:mod:`lakeml.store.buckets`) holds, per run, key
and bucket of steps of a few fixed widths, the bucket's first, last, lowest and highest
point. A series longer than a chart's ``max_points`` whose steps span enough buckets is
drawn from those rows: the widths' rows are merged into ``max_points // 4`` buckets or
fewer (each gives up to four points), so a million-step history costs the server a few
thousand rows, not a million points. Shorter series, series with no such rows (metrics
a Spark job wrote to the table directly) and every series of a store whose table is not
marked complete (its metrics predate the table: ``lakeml maintenance rebuild-buckets``)
are read exactly by :mod:`lakeml.ui.charts`.

The bucket of a point is ``floor(step / width)`` for the width a series is drawn at
(``bucket_width`` in the answer), so the answer is exactly the M4 reduction of the raw
points over those buckets, whatever order, batches or writers they came in
(tests/ui/test_chart_buckets.py checks it against the raw points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakeml.store.buckets import COMPLETE, WIDTHS, merge_sql

if TYPE_CHECKING:
    from lakeml.client import Client

_RUNS = ("(SELECT unnest($run_ids) AS run_id, "
         "generate_subscripts($run_ids, 1)::INTEGER AS r) AS c")

# Per run: its points and steps from the coarsest width's rows (a few per run), and
# whether the table is marked complete (r = 0).
_SUMMARY_SQL = f"""
SELECT c.r, sum(b.points)::BIGINT AS points, min(b.first_step) AS first_step,
       max(b.last_step) AS last_step
FROM lake_metric_buckets AS b JOIN {_RUNS} USING (run_id)
WHERE b.key = $key AND b.width = {WIDTHS[-1]} AND list_contains($run_ids, b.run_id)
GROUP BY c.r
UNION ALL
SELECT 0, count(*), NULL, NULL FROM lake_metric_buckets
WHERE run_id = '{COMPLETE}' AND key = '{COMPLETE}' AND width = 0
"""


@dataclass(frozen=True)
class Plan:
    """How one series is read: at ``width`` (a WIDTHS entry) merged ``factor`` at a time."""

    width: int
    factor: int
    points: int

    @property
    def bucket_width(self) -> int:
        return self.width * self.factor


def plan(points: int, first_step: int, last_step: int, max_points: int) -> Plan | None:
    """The widths to draw a series of ``points`` points over steps ``first_step`` to
    ``last_step`` from, in at most ``max_points`` points; None: read it exactly (it fits,
    or its steps span too few of the finest buckets to need fewer points)."""
    if points <= max_points:
        return None
    buckets = max_points // 4  # four points a bucket at most
    if buckets < 2:
        return None
    span = last_step - first_step + 1
    # buckets start at multiples of their width, so a span of `buckets - 1` widths may
    # touch `buckets` of them: the narrowest width that keeps to `buckets`
    wanted = -(-span // (buckets - 1))
    fitting = [w for w in WIDTHS if w <= wanted]
    if not fitting:
        return None
    width = fitting[-1]
    return Plan(width, -(-wanted // width), points)


def plans(client: Client, run_ids: list[str], key: str, max_points: int
          ) -> dict[str, Plan]:
    """The runs of ``run_ids`` to draw from metric_buckets, with their plans."""
    rows = client.sql(_SUMMARY_SQL, {"run_ids": run_ids, "key": key}).fetchall()
    summaries = {r: (points, first, last) for r, points, first, last in rows if r}
    if not any(r == 0 and points for r, points, _, _ in rows):
        return {}  # not marked complete: some points may have no rows
    out = {}
    for r, (points, first, last) in summaries.items():
        chosen = plan(points, first, last, max_points)
        if chosen is not None:
            out[run_ids[r - 1]] = chosen
    return out


def bucketed_series(client: Client, key: str, chosen: dict[str, Plan]
                    ) -> dict[str, dict[str, Any]]:
    """Per run of ``chosen``, its series (as charts._series gives one) from the merged
    rows of metric_buckets: per bucket its first, lowest, highest and last points."""
    import numpy as np

    if not chosen:
        return {}
    run_ids = list(chosen)
    widths = [chosen[r].width for r in run_ids]
    factors = [chosen[r].factor for r in run_ids]
    runs = ("(SELECT unnest($run_ids) AS run_id, unnest($widths) AS w, "
            "unnest($factors) AS f, generate_subscripts($run_ids, 1)::INTEGER AS r) AS c")
    source = (f"(SELECT c.r, c.f, b.* EXCLUDE (run_id, key) FROM lake_metric_buckets AS b "
              f"JOIN {runs} ON b.run_id = c.run_id AND b.width = c.w "
              f"WHERE b.key = $key AND list_contains($run_ids, b.run_id))")
    ends = ", ".join(f"{end}_step, epoch_ms({end}_timestamp) AS {end}_timestamp, "
                     f"{end}_value" for end in ("first", "low", "high", "last"))
    query = (f"SELECT r, {ends} FROM ({merge_sql(source, 'f', group='r, f')}) "
             f"ORDER BY r, bucket")
    table = client.sql(query, {"run_ids": run_ids, "widths": widths, "factors": factors,
                               "key": key}).arrow()
    if hasattr(table, "read_all"):  # a record batch reader
        table = table.read_all()
    rs = table["r"].to_numpy()
    firsts = np.searchsorted(rs, np.arange(1, len(run_ids) + 1), side="left").tolist()
    lasts = np.searchsorted(rs, np.arange(1, len(run_ids) + 1), side="right").tolist()
    data = {name: table[name].to_pylist() for name in table.column_names if name != "r"}
    return {run_id: _points(run_id, data, slice(firsts[i], lasts[i]), chosen[run_id])
            for i, run_id in enumerate(run_ids)}


def _points(run_id: str, data: dict[str, list[Any]], part: slice, chosen: Plan
            ) -> dict[str, Any]:
    """One run's points from its merged buckets: each bucket's distinct ends, in
    (step, time, value) order; NaN and infinities as null."""
    import math

    points: dict[tuple[int, int, tuple[int, float]], float] = {}
    for end in ("first", "low", "high", "last"):
        for step, stamp, value in zip(data[f"{end}_step"][part], data[f"{end}_timestamp"][part],
                                      data[f"{end}_value"][part]):
            if step is not None:  # a bucket with no finite value has no low or high
                points[(step, stamp, _value_order(value))] = value
    ordered = sorted(points)
    return {"run_id": run_id, "points": chosen.points, "bucket_width": chosen.bucket_width,
            "step": [p[0] for p in ordered], "timestamp": [p[1] for p in ordered],
            "value": [points[p] if math.isfinite(points[p]) else None for p in ordered]}


def _value_order(value: float) -> tuple[int, float]:
    import math

    return (1, 0.0) if math.isnan(value) else (0, value)
