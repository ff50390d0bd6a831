"""The batched writer: buffering, background commits, idempotent retries."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from lakeml.errors import CommitConflict, StoreUnavailable
from lakeml.store import Store
from lakeml.store.table import DeltaTableHandle

US = 1_700_000_000_000_000


def metric_rows(n: int, run: str = "r") -> list[tuple]:
    return [(run, "m", float(i), i, US + i) for i in range(n)]


def count(store: Store, table: str) -> int:
    _, files = store.snapshot_files(table)
    if not files:
        return 0
    return duckdb.sql(f"SELECT count(*) FROM read_parquet({files!r})").fetchall()[0][0]


def test_log_calls_buffer_until_flush(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    for row in metric_rows(1000):
        store.append("metrics", row)
    assert count(store, "metrics") == 0  # nothing committed by a log call
    version_before = store.snapshot_files("metrics")[0]
    store.flush()
    assert count(store, "metrics") == 1000
    assert store.snapshot_files("metrics")[0] == version_before + 1  # one commit
    store.close()


def test_background_flusher_commits_by_interval(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=0.1).open()
    store.writer.extend("metrics", metric_rows(10))
    deadline = time.monotonic() + 10
    while count(store, "metrics") < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(store, "metrics") == 10
    store.close()


def test_background_flusher_commits_by_size(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60, flush_rows=500).open()
    for row in metric_rows(600):
        store.append("metrics", row)
    deadline = time.monotonic() + 10
    while count(store, "metrics") < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count(store, "metrics") >= 500
    store.close()
    assert count(store, "metrics") == 600


def test_retry_after_lost_acknowledgement_does_not_duplicate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append
    calls = []

    def lost_ack(handle, data, **kw):  # noqa: ANN001
        """Fault injection: the commit lands, then the writer is told it failed."""
        real(handle, data, **kw)
        if handle.name != "metrics":
            return
        calls.append(1)
        if len(calls) == 1:
            raise CommitConflict("injected: acknowledgement lost after the commit landed")

    monkeypatch.setattr(DeltaTableHandle, "append", lost_ack)
    store.writer.extend("metrics", metric_rows(100))
    store.flush()
    assert len(calls) == 1  # the retry asked the table and saw the batch had landed
    store.writer.extend("metrics", metric_rows(50, run="r2"))
    store.flush()
    assert count(store, "metrics") == 150
    store.close()


def test_transient_failure_is_retried_once(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append
    calls = []

    def flaky(handle, data, **kw):  # noqa: ANN001
        if handle.name == "metrics":
            calls.append(1)
        if handle.name == "metrics" and len(calls) == 1:
            raise StoreUnavailable("injected: network blip before the commit")
        real(handle, data, **kw)

    monkeypatch.setattr(DeltaTableHandle, "append", flaky)
    store.writer.extend("metrics", metric_rows(100))
    store.flush()
    assert len(calls) == 2 and count(store, "metrics") == 100
    store.close()


def test_a_failed_flush_keeps_rows_for_the_next(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append
    broken = {"on": True}

    def maybe(handle, data, **kw):  # noqa: ANN001
        if broken["on"]:
            raise StoreUnavailable("injected: store down")
        real(handle, data, **kw)

    monkeypatch.setattr(DeltaTableHandle, "append", maybe)
    monkeypatch.setattr(time, "sleep", lambda s: None)  # skip retry back-off
    store.writer.extend("metrics", metric_rows(10))
    with pytest.raises(StoreUnavailable):
        store.flush()
    store.writer.extend("metrics", metric_rows(5, run="later"))
    assert store.writer.unflushed_rows() == 15
    broken["on"] = False
    store.flush()
    assert count(store, "metrics") == 15
    store.close()


def test_tables_are_plain_delta_tables(tmp_path: Path) -> None:
    import polars as pl
    from deltalake import DeltaTable

    store = Store(tmp_path / "s").open()
    store.writer.extend("metrics", [("r", "m", float("nan"), 0, US)])
    store.close()
    dt = DeltaTable(store.table_uri("metrics"))
    assert dt.protocol().min_reader_version == 1
    assert {f.name for f in dt.schema().fields} == {"run_id", "key", "value", "step",
                                                    "timestamp"}
    frame = pl.read_delta(store.table_uri("metrics"))
    assert frame.height == 1 and frame["value"].is_nan()[0]


def test_metric_latest_agrees_with_the_full_history(tmp_path: Path) -> None:
    # Points of one (run, key) arrive out of order over several flushes, with
    # ties on step; the derived table must give the history's latest point.
    store = Store(tmp_path / "s", flush_interval=60).open()
    batches = [
        [("r1", "loss", 0.5, 3, US + 10), ("r1", "loss", 0.9, 1, US + 99),
         ("r2", "acc", 0.1, 0, US)],
        [("r1", "loss", 0.4, 2, US + 20), ("r2", "acc", float("nan"), 0, US + 5)],
        [("r1", "loss", 0.3, 3, US + 10), ("r2", "acc", 0.7, 0, US + 5)],
    ]
    for rows in batches:
        store.writer.extend("metrics", rows)
        store.flush()
    import pyarrow as pa

    from lakeml.store import schemas

    store.writer.append_table("metrics", pa.Table.from_pylist(
        [{"run_id": "r3", "key": "k", "value": 1.0, "step": 5, "timestamp": US},
         {"run_id": "r3", "key": "k", "value": 2.0, "step": 4, "timestamp": US + 1}],
        schema=schemas.METRICS))
    store.flush()
    con = duckdb.connect()
    for table in ("metrics", "metric_latest"):
        files = store.snapshot_files(table)[1]
        con.execute(f"CREATE VIEW lake_{table} AS SELECT * FROM read_parquet({files!r})")
    from lakeml.query.sqlfiles import view_definitions

    for name, statement in view_definitions():
        if name == "latest_metrics":
            con.execute(statement)
    expected = con.sql(
        "SELECT run_id, key, value, step FROM lake_metrics QUALIFY row_number() OVER ("
        "PARTITION BY run_id, key ORDER BY step DESC, timestamp DESC, value DESC) = 1 "
        "ORDER BY run_id, key").fetchall()
    got = con.sql("SELECT run_id, key, value, step FROM latest_metrics "
                  "ORDER BY run_id, key").fetchall()
    assert str(got) == str(expected)  # str: NaN == NaN
    assert [(r, v, s) for r, _, v, s in got][:1] == [("r1", 0.5, 3)]
    assert got[2][:3] == ("r3", "k", 1.0)
    store.close()


def test_a_flush_commits_in_waves_each_wave_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tables of one wave are committed at the same time (a barrier that every one
    of them must reach before any may commit would time out were they committed one
    after another), and a wave starts only after the one before it has ended."""
    import threading

    from lakeml.client import Client
    from lakeml.store.schemas import COMMIT_WAVES

    client = Client(str(tmp_path / "s"))
    experiment = client.create_experiment("waves")
    client.flush()
    run_id = client.create_run(experiment).info.run_id
    client.log_batch(run_id, metrics={"m": 1.0}, params={"p": "v"}, tags={"t": "x"})
    together = {"params", "tags", "metrics"}  # one wave, all three pending now
    barrier = threading.Barrier(len(together), timeout=30)
    events: list[tuple[str, str]] = []
    lock = threading.Lock()
    real = DeltaTableHandle.append

    def watched(handle, data, **kw):  # noqa: ANN001
        with lock:
            events.append(("start", handle.name))
        if handle.name in together:
            barrier.wait()  # BrokenBarrierError unless the other two commit meanwhile
        real(handle, data, **kw)
        with lock:
            events.append(("end", handle.name))

    monkeypatch.setattr(DeltaTableHandle, "append", watched)
    client.flush()
    committed = [name for kind, name in events if kind == "end"]
    assert {"runs", "params", "tags", "metrics", "metric_latest"} <= set(committed)
    wave_of = {name: i for i, wave in enumerate(COMMIT_WAVES) for name in wave}
    for i, (kind, name) in enumerate(events):
        if kind == "start":  # every table of an earlier wave has ended before this
            ended = {n for k, n in events[:i] if k == "end"}
            assert {n for n in committed if wave_of[n] < wave_of[name]} <= ended, events
    run = client.get_run(run_id)
    assert run.data.params == {"p": "v"} and run.data.metrics == {"m": 1.0}


def test_commit_waves_hold_every_table_once_and_derived_after_their_source() -> None:
    from lakeml.store.schemas import COMMIT_WAVES, DERIVED, TABLES

    names = [name for wave in COMMIT_WAVES for name in wave]
    assert sorted(names) == sorted(TABLES)
    wave_of = {name: i for i, wave in enumerate(COMMIT_WAVES) for name in wave}
    for derived, source in DERIVED.items():
        assert wave_of[derived] > wave_of[source]
    assert wave_of["experiments"] < wave_of["runs"] < wave_of["params"]


def test_latest_points_wait_while_their_metrics_batch_is_not_committed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append

    def metrics_down(handle, data, **kw):  # noqa: ANN001
        if handle.name == "metrics":
            raise StoreUnavailable("injected: the metrics table cannot be written")
        return real(handle, data, **kw)

    monkeypatch.setattr(DeltaTableHandle, "append", metrics_down)
    store.writer.extend("metrics", metric_rows(5))
    with pytest.raises(StoreUnavailable):
        store.flush()
    assert count(store, "metrics") == 0
    assert count(store, "metric_latest") == 0  # not ahead of the history
    monkeypatch.setattr(DeltaTableHandle, "append", real)
    store.flush()
    assert (count(store, "metrics"), count(store, "metric_latest")) == (5, 1)
    store.close()
