"""How the append-only run tables fold into current state: each rule written once.

* A metric's latest point (MLflow's rule): the highest ``step``, then the
  newest ``timestamp``, then the largest ``value``; NaN counts above every
  number, as DuckDB orders it.
* A param's value: the first one logged (the smallest ``timestamp``); the
  writer lets only one value per key commit (see :mod:`lakeml.store.first_wins`).
* A tag's value: its newest row by ``seq``; none when that row is a deletion.

Every fold lakeml runs in SQL takes its aggregate or ordering from here: the
writer's metric_latest batches and their repair (:mod:`lakeml.store.derived`),
the run fold of searches and snapshots and the wide pages
(:mod:`lakeml.query.run_fold`). The views of sql/views/ are plain SQL that
Spark runs too, so they state the rules in their own words;
tests/store/test_fold_rules.py checks them, and the SQL built here, against
the Python statements of the rules below on generated data.
"""

from __future__ import annotations

import math
from typing import Iterable

# A metric's points compare by these columns, in this order, largest latest.
LATEST_METRIC_ORDER = ("step", "timestamp", "value")

# Aggregates over one (run_id, key) group of the raw table, giving its current value.
LATEST_METRIC = f"arg_max(value, struct_pack({', '.join(LATEST_METRIC_ORDER)}))"
FIRST_PARAM = "min_by(value, timestamp)"
CURRENT_TAG = "arg_max_null(CASE WHEN deleted THEN NULL ELSE value END, seq)"


def latest_points_sql(source: str) -> str:
    """SELECT of the latest point of each (run_id, key) in relation ``source``, whole
    (``run_id, key, value, step, timestamp``)."""
    order = ", ".join(f"{column} DESC" for column in LATEST_METRIC_ORDER)
    return (f"SELECT run_id, key, value, step, timestamp FROM {source} "
            f"QUALIFY row_number() OVER (PARTITION BY run_id, key ORDER BY {order}) = 1")


def latest_points_grouped_sql(source: str) -> str:
    """:func:`latest_points_sql` as one aggregate per (run_id, key) instead of a window:
    the same rows (a tie is between identical points), ~5x faster on a bulk batch of
    millions of points, which needs no sort of the whole batch."""
    order = f"struct_pack({', '.join(LATEST_METRIC_ORDER)})"
    return (f"SELECT run_id, key, p.value AS value, p.step AS step, p.timestamp AS timestamp "
            f"FROM (SELECT run_id, key, arg_max(struct_pack(value, step, timestamp), {order}) "
            f"AS p FROM {source} GROUP BY run_id, key)")


def newer_point_sql(new: str, old: str) -> str:
    """SQL that holds when the point aliased ``new`` is later than the one aliased
    ``old`` (of the same run and key) by :data:`LATEST_METRIC_ORDER`."""
    terms = []
    for i, column in enumerate(LATEST_METRIC_ORDER):
        ties = [f"{new}.{c} = {old}.{c}" for c in LATEST_METRIC_ORDER[:i]]
        terms.append(" AND ".join([*ties, f"{new}.{column} > {old}.{column}"]))
    return " OR ".join(f"({term})" for term in terms)


# ---- the rules in Python: what the SQL above and sql/views/ are tested against ------


def metric_order(step: int, timestamp: object, value: float) -> tuple:
    """The key that orders a metric's points, latest largest (NaN above every number)."""
    return step, timestamp, (1, 0.0) if math.isnan(value) else (0, value)


def latest_point(points: Iterable[tuple[float, int, object]]) -> tuple[float, int, object]:
    """The latest of a metric's ``(value, step, timestamp)`` points."""
    return max(points, key=lambda p: metric_order(p[1], p[2], p[0]))


def first_param(rows: Iterable[tuple[str, object]]) -> str:
    """The value of a param from its ``(value, timestamp)`` rows."""
    return min(rows, key=lambda r: r[1])[0]


def current_tag(rows: Iterable[tuple[str | None, bool, int]]) -> str | None:
    """The value of a tag from its ``(value, deleted, seq)`` rows; None once deleted."""
    value, deleted, _ = max(rows, key=lambda r: r[2])
    return None if deleted else value
