"""The writer derives metric_buckets rows a bucket's worth of points at a time, the rest
at close (lakeml/store/bucket_carry.py); charts stay exact meanwhile (the raw tail of
lakeml/ui/chart_buckets.py); a derivation that raises costs no other table's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lakeml
from lakeml.store import Store
from lakeml.store.bucket_carry import CARRY_POINTS, BucketCarry
from lakeml.store.derived import DERIVE
from lakeml.store.schemas import METRICS
from lakeml.ui import charts
from lakeml.ui.args import Args


def _bucket_rows(store: Store) -> pa.Table:
    _, files = store.snapshot_files("metric_buckets")
    rows = [pq.read_table(f) for f in files]
    table = pa.concat_tables(rows) if rows else pa.table({"run_id": pa.array([], pa.string())})
    return table.filter(pa.compute.not_equal(table["run_id"], ""))  # not the mark


def _points(rows: pa.Table, run_id: str, key: str) -> int:
    mine = rows.filter(pa.compute.and_(pa.compute.equal(rows["run_id"], run_id),
                                       pa.compute.equal(rows["key"], key)))
    return pa.compute.sum(mine.filter(pa.compute.equal(mine["width"], 64))["points"]
                          ).as_py() or 0


def _chart(client: lakeml.Client, run_id: str, key: str) -> dict:
    return json.loads(charts.metric_history(client, Args(
        {"run_id": [run_id], "key": key, "max_points": "40"})).body)["series"][0]


def test_small_flushes_commit_no_bucket_rows_until_a_buckets_worth(tmp_path: Path) -> None:
    uri = str(tmp_path / "lake")
    client = lakeml.Client(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    client.flush()
    store = Store(uri)
    for step in range(CARRY_POINTS - 1):  # 63 flushes of 2 keys x 1 point
        store.writer.append_metric(run_id, "a", float(step), step, step)
        store.writer.append_metric(run_id, "b", float(step % 3), step, step)
        store.flush()
    assert _bucket_rows(store).num_rows == 0
    chart = _chart(client, run_id, "a")  # exact all the same: read raw
    assert chart["points"] == CARRY_POINTS - 1 and chart["step"][-1] == CARRY_POINTS - 2
    store.writer.append_metric(run_id, "a", 0.5, CARRY_POINTS - 1, CARRY_POINTS - 1)
    store.flush()  # "a" holds a bucket's worth: derived; "b" still carried
    rows = _bucket_rows(store)
    assert _points(rows, run_id, "a") == CARRY_POINTS and _points(rows, run_id, "b") == 0
    for step in range(CARRY_POINTS, 1_000):  # the carry of "a" again, then a long series
        store.writer.append_metric(run_id, "a", float(step % 17), step, step)
        if step % 100 == 0:
            store.flush()
    store.flush()
    client = lakeml.Client(uri)
    tail = _chart(client, run_id, "a")  # rows, then the carried points raw
    assert tail["bucket_width"] is not None and tail["points"] == 1_000
    assert tail["step"][-1] == 999
    store.close()  # derives every carried point
    rows = _bucket_rows(store)
    assert _points(rows, run_id, "a") == 1_000
    assert _points(rows, run_id, "b") == CARRY_POINTS - 1
    assert _chart(lakeml.Client(uri), run_id, "a") == tail


def test_a_point_before_the_derived_ones_is_derived_at_once() -> None:
    carry = BucketCarry(points=4)

    def batch(steps: list[int]) -> pa.Table:
        return pa.table({"run_id": ["r"] * len(steps), "key": ["k"] * len(steps),
                         "value": [1.0] * len(steps), "step": steps,
                         "timestamp": [0] * len(steps)}).cast(METRICS)

    assert carry.add(batch([10, 11])) is None and carry.carried == 2
    assert carry.add(batch([12, 13])).column("step").to_pylist() == [10, 11, 12, 13]
    assert carry.add(batch([20])) is None  # after them: carried
    assert carry.add(batch([13])).column("step").to_pylist() == [20, 13]  # out of order
    assert carry.carried == 0 and carry.drain() is None
    with pytest.raises(ValueError, match="points=0"):
        BucketCarry(points=0)


def test_a_derivation_that_raises_costs_no_other_row(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture
                                                     ) -> None:
    """Fault injection: the derivation replaced by one that raises. Runs, params and
    metrics commit; this writer derives no more; charts read its points raw."""
    uri = str(tmp_path / "lake")
    client = lakeml.Client(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    for step in range(200):
        client.log_metric(run_id, "loss", float(step), step=step)
    client.flush()  # rows for the first 200 points

    def broken(batch: pa.Table) -> pa.Table:
        raise RuntimeError("derivation broke")

    monkeypatch.setitem(DERIVE, "metric_buckets", broken)
    client.log_param(run_id, "lr", "0.1")
    for step in range(200, 1_000):
        client.log_metric(run_id, "loss", float(step % 9), step=step)
    client.flush()  # does not raise
    assert "derivation broke" in caplog.text
    monkeypatch.undo()
    client.log_metric(run_id, "loss", 3.0, step=1_000)  # later points: no rows either
    client.store.close()
    reader = lakeml.Client(uri)
    assert reader.get_run(run_id).data.params == {"lr": "0.1"}
    assert _points(_bucket_rows(reader.store), run_id, "loss") == 200
    series = _chart(reader, run_id, "loss")
    assert series["points"] == 1_001 and series["step"][-1] == 1_000


def test_a_forgotten_key_is_derived_at_once_on_its_next_batch() -> None:
    carry = BucketCarry(points=2, remembered=2)

    def batch(key: str, steps: list[int]) -> pa.Table:
        return pa.table({"run_id": ["r"] * len(steps), "key": [key] * len(steps),
                         "value": [1.0] * len(steps), "step": steps,
                         "timestamp": [0] * len(steps)}).cast(METRICS)

    for key in ("a", "b", "c"):  # three remembered: past the bound, all forgotten
        assert carry.add(batch(key, [5, 6])).num_rows == 2
    assert carry.add(batch("a", [1])).column("step").to_pylist() == [1]  # may precede
    assert carry.add(batch("a", [7])) is None  # remembered again: carried
    assert carry.carried == 1
