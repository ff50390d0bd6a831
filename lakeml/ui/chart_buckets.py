"""Long metric histories for charts, from the writer's downsampled rows.

The store's ``metric_buckets`` table (:mod:`lakeml.store.buckets`) holds, per run, key
and bucket of steps of a few fixed widths, the bucket's first, last, lowest and highest
point. A series longer than a chart's ``max_points`` whose steps span enough buckets is
drawn from those rows: the widths' rows are merged into ``max_points // 4`` buckets or
fewer (each gives up to four points), so a million-step history costs the server a few
thousand rows, not a million points.

Charts are exact whatever wrote the points. Not every writer derives rows: an older
lakeml, a writer killed between its metrics commit and its buckets commit, a writer
still carrying a short batch (store/writer.py), Spark jobs appending to the table
directly. Each of them keeps ``metric_latest`` (a killed writer lags it as it lags the
buckets: both commit in the same wave; ``rebuild-latest`` repairs it), so a run's series
is drawn from the rows only when the newest point its rows hold is its latest point there;
otherwise (and for shorter series, series with no rows, and every series of a store
whose table is not marked complete: its metrics predate the table, until ``lakeml
maintenance rebuild-buckets``) it is read exactly by :mod:`lakeml.ui.charts`. What this
cannot see is a writer without rows that added only points before the run's latest
one (a backfill of old steps); ``rebuild-buckets`` re-derives such a series.

The bucket of a point is ``floor(step / width)`` for the width a series is drawn at
(``bucket_width`` in the answer), so the answer is exactly the M4 reduction of the raw
points over those buckets, whatever order, batches or writers they came in
(tests/ui/test_chart_buckets.py checks it against the raw points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakeml.store.buckets import COMPLETE, WIDTHS, merge_sql

if TYPE_CHECKING:
    from lakeml.client import Client

_RUNS = ("(SELECT unnest($run_ids) AS run_id, "
         "generate_subscripts($run_ids, 1)::INTEGER AS r) AS c")

# Per run: its points and steps from the coarsest width's rows (a few per run), whether
# they hold the run's latest point (the newest bucket end equals metric_latest's point,
# which every writer keeps), and whether the table is marked complete (r = 0).
_SUMMARY_SQL = f"""
WITH b AS (
  SELECT c.r, any_value(b.run_id) AS run_id, sum(b.points)::BIGINT AS points,
         min(b.first_step) AS first_step, max(b.last_step) AS last_step,
         max({{'step': b.last_step, 'timestamp': b.last_timestamp,
              'value': b.last_value}}) AS newest
  FROM lake_metric_buckets AS b JOIN {_RUNS} USING (run_id)
  WHERE b.key = $key AND b.width = {WIDTHS[-1]} AND list_contains($run_ids, b.run_id)
  GROUP BY c.r),
latest AS (
  SELECT run_id, max({{'step': step, 'timestamp': timestamp, 'value': value}}) AS newest
  FROM lake_metric_latest
  WHERE key = $key AND list_contains($run_ids, run_id)
  GROUP BY run_id)
SELECT b.r, b.points, b.first_step, b.last_step,
       latest.newest IS NOT NULL AND b.newest IS NOT DISTINCT FROM latest.newest
FROM b LEFT JOIN latest USING (run_id)
UNION ALL
SELECT 0, count(*), NULL, NULL, NULL FROM lake_metric_buckets
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
    if not any(r == 0 and points for r, points, *_ in rows):
        return {}  # not marked complete: some points may have no rows
    out = {}
    for r, points, first, last, current in rows:
        if not r or not current:
            continue  # buckets behind the run's latest point: a writer derived none
        chosen = plan(points, first, last, max_points)
        if chosen is not None:
            out[run_ids[r - 1]] = chosen
    return out


def bucketed_series(client: Client, key: str, chosen: dict[str, Plan]) -> dict[str, str]:
    """Per run of ``chosen``, its series as JSON (the fields of charts._series) from the
    merged rows of metric_buckets: each bucket's distinct first, lowest, highest and
    last points in (step, time, value) order, NaN and infinities as null. DuckDB writes
    the JSON (Python's json would take longer than everything else here)."""
    import json

    if not chosen:
        return {}
    run_ids = list(chosen)
    runs = ("(SELECT unnest($run_ids) AS run_id, unnest($widths) AS w, "
            "unnest($factors) AS f, generate_subscripts($run_ids, 1)::INTEGER AS r) AS c")
    source = (f"(SELECT c.r, c.f, b.* EXCLUDE (run_id, key) FROM lake_metric_buckets AS b "
              f"JOIN {runs} ON b.run_id = c.run_id AND b.width = c.w "
              f"WHERE b.key = $key AND list_contains($run_ids, b.run_id))")
    ends = " UNION ".join(  # UNION: a point that ends a bucket twice is sent once
        f"SELECT r, {end}_step AS step, epoch_ms({end}_timestamp) AS t, {end}_value AS v "
        f"FROM merged WHERE {end}_step IS NOT NULL" for end in ("first", "low", "high", "last"))
    order = "ORDER BY step, t, v"  # NaN orders above every number, as in the raw path
    query = (f"WITH merged AS ({merge_sql(source, 'f', group='r, f')}), points AS ({ends}) "
             f"SELECT r, to_json(list(step {order}))::VARCHAR, "
             f"to_json(list(t {order}))::VARCHAR, "
             f"to_json(list(CASE WHEN isfinite(v) THEN v END {order}))::VARCHAR "
             f"FROM points GROUP BY r")
    rows = client.sql(query, {"run_ids": run_ids, "key": key,
                              "widths": [chosen[r].width for r in run_ids],
                              "factors": [chosen[r].factor for r in run_ids]}).fetchall()
    lists = {run_ids[r - 1]: (steps, stamps, values) for r, steps, stamps, values in rows}
    out = {}
    for run_id in run_ids:
        steps, stamps, values = lists.get(run_id, ("[]", "[]", "[]"))
        out[run_id] = (f'{{"run_id":{json.dumps(run_id)},"points":{chosen[run_id].points},'
                       f'"bucket_width":{chosen[run_id].bucket_width},"step":{steps},'
                       f'"timestamp":{stamps},"value":{values}}}')
    return out
