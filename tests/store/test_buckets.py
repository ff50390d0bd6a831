"""metric_buckets (lakeml/store/buckets.py) against the obvious computation over the raw
points: both ways of deriving a batch, merges of batches taken in any order, a new
store's mark, concurrent writers, and a store whose history predates the table."""

from __future__ import annotations

import math
import shutil
import threading
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeml.store import Store, buckets
from lakeml.store.fold_rules import metric_order
from lakeml.store.schemas import METRIC_BUCKETS, METRICS

Point = tuple[str, str, float, int, int]  # run_id, key, value, step, timestamp (us)


def reference(points: list[Point], width: int) -> dict[tuple[str, str, int], tuple]:
    """Per (run_id, key, bucket of ``width`` steps): (count, first, last, low, high), each
    end a (step, timestamp, value) triple or None, computed point by point."""
    groups: dict[tuple[str, str, int], list[Point]] = {}
    for p in points:
        groups.setdefault((p[0], p[1], p[3] // width), []).append(p)
    out = {}
    for slot, members in groups.items():
        def triple(p: Point | None) -> tuple | None:
            return None if p is None else (p[3], p[4], p[2])
        first = min(members, key=lambda p: metric_order(p[3], p[4], p[2]))
        last = max(members, key=lambda p: metric_order(p[3], p[4], p[2]))
        finite = [p for p in members if math.isfinite(p[2])]
        low = min(finite, key=lambda p: (p[2], p[3], p[4])) if finite else None
        high = max(finite, key=lambda p: (p[2], p[3], p[4])) if finite else None
        out[slot] = (len(members), *(triple(p) for p in (first, last, low, high)))
    return {slot: _nan_safe(v) for slot, v in out.items()}


def _nan_safe(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_nan_safe(v) for v in value)
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def summaries(rows: pa.Table, width: int) -> dict[tuple[str, str, int], tuple]:
    """metric_buckets rows of one width, as :func:`reference` gives them."""
    out = {}
    for r in rows.cast(_int_times()).to_pylist():
        if r["width"] != width:
            continue
        ends = tuple(None if r[f"{e}_step"] is None else
                     (r[f"{e}_step"], r[f"{e}_timestamp"], r[f"{e}_value"])
                     for e in ("first", "last", "low", "high"))
        slot = (r["run_id"], r["key"], r["bucket"])
        assert slot not in out, f"two rows for {slot}"
        out[slot] = _nan_safe((r["points"], *ends))
    return out


def _int_times() -> pa.Schema:
    return pa.schema([f.with_type(pa.int64()) if f.type == METRICS.field("timestamp").type
                      else f for f in METRIC_BUCKETS])


def random_points(seed: int, n: int) -> list[Point]:
    """Points of two runs and two keys: negative and huge steps, repeated steps and
    values (ties), NaN and infinities, a point logged twice."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-5_000, 600_000, n)
    steps[:20] = 7  # many points at one step
    steps[20] = 2**62
    values = rng.integers(-50, 50, n).astype(np.float64)  # small integers: ties
    values[::37] = np.nan
    values[::53] = np.inf
    values[::59] = -np.inf
    stamps = rng.integers(0, 10**15, n)
    stamps[:10] = 5  # same step and time
    points = [(str(rng.choice(["run-a", "run-b"])), str(rng.choice(["loss", "acc"])),
               float(v), int(s), int(t)) for v, s, t in zip(values, steps, stamps)]
    return points + points[:3]


def batch(points: list[Point]) -> pa.Table:
    run_id, key, value, step, stamp = zip(*points)
    return pa.table({"run_id": run_id, "key": key, "value": pa.array(value, pa.float64()),
                     "step": pa.array(step, pa.int64()),
                     "timestamp": pa.array(stamp, pa.int64()).cast(METRICS.field(
                         "timestamp").type)})


def in_timeline_order(points: list[Point]) -> list[Point]:
    """``points`` as a batch logged in order holds them: no sort needed (one point per
    (run, key, step, time))."""
    kept = {(p[0], p[1], p[3], p[4]): p for p in points}
    return [kept[k] for k in sorted(kept)]


def via_duckdb(rows: pa.Table) -> pa.Table:
    """The rows of :func:`buckets.derive_sql` and its merges (what a rebuild runs)."""
    with duckdb.connect() as con:
        con.register("b", rows)
        return con.sql(buckets._levels_sql("b")).to_arrow_table().cast(METRIC_BUCKETS)


@pytest.mark.parametrize("ordered", [False, True])
@pytest.mark.parametrize("derive", [buckets.derive, via_duckdb])
def test_a_batch_summarises_each_bucket_of_each_width(derive, ordered: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    points = in_timeline_order(random_points(1, 3_000)) if ordered \
        else random_points(1, 3_000)
    seen: list[bool] = []
    check = buckets._in_timeline_order
    monkeypatch.setattr(buckets, "_in_timeline_order", lambda *a: seen.append(check(*a))
                        or seen[-1])
    rows = derive(batch(points))
    assert rows.schema == METRIC_BUCKETS
    for width in buckets.WIDTHS:
        assert summaries(rows, width) == reference(points, width), width
    if derive is buckets.derive:
        assert seen == [ordered]  # the sort skipped only for a batch in order


def test_an_empty_batch_has_no_buckets() -> None:
    empty = batch(random_points(6, 100)).slice(0, 0)
    assert buckets.derive(empty).num_rows == 0
    assert buckets.derive(empty).schema == METRIC_BUCKETS


def test_a_batch_without_a_finite_value_has_no_extremes() -> None:
    points = [("r", "loss", v, s, 5) for v, s in ((math.nan, 0), (math.inf, 1),
                                                    (-math.inf, 70))]
    rows = buckets.derive(batch(points))
    for width in buckets.WIDTHS:
        assert summaries(rows, width) == reference(points, width)
    assert rows["low_value"].null_count == rows.num_rows


def test_batches_in_any_order_merge_into_the_whole_historys_buckets() -> None:
    points = random_points(3, 4_000)
    rng = np.random.default_rng(3)
    order = rng.permutation(len(points))
    parts = np.array_split(order, 7)  # out of step order, of every size
    rows = pa.concat_tables([buckets.derive(batch([points[i] for i in part]))
                             for part in parts] + [buckets.derive(batch(points[:50]))])
    duplicated = points + points[:50]  # derived twice: counted twice, summaries unchanged
    with duckdb.connect() as con:
        con.register("rows", rows)
        for width, factor in ((64, 1), (64, 3), (1024, 5), (16384, 1), (262144, 2)):
            merged = con.sql(buckets.merge_sql(f"(SELECT * FROM rows WHERE width = {width})",
                                               factor)).to_arrow_table()
            got = summaries(merged.select(METRIC_BUCKETS.names).cast(METRIC_BUCKETS),
                            width * factor)
            assert got == reference(duplicated, width * factor), (width, factor)


def _buckets_of(store: Store) -> pa.Table:
    _, files = store.snapshot_files("metric_buckets")
    return pa.concat_tables([pq.read_table(f).select(METRIC_BUCKETS.names)
                             for f in files]).cast(METRIC_BUCKETS) if files \
        else METRIC_BUCKETS.empty_table()


def _merged(store: Store, width: int) -> dict:
    with duckdb.connect() as con:
        con.register("rows", _buckets_of(store))
        merged = con.sql(buckets.merge_sql(
            f"(SELECT * FROM rows WHERE width = {width} AND run_id <> '')", 1)).to_arrow_table()
    return summaries(merged.select(METRIC_BUCKETS.names).cast(METRIC_BUCKETS), width)


def _marked(store: Store) -> bool:
    return buckets.COMPLETE in _buckets_of(store)["run_id"].to_pylist()


def test_concurrent_writers_each_derive_their_own_rows(tmp_path: Path) -> None:
    uri = str(tmp_path / "lake")
    points = random_points(4, 3_000)
    assert _marked(Store(uri).open())  # a new store: its buckets hold every point
    halves = [points[0::2], points[1::2]]

    def write(part: list[Point]) -> None:
        store = Store(uri)  # its own writer, as another process would have
        for chunk in range(0, len(part), 250):  # several batches, steps out of order
            for run_id, key, value, step, stamp in part[chunk:chunk + 250]:
                store.writer.append_metric(run_id, key, value, step, stamp)
            store.flush()
        store.close()

    threads = [threading.Thread(target=write, args=(half,)) for half in halves]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store = Store(uri)
    for width in buckets.WIDTHS:
        assert _merged(store, width) == reference(points, width), width


def test_a_store_older_than_the_table_is_unmarked_until_rebuilt(tmp_path: Path) -> None:
    uri = str(tmp_path / "lake")
    points = random_points(5, 2_500)
    store = Store(uri)
    store.writer.extend("metrics", [(r, k, v, s, t) for r, k, v, s, t in points[:2_000]])
    store.close()
    shutil.rmtree(tmp_path / "lake" / "tables" / "metric_buckets")  # as before the table
    store = Store(uri).open()
    assert not _marked(store)  # created over a history it does not hold
    assert _buckets_of(store).num_rows == 0
    for r, k, v, s, t in points[2_000:]:  # logged after the upgrade: derived as written
        store.writer.append_metric(r, k, v, s, t)
    store.flush()
    added = store.maintenance.rebuild_buckets()
    assert added > 0 and _marked(store)
    for width in buckets.WIDTHS:  # points logged since the upgrade are not counted twice
        assert _merged(store, width) == reference(points, width), width
    version = store.tables["metric_buckets"].writer_version()
    assert store.maintenance.rebuild_buckets() == 0  # nothing lags: nothing committed
    assert store.tables["metric_buckets"].writer_version() == version
    store.close()


def test_a_rebuild_rederives_only_the_runs_whose_rows_lag(tmp_path: Path) -> None:
    """Points appended without buckets (an older writer, Spark) are derived once, and runs
    whose rows count their points keep their rows."""
    uri = str(tmp_path / "lake")
    points = random_points(3, 4_000)
    store = Store(uri)
    for part in (points[:1_500], points[1_500:3_000]):  # two batches: more rows than one
        for r, k, v, s, t in part:
            store.writer.append_metric(r, k, v, s, t)
        store.flush()
    late = [p for p in points[3_000:] if p[0] == "run-a"]
    store.tables["metrics"].append(batch(late).cast(METRICS))

    def rows_of(run_id: str) -> int:
        rows = _buckets_of(store)
        return rows.filter(pa.compute.equal(rows["run_id"], run_id)).num_rows

    kept = rows_of("run-b")
    assert store.maintenance.rebuild_buckets() > 0
    for width in buckets.WIDTHS:
        assert _merged(store, width) == reference(points[:3_000] + late, width), width
    assert rows_of("run-b") == kept  # untouched: both batches' rows, not one re-derived
    assert store.maintenance.rebuild_buckets() == 0
    store.close()


def test_a_mark_the_first_open_failed_to_write_is_written_by_the_next(tmp_path: Path
                                                                      ) -> None:
    uri = str(tmp_path / "lake")
    Store(uri).open().close()
    shutil.rmtree(tmp_path / "lake" / "tables" / "metric_buckets")
    Store(uri).tables["metric_buckets"].ensure()  # created, the mark never appended
    store = Store(uri).open()
    assert _marked(store)
    version = store.tables["metric_buckets"].writer_version()
    assert _marked(Store(uri).open())  # once
    assert Store(uri).open().tables["metric_buckets"].writer_version() == version
