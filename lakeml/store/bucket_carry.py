"""The metric points a writer holds back from metric_buckets until a bucket's worth.

Deriving bucket rows (store/buckets.py) for every flush costs one more Delta commit a
flush and four rows per (run, key) and flush, which series of a few points never use:
a tracking server's group commits of a point or two per key paid about 40% more for
them. The writer therefore hands each committed batch of metrics to a
:class:`BucketCarry`, which carries the points of each (run_id, key) until it holds at
least :data:`CARRY_POINTS` of them (the finest bucket's width), and only then gives
them back to be derived. A flush of a few points per key thus commits no bucket rows.

Why lagging is safe: a chart (lakeml/ui/chart_buckets.py) compares the newest point a
run's rows hold with its latest point in metric_latest, and reads the raw points after
it. That covers the carried points as long as each is newer than every point already
derived for its (run, key); so a batch holding a point at or before a step this
carry already gave back for its (run, key) (logging out of step order) gives that
(run, key) back at once. A process killed with a carry leaves those points to the
charts' raw tail, and ``rebuild-buckets`` derives them. Not covered: two processes
logging the same metric of the same run at once, one carrying older steps while the
other derives newer ones: a chart lacks the carried points until their writer's close.

Bounds: at most :data:`CARRY_ROWS` points are carried (past it, everything is given
back), and :data:`REMEMBERED` (run, key)s' highest derived steps; ``drain()`` (the
writer's close) gives back the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.store.buckets import WIDTHS

if TYPE_CHECKING:
    import pyarrow as pa

# A (run, key) is derived once it carries this many points: one finest bucket's worth.
CARRY_POINTS = WIDTHS[0]

# Carried points at most (about 40 bytes each in Arrow): past it, all are derived.
CARRY_ROWS = 200_000

# (run, key)s whose highest derived step is remembered at most (~200 bytes each): past
# it, they are forgotten, and a (run, key) not remembered then has its first batch
# derived at once (it may have been derived before), so memory stays bounded in a
# server that lives through millions of runs.
REMEMBERED = 500_000


class BucketCarry:
    """Metrics rows not yet derived into metric_buckets, per (run_id, key). Not thread
    safe: the writer calls it under its flush lock."""

    def __init__(self, points: int = CARRY_POINTS, rows: int = CARRY_ROWS,
                 remembered: int = REMEMBERED) -> None:
        if points < 1 or rows < 0 or remembered < 1:
            raise ValueError(f"carry bounds must be positive, got points={points!r}, "
                             f"rows={rows!r}, remembered={remembered!r}")
        self.points = points
        self.rows = rows
        self.remembered = remembered
        self._tables: list[pa.Table] = []
        self._counts: dict[tuple[str, str], int] = {}
        self._given_to: dict[tuple[str, str], int] = {}  # highest step given back
        self._forgot = False  # _given_to was cleared once: an unknown group may be given
        self.carried = 0  # points carried now

    def add(self, batch: pa.Table) -> pa.Table | None:
        """Carry ``batch`` (metrics rows); return the rows now due for derivation (those
        of every (run, key) with a bucket's worth, or one logged out of step order), or
        None."""
        if batch.num_rows == 0:
            return None
        summary = batch.group_by(["run_id", "key"]).aggregate(
            [("step", "count"), ("step", "min")])
        due = set()
        for run_id, key, count, lowest in zip(*(summary[c].to_pylist() for c in (
                "run_id", "key", "step_count", "step_min"))):
            group = (run_id, key)
            held = self._counts.get(group, 0)
            self._counts[group] = held + count
            self.carried += count
            given = self._given_to.get(group)
            forgotten = self._forgot and given is None
            if self._counts[group] >= self.points or forgotten or (
                    given is not None and lowest <= given):
                due.add(group)
        self._tables.append(batch)
        if self.carried > self.rows:
            return self.drain()
        return self._take(due) if due else None

    def drain(self) -> pa.Table | None:
        """Every carried row (None if none), the carry left empty."""
        return self._take(set(self._counts)) if self._counts else None

    def _take(self, groups: set[tuple[str, str]]) -> pa.Table:
        import pyarrow as pa
        import pyarrow.compute as pc

        whole = pa.concat_tables(self._tables)
        if len(groups) == len(self._counts):
            taken, self._tables = whole, []
        else:
            pair = pc.binary_join_element_wise(whole["run_id"], whole["key"], "\x00")
            chosen = pc.is_in(pair, value_set=pa.array([f"{r}\x00{k}" for r, k in groups]))
            taken = whole.filter(chosen)
            left = whole.filter(pc.invert(chosen))
            self._tables = [left] if left.num_rows else []
        for group in groups:
            self.carried -= self._counts.pop(group)
        if len(self._given_to) + len(groups) > self.remembered:
            self._given_to.clear()
            self._forgot = True
        highest = taken.group_by(["run_id", "key"]).aggregate([("step", "max")])
        for run_id, key, step in zip(*(highest[c].to_pylist() for c in (
                "run_id", "key", "step_max"))):
            held = self._given_to.get((run_id, key))
            self._given_to[(run_id, key)] = step if held is None else max(held, step)
        return taken
