"""Long metric histories for charts, from the writer's downsampled rows.

The store's ``metric_buckets`` table (:mod:`lakeml.store.buckets`) holds, per run, key
and bucket of steps of a few fixed widths, the bucket's first, last, lowest and highest
point. A series longer than a chart's ``max_points`` whose steps span enough buckets is
drawn from those rows: the widths' rows are merged into ``max_points // 4`` buckets or
fewer (each gives up to four points), so a million-step history costs the server a few
thousand rows, not a million points.

Charts are exact whatever wrote the points. Not every point has rows: a writer still
carrying a short batch (store/writer.py derives a series' rows a bucket's worth at a
time), a writer killed between its metrics commit and its buckets commit, an older
lakeml, Spark jobs appending to the table directly. Each keeps ``metric_latest`` (a
killed writer lags it as it lags the buckets: both commit in the same wave), so per run
the newest point its rows hold is compared with its latest point there: equal, the rows
hold the series; older, the raw points after the rows' newest one (the tail, read with
the rows, DuckDB skipping older steps' files by their statistics) are merged in as
buckets of one point each. Runs metric_latest knows nothing of, shorter series, series
with no rows and every series of a store whose table is not marked complete (its
metrics predate the table, until ``lakeml maintenance rebuild-buckets``) are read
exactly by :mod:`lakeml.ui.charts`. What this cannot see is a writer without rows that
added only points before a run's newest derived one (a backfill of old steps): those
are missing from the chart until ``rebuild-buckets`` re-derives the run (it finds every
run whose rows do not count its points).

The bucket of a point is ``floor(step / width)`` for the width a series is drawn at
(``bucket_width`` in the answer), so the answer is exactly the M4 reduction of the raw
points over those buckets, whatever order, batches or writers they came in
(tests/ui/test_chart_buckets.py checks it against the raw points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakeml.store.buckets import COMPLETE, WIDTHS, floor_div_sql, merge_sql

if TYPE_CHECKING:
    from lakeml.client import Client

_RUNS = ("(SELECT unnest($run_ids) AS run_id, "
         "generate_subscripts($run_ids, 1)::INTEGER AS r) AS c")

# Per run: its points and steps from the coarsest width's rows (a few per run), the
# newest point they hold and the run's latest point in metric_latest (which every
# writer keeps), and whether the table is marked complete (r = 0).
_NEWEST = "{'step': %s, 'timestamp': %s, 'value': %s}"
_SUMMARY_SQL = f"""
WITH b AS (
  SELECT c.r, any_value(b.run_id) AS run_id, sum(b.points)::BIGINT AS points,
         min(b.first_step) AS first_step, max(b.last_step) AS last_step,
         max({_NEWEST % ('b.last_step', 'b.last_timestamp', 'b.last_value')}) AS newest
  FROM lake_metric_buckets AS b JOIN {_RUNS} USING (run_id)
  WHERE b.key = $key AND b.width = {WIDTHS[-1]} AND list_contains($run_ids, b.run_id)
  GROUP BY c.r),
latest AS (
  SELECT run_id, max({_NEWEST % ('step', 'timestamp', 'value')}) AS newest
  FROM lake_metric_latest
  WHERE key = $key AND list_contains($run_ids, run_id)
  GROUP BY run_id)
SELECT b.r, b.points, b.first_step, b.last_step, b.newest.step, b.newest.timestamp,
       b.newest.value, latest.newest.step,
       CASE WHEN latest.newest IS NULL OR b.newest > latest.newest THEN NULL
            ELSE b.newest < latest.newest END
FROM b LEFT JOIN latest USING (run_id)
UNION ALL
SELECT 0, count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM lake_metric_buckets
WHERE run_id = '{COMPLETE}' AND key = '{COMPLETE}' AND width = 0
"""

# The raw points of a run after the newest point its rows hold (``c.s``, ``c.t``,
# ``c.v``): the tail a writer has not derived yet (a carry, store/writer.py) or never
# will (an older lakeml, Spark, a killed writer). ``$from_step`` (the lowest such step)
# lets DuckDB skip the files and row groups of older steps by their statistics.
_TAIL = ("FROM lake_metrics AS m JOIN {runs} ON m.run_id = c.run_id "
         "WHERE m.key = $key AND m.step >= $from_step AND c.s IS NOT NULL AND "
         f"{_NEWEST % ('m.step', 'm.timestamp', 'm.value')} > "
         f"{_NEWEST % ('c.s', 'c.t', 'c.v')}")

@dataclass(frozen=True)
class Plan:
    """How one series is read: at ``width`` (a WIDTHS entry) merged ``factor`` at a time;
    ``points``: those its rows count (the answer adds its tail's); ``after``: the newest
    point (step, time, value) of its rows when raw points follow it (read with the
    rows), else None."""

    width: int
    factor: int
    points: int
    after: tuple | None = None

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


def plans(client: Client, run_ids: list[str], key: str, max_points: int,
          sizes: dict[str, int] | None = None) -> dict[str, Plan]:
    """The runs of ``run_ids`` to draw from metric_buckets (with the raw points after
    their rows' newest one), with their plans. ``sizes``, when given, gets the point
    count of each run that is read raw although its rows count its every point (a
    series short enough to send whole), so that the caller can read many at once."""
    rows = client.sql(_SUMMARY_SQL, {"run_ids": run_ids, "key": key}).fetchall()
    if not any(r == 0 and points for r, points, *_ in rows):
        return {}  # not marked complete: some points may have no rows
    out = {}
    for r, points, first, last, step, stamp, value, latest, lagging in rows:
        if not r or lagging is None:
            continue  # metric_latest knows no point of it, or less than its rows: raw
        # a tail (lagging) only adds points after the rows' newest one, up to the latest:
        # planned on the rows' count (at least as many as the rows hold), its total
        # counted where the tail is read (bucketed_series)
        chosen = plan(points, first, max(last, latest), max_points)
        if chosen is None and not lagging and sizes is not None:
            sizes[run_ids[r - 1]] = points
        if chosen is not None:
            out[run_ids[r - 1]] = Plan(chosen.width, chosen.factor, points,
                                       (step, stamp, value) if lagging else None)
    return out


def _tail_args(run_ids: list[str], after: dict[int, tuple], key: str) -> dict:
    """Parameters of _TAIL for the runs (1-based positions in ``run_ids``) ``after``."""
    newest = [after.get(r + 1, (None, None, None)) for r in range(len(run_ids))]
    return {"run_ids": run_ids, "key": key,
            "from_step": min(step for step, _, _ in after.values()),
            "steps": [n[0] for n in newest], "stamps": [n[1] for n in newest],
            "values": [n[2] for n in newest]}


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
            "unnest($factors) AS f, unnest($steps) AS s, unnest($stamps) AS t, "
            "unnest($values) AS v, generate_subscripts($run_ids, 1)::INTEGER AS r) AS c")
    source = (f"SELECT c.r, c.f, b.* EXCLUDE (run_id, key) FROM lake_metric_buckets AS b "
              f"JOIN {runs} ON b.run_id = c.run_id AND b.width = c.w "
              f"WHERE b.key = $key AND list_contains($run_ids, b.run_id)")
    after = {i + 1: chosen[r].after for i, r in enumerate(run_ids) if chosen[r].after}
    args = _tail_args(run_ids, after, key) if after else {
        "run_ids": run_ids, "key": key, "steps": [None] * len(run_ids),
        "stamps": [None] * len(run_ids), "values": [None] * len(run_ids)}
    if after:  # each raw point of the tails is a bucket row of its own
        ends_of = {"first": "m.step", "last": "m.step", "low": "CASE WHEN "
                   "isfinite(m.value) THEN m.{} END", "high": "CASE WHEN "
                   "isfinite(m.value) THEN m.{} END"}
        columns = ", ".join(
            f"{ends_of[end].format(c) if '{}' in ends_of[end] else 'm.' + c} AS {end}_{c}"
            for end in ("first", "last", "low", "high")
            for c in ("step", "timestamp", "value"))
        source += (f" UNION ALL BY NAME SELECT c.r, c.f, c.w AS width, "
                   f"{floor_div_sql('m.step', 'c.w')} AS bucket, 1::BIGINT AS points, "
                   f"{columns} " + _TAIL.replace("{runs}", runs))
    source = f"({source})"
    ends = " UNION ".join(  # UNION: a point that ends a bucket twice is sent once
        f"SELECT r, {end}_step AS step, epoch_ms({end}_timestamp) AS t, {end}_value AS v "
        f"FROM merged WHERE {end}_step IS NOT NULL" for end in ("first", "low", "high", "last"))
    order = "ORDER BY step, t, v"  # NaN orders above every number, as in the raw path
    # each point's rows (or its own tail row) count it once: the run's total points
    query = (f"WITH merged AS ({merge_sql(source, 'f', group='r, f')}), shown AS ({ends}), "
             f"totals AS (SELECT r, sum(points)::BIGINT AS n FROM merged GROUP BY r) "
             f"SELECT r, to_json(list(step {order}))::VARCHAR, "
             f"to_json(list(t {order}))::VARCHAR, "
             f"to_json(list(CASE WHEN isfinite(v) THEN v END {order}))::VARCHAR, "
             f"any_value(n) FROM shown JOIN totals USING (r) GROUP BY r")
    rows = client.sql(query, {**args, "widths": [chosen[r].width for r in run_ids],
                              "factors": [chosen[r].factor for r in run_ids]}).fetchall()
    lists = {run_ids[r - 1]: (steps, stamps, values, n)
             for r, steps, stamps, values, n in rows}
    out = {}
    for run_id in run_ids:
        steps, stamps, values, n = lists.get(run_id, ("[]", "[]", "[]", chosen[run_id].points))
        out[run_id] = (f'{{"run_id":{json.dumps(run_id)},"points":{n},'
                       f'"bucket_width":{chosen[run_id].bucket_width},"step":{steps},'
                       f'"timestamp":{stamps},"value":{values}}}')
    return out
