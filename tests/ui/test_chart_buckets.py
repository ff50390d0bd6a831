"""Long series of the chart API come from metric_buckets and are exactly the M4 reduction
of the run's raw points over buckets of ``bucket_width`` steps, computed here point by
point: whatever order, batches and writers the points came in; a store whose buckets
are not marked complete is read exactly, until ``rebuild_buckets``."""

from __future__ import annotations

import json
import math
import shutil
import threading
from pathlib import Path

import numpy as np

import lakeml
from lakeml.store import Store
from lakeml.ui import chart_buckets, charts
from lakeml.ui.args import Args


def m4(client: lakeml.Client, run_id: str, key: str, width: int) -> dict:
    """The run's points cut down the obvious way: per bucket of ``width`` steps, its
    first and last point (by step, time, value) and its lowest and highest finite value
    (by value, step, time)."""
    history = client.get_metric_history(run_id, key)
    groups: dict[int, list] = {}
    for m in history:
        groups.setdefault(m.step // width, []).append((m.step, m.timestamp, m.value))

    def order(p: tuple) -> tuple:
        return p[0], p[1], (1, 0.0) if math.isnan(p[2]) else (0, p[2])

    kept = {}
    for members in groups.values():
        finite = [p for p in members if math.isfinite(p[2])]
        ends = [min(members, key=order), max(members, key=order)]
        if finite:
            ends += [min(finite, key=lambda p: (p[2], p[0], p[1])),
                     max(finite, key=lambda p: (p[2], p[0], p[1]))]
        kept.update((order(p), p) for p in ends)
    points = [kept[k] for k in sorted(kept)]
    logged = client.sql("SELECT count(*) FROM lake_metrics WHERE run_id = ? AND key = ?",
                        [run_id, key]).fetchall()[0][0]  # a point logged twice counts twice
    return {"run_id": run_id, "points": logged, "bucket_width": width,
            "step": [p[0] for p in points], "timestamp": [p[1] for p in points],
            "value": [p[2] if math.isfinite(p[2]) else None for p in points]}


def chart(client: lakeml.Client, run_ids: list[str], key: str, max_points: int) -> dict:
    response = charts.metric_history(client, Args({"run_id": run_ids, "key": key,
                                                   "max_points": str(max_points)}))
    return json.loads(response.body)


def log(uri: str, points: list[tuple[str, float, int, int]], batches: int) -> None:
    """Log ``points`` (run_id, value, step, timestamp ms) of ``loss`` in ``batches``
    flushes through a store object of its own: its own writer, as in another process."""
    store = Store(uri)
    for part in np.array_split(np.arange(len(points)), batches):
        for i in part.tolist():
            run_id, value, step, stamp = points[i]
            store.writer.append_metric(run_id, "loss", value, step, stamp * 1000)
        store.flush()
    store.close()


def histories(ids: list[str], steps: int, seed: int) -> list[tuple[str, float, int, int]]:
    """Each run's ``loss`` over ``steps`` steps (some twice, some NaN or infinite),
    shuffled: logged out of step order."""
    rng = np.random.default_rng(seed)
    points = []
    for i, run_id in enumerate(ids):
        for step in range(-50 * i, steps - 50 * i):  # negative steps too
            value = float(rng.integers(0, 100)) if i else float(rng.standard_normal())
            if step % 113 == 0:
                value = [math.nan, math.inf, -math.inf][step % 3]
            points.append((run_id, value, step, 1_780_000_000_000 + abs(step) * 10))
    points += points[:40]  # logged twice
    return [points[i] for i in rng.permutation(len(points))]


def test_long_series_are_the_m4_of_their_raw_points(tmp_path: Path) -> None:
    uri = str(tmp_path / "lake")
    client = lakeml.Client(uri)
    exp = client.create_experiment("curves")
    ids = [client.create_run(exp).info.run_id for _ in range(3)]
    client.log_metric(ids[2], "loss", 1.0, step=0)  # a short series: exact
    client.flush()
    points = histories(ids[:2], 3_000, seed=1)
    writers = [threading.Thread(target=log, args=(uri, points[i::2], 3)) for i in range(2)]
    for writer in writers:  # two writers at once, each with its own derived rows
        writer.start()
    for writer in writers:
        writer.join()
    for max_points in (16, 100, 160):
        got = chart(client, ids, "loss", max_points)["series"]
        for series in got[:2]:
            assert series["bucket_width"] is not None, max_points
            assert len(series["step"]) <= max_points
            assert series == m4(client, series["run_id"], "loss", series["bucket_width"])
        assert got[2]["bucket_width"] is None and got[2]["value"] == [1.0]
    assert chart(client, ids, "loss", 10_000)["series"][0]["bucket_width"] is None  # fits


def test_a_store_older_than_the_buckets_reads_raw_points_until_rebuilt(tmp_path: Path
                                                                        ) -> None:
    logged = str(tmp_path / "logged")
    client = lakeml.Client(logged)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    client.flush()
    log(logged, histories([run_id], 5_000, seed=2), 2)
    # the store as it was before the table: a copy without it (this process keeps the
    # first store open)
    shutil.copytree(logged, tmp_path / "lake",
                    ignore=lambda folder, names: ["metric_buckets"] if folder.endswith(
                        "tables") else [])
    client = lakeml.Client(str(tmp_path / "lake"))
    assert chart_buckets.plans(client, [run_id], "loss", 100) == {}
    exact = chart(client, [run_id], "loss", 100)["series"][0]
    assert exact["bucket_width"] is None and exact["points"] == 5_040  # 40 logged twice
    client.store.maintenance.rebuild_buckets()
    bucketed = chart(client, [run_id], "loss", 100)["series"][0]
    assert bucketed == m4(client, run_id, "loss", bucketed["bucket_width"])


def test_a_plan_keeps_to_max_points() -> None:
    assert chart_buckets.plan(100, 0, 99, 2000) is None  # fits
    assert chart_buckets.plan(10_000, 0, 9_999, 7) is None  # one bucket: not kept to
    assert chart_buckets.plan(3_000, 0, 2_999, 2000) is None  # too few finest buckets
    for points, first, last, max_points in ((100_000, 0, 99_999, 2000),
                                            (10**6, -7, 10**6, 2000),
                                            (10**7, 3, 10**9, 8), (5000, 0, 4999, 100)):
        chosen = chart_buckets.plan(points, first, last, max_points)
        assert chosen is not None and chosen.width in chart_buckets.WIDTHS
        touched = last // chosen.bucket_width - first // chosen.bucket_width + 1
        assert touched * 4 <= max_points, (points, first, last, max_points)


def test_the_newer_points_of_a_run_that_have_no_buckets_are_read_raw(tmp_path: Path) -> None:
    """Steps 0-4999 logged by a writer deriving buckets, 5000-9999 by one that keeps only
    metrics and metric_latest (an older lakeml, Spark): the chart reaches step 9999, the
    rows' buckets merged with the raw points after them."""
    import pyarrow as pa

    from lakeml.store.derived import latest_points
    from lakeml.store.schemas import METRICS

    uri = str(tmp_path / "lake")
    client = lakeml.Client(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    client.flush()
    log(uri, [(run_id, float(s % 7), s, 1_780_000_000_000 + s) for s in range(5_000)], 2)
    assert chart(client, [run_id], "loss", 100)["series"][0]["bucket_width"] is not None
    newer = pa.table({"run_id": [run_id] * 5_000, "key": ["loss"] * 5_000,
                      "value": [float(s % 5) for s in range(5_000, 10_000)],
                      "step": list(range(5_000, 10_000)),
                      "timestamp": pa.array([(1_780_000_000_000 + s) * 1000
                                             for s in range(5_000, 10_000)],
                                            pa.timestamp("us", "UTC"))}).cast(METRICS)
    store = Store(uri).open()
    store.tables["metrics"].append(newer)
    store.tables["metric_latest"].append(latest_points(newer))
    store.close()
    client = lakeml.Client(uri)
    chosen = chart_buckets.plans(client, [run_id], "loss", 100)[run_id]
    assert chosen.after is not None and chosen.after[0] == 4_999  # rows, then raw points
    series = chart(client, [run_id], "loss", 100)["series"][0]
    assert series["points"] == 10_000 and series["step"][-1] == 9_999
    assert series == m4(client, run_id, "loss", series["bucket_width"])
    Store(uri).open().maintenance.rebuild_buckets()  # derives the tail: rows only
    client = lakeml.Client(uri)
    assert chart_buckets.plans(client, [run_id], "loss", 100)[run_id].after is None
    assert chart(client, [run_id], "loss", 100)["series"][0] == series


def test_short_series_counted_by_their_rows_are_read_many_runs_at_once(
        tmp_path: Path, monkeypatch) -> None:
    """Runs whose rows count every point and that fit the chart are read raw in groups of
    up to POINTS_PER_READ points (not RUNS_PER_READ runs), with the same answer."""
    uri = str(tmp_path / "lake")
    client = lakeml.Client(uri)
    exp = client.create_experiment("short")
    ids = [client.create_run(exp).info.run_id for _ in range(7)]
    client.flush()
    log(uri, histories(ids, 30, seed=3), 2)  # 30 steps a run (one 40 twice): raw
    client = lakeml.Client(uri)
    sizes: dict[str, int] = {}
    assert chart_buckets.plans(client, ids, "loss", 2000, sizes) == {}
    counted = dict(client.sql("SELECT run_id, count(*) FROM lake_metrics GROUP BY run_id"
                              ).fetchall())
    assert sizes == counted and len(sizes) == 7
    monkeypatch.setattr(charts, "RUNS_PER_READ", 1)  # one run a read: the old way
    one_by_one = chart(client, ids, "loss", 2000)
    monkeypatch.setattr(charts, "POINTS_PER_READ", 100)  # three or four runs a read
    reads: list[int] = []
    run_points = charts.run_points
    monkeypatch.setattr(charts, "run_points", lambda c, batch, key: (
        reads.append(len(batch)), run_points(c, batch, key))[1])
    # another max_points: not the answer kept from the first call; every series fits both
    assert chart(client, ids, "loss", 1999)["series"] == one_by_one["series"]
    assert sum(reads) == 7 and len(reads) < 7 and max(reads) > 1


def test_batches_keep_to_their_budgets(monkeypatch) -> None:
    monkeypatch.setattr(charts, "POINTS_PER_READ", 10)
    monkeypatch.setattr(charts, "RUNS_PER_READ", 2)
    ids = [f"r{i}" for i in range(7)]
    sizes = {"r0": 4, "r1": 4, "r2": 4, "r3": 30, "r5": 1}
    batches = charts.read_groups(ids, sizes)
    assert sorted(r for b in batches for r in b) == ids  # each run once
    assert batches == [["r4", "r6"], ["r0", "r1"], ["r2"], ["r3"], ["r5"]]
    monkeypatch.setattr(charts, "MAX_RUNS", 8)  # known sizes: at most 2 runs a group
    assert charts.read_groups(ids, dict.fromkeys(ids, 1)) == [ids[0:2], ids[2:4], ids[4:6],
                                                             ids[6:]]
