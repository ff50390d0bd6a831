"""The searches' in-memory run state (lakeml/query/run_state.py) against the views.

The reference answer of each search is compiled for the sql/views relations
(one row per run and key, folded on every query) and filled from the lake by
id; the state must give the same table, whole (small store) or loading keys
on demand (large store), after every kind of later write and after compaction.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import lakeml
from lakeml.query import QueryEngine, run_fold, run_snapshot
from lakeml.query.wide import wide_table
from lakeml.search import compile_filter, compile_order_by, parse_filter
from lakeml.sqltext import placeholders

SEARCHES: list[tuple[str, list[str] | None]] = [
    ("metrics.rmse < 0.5 and params.alpha != '3'", ["metrics.rmse DESC"]),
    ("tags.kind = 'odd' or params.alpha IN ('1', '2')", ["params.alpha"]),
    ("", None),
    ("attributes.status = 'RUNNING'", ["attributes.run_name DESC"]),
    ("tags.kind IS NULL", ["metrics.extra DESC", "params.alpha"]),
    ("metrics.extra >= 0 or params.beta LIKE 'b%'", None),
]


def reference(client: lakeml.Client, exp: str, text: str, order: list[str] | None,
              stages: tuple[str, ...] = ("active",)) -> pa.Table:
    """The search as the views answer it: filtered and sorted over the folded views,
    the page filled from the lake by id."""
    tree = parse_filter(text)
    where = compile_filter(tree)
    ordering = compile_order_by(order or ["attributes.start_time DESC"])
    sql = (f"SELECT r.run_id FROM runs AS r {ordering.joins} WHERE r.experiment_id = ? "
           f"AND r.lifecycle_stage IN ({placeholders(list(stages))}) AND ({where.sql}) "
           f"ORDER BY {ordering.clause}")
    engine = client.tracking._b.engine
    engine.refresh()
    ids = engine.arrow(sql, [*ordering.params, exp, *stages, *where.params], tables=())["run_id"]
    return wide_table(engine, ids)


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows, NaN spelled out (NaN != NaN would fail any comparison)."""
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
            for row in table.to_pylist()]


def agree(client: lakeml.Client, exp: str) -> None:
    for text, order in SEARCHES:
        got = client.search_runs_table([exp], text, order_by=order)
        assert rows(got) == rows(reference(client, exp, text, order)), (text, order)
    deleted = client.search_runs_table([exp], "", run_view_type="DELETED_ONLY")
    assert rows(deleted) == rows(reference(client, exp, "", None, ("deleted",)))


@pytest.fixture(params=["whole store", "keys on demand", "snapshot, whole store",
                        "snapshot, keys on demand"])
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param.endswith("keys on demand"):
        monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)
    return request.param


def fresh_engine(client: lakeml.Client) -> None:
    """Give the client's backend a new engine: the next search builds its state anew."""
    client.tracking._b.engine = QueryEngine(client.store)


def test_state_follows_every_kind_of_write_and_compaction(client: lakeml.Client,
                                                          layout: str) -> None:
    exp = client.create_experiment("state")
    ids = []
    for i in range(1, 9):
        run = client.create_run(exp, run_name=f"r{i}", start_time=1_700_000_000_000 + i)
        client.log_batch(run.info.run_id, metrics={"rmse": 1 / i}, params={"alpha": str(i)},
                         tags={"kind": "odd" if i % 2 else "even"})
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    if layout.startswith("snapshot"):
        client.flush()
        saved = run_snapshot.write(client.store)
        assert saved is not None and saved.runs == 8
    agree(client, exp)
    assert client.tracking._b.engine.run_state.prepare().complete == layout.endswith("whole store")

    for run_id in ids[:4]:
        client.update_run(run_id, status="RUNNING")      # only running runs take logs
    client.log_metric(ids[0], "rmse", 0.01, step=3)      # a later step wins
    client.log_metric(ids[0], "rmse", 9.0, step=2)       # an earlier one does not
    client.set_tag(ids[1], "kind", "changed")
    client.delete_tag(ids[2], "kind")
    client.log_param(ids[0], "beta", "b1")               # a key no run had
    client.log_metric(ids[3], "extra", 2.0)
    client.delete_run(ids[4])
    new = client.create_run(exp, run_name="late", start_time=1_700_000_000_100)
    client.log_batch(new.info.run_id, metrics={"rmse": 0.3, "extra": float("nan")},
                     params={"alpha": "1", "beta": "bb"})
    agree(client, exp)

    client.store.maintenance.compact()                   # same rows, new files
    client.restore_run(ids[4])
    agree(client, exp)
    fresh_engine(client)                                 # a new process's first look
    agree(client, exp)


def _log_from_another_process(uri: str, exp: str) -> None:
    other = lakeml.Client(uri)
    run = other.create_run(exp, run_name="elsewhere")
    other.log_batch(run.info.run_id, metrics={"rmse": 0.001}, params={"alpha": "0"})
    other.flush()


def test_state_sees_commits_of_other_processes(client: lakeml.Client, store_uri: str) -> None:
    exp = client.create_experiment("shared")
    client.log_batch(client.create_run(exp).info.run_id, metrics={"rmse": 0.5})
    assert len(client.search_runs_table([exp], "metrics.rmse < 0.1")) == 0
    process = multiprocessing.get_context("spawn").Process(
        target=_log_from_another_process, args=(store_uri, exp))
    process.start()
    process.join(120)
    assert process.exitcode == 0
    found = client.search_runs_table([exp], "metrics.rmse < 0.1")
    assert found["tags.mlflow.runName"].to_pylist() == ["elsewhere"]
    agree(client, exp)


def test_snapshot_is_only_a_cache(client: lakeml.Client, store_uri: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_snapshot, "_KEEP_SECONDS", -1)  # no grace for another writer
    exp = client.create_experiment("cache")
    for i in range(3):
        client.log_batch(client.create_run(exp).info.run_id, metrics={"rmse": i})
    client.flush()
    first = run_snapshot.write(client.store)
    second = run_snapshot.write(client.store)
    third = run_snapshot.write(client.store)
    assert first and second and third
    kept = sorted(p.name for p in (Path(store_uri) / "state").glob("runs-*.parquet"))
    assert kept == sorted([Path(second.path).name, Path(third.path).name])  # one back is kept
    (Path(store_uri) / "state" / "runs.json").write_text("{not json")
    assert run_snapshot.load(client.store) is None
    fresh_engine(client)
    agree(client, exp)
    shutil.rmtree(Path(store_uri) / "state")
    fresh_engine(client)
    assert len(client.search_runs_table([exp], "metrics.rmse >= 1")) == 2


def test_writers_keep_the_snapshot_fresh(client: lakeml.Client, store_uri: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Past SMALL_STORE_BYTES, a process that commits writes the snapshot by itself, and
    rewrites it once STALE_SHARE of the bytes are new."""
    monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)
    exp = client.create_experiment("auto")

    def log_and_wait(count: int) -> run_snapshot.Snapshot:
        for i in range(count):
            client.log_batch(client.create_run(exp).info.run_id, metrics={"rmse": i})
        client.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            thread = run_snapshot._writing.get(client.store.uri)
            if thread is not None:
                thread.join(60)
                saved = run_snapshot.load(client.store)
                if saved is not None and not run_snapshot.is_stale(client.store):
                    return saved
            time.sleep(0.05)
        raise AssertionError("no fresh snapshot was written")

    first = log_and_wait(3)
    assert first.runs == 3
    second = log_and_wait(3)
    assert second.runs == 6 and second.path != first.path
    fresh_engine(client)
    agree(client, exp)


def test_a_snapshot_deleted_under_a_reader_costs_only_speed(
        client: lakeml.Client, store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)  # pages come from the snapshot
    exp = client.create_experiment("vanishing")
    for i in range(4):
        client.log_batch(client.create_run(exp).info.run_id, metrics={"rmse": i},
                         params={"alpha": str(i)})
    client.flush()
    saved = run_snapshot.write(client.store)
    assert saved is not None
    fresh_engine(client)
    agree(client, exp)
    Path(saved.path).unlink()                 # a later writer pruned it
    agree(client, exp)
    ghost = run_snapshot.Snapshot(str(Path(store_uri) / "gone.parquet"), saved.columns,
                                  saved.files, saved.runs)
    monkeypatch.setattr(run_snapshot, "load", lambda store: ghost)  # gone before the read
    fresh_engine(client)
    agree(client, exp)


@pytest.fixture
def manual(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> lakeml.Client:
    """A client whose process writes no snapshot by itself: the test writes each one."""
    monkeypatch.setenv("LAKEML_AUTO_MAINTENANCE", "0")
    return lakeml.Client(str(tmp_path / "manual"))


def _log_runs(client: lakeml.Client, exp: str, count: int) -> None:
    for i in range(count):
        run_id = client.create_run(exp, run_name=f"r{i}").info.run_id
        client.log_batch(run_id, metrics={"rmse": i / 10}, params={"alpha": str(i % 3)},
                         tags={"kind": "odd" if i % 2 else "even"})
        client.set_terminated(run_id)
    client.flush()


def test_old_generations_are_pruned_and_a_reader_holding_one_still_answers(
        manual: lakeml.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    client = manual
    monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)  # pages come from the snapshot
    exp = client.create_experiment("generations")
    _log_runs(client, exp, 6)
    held = run_snapshot.write(client.store)
    assert held is not None
    fresh_engine(client)
    agree(client, exp)                    # this reader now reads pages from `held`
    # Written five minutes ago, as in a long logging session (the 551 s build
    # left ten generations, every one younger than the old 600 s grace).
    past = time.time() - 300
    os.utime(held.path, (past, past))
    _log_runs(client, exp, 2)
    second = run_snapshot.write(client.store)
    third = run_snapshot.write(client.store)
    assert second and third
    kept = sorted(p.name for p in (Path(client.store_uri) / "state").glob("runs-*.parquet"))
    assert kept == sorted([Path(second.path).name, Path(third.path).name])
    agree(client, exp)                    # its generation is gone: pages from the lake
    agree(client, exp)                    # ... and then from the newest generation
    assert client.tracking._b.engine.run_state._snapshot.path == third.path


@pytest.mark.parametrize("damage", ["truncated", "garbled footer", "empty"])
@pytest.mark.parametrize("whole", [True, False], ids=["whole store", "keys on demand"])
def test_a_damaged_snapshot_falls_back_to_the_lake(
        manual: lakeml.Client, monkeypatch: pytest.MonkeyPatch, damage: str,
        whole: bool) -> None:
    client = manual
    if not whole:
        monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)
    exp = client.create_experiment("damaged")
    _log_runs(client, exp, 6)
    saved = run_snapshot.write(client.store)
    assert saved is not None
    path = Path(saved.path)
    data = path.read_bytes()
    if damage == "truncated":           # a crash or full disk mid-copy
        path.write_bytes(data[:len(data) // 2])
    elif damage == "garbled footer":     # same size and magic, unreadable metadata
        path.write_bytes(data[:4] + bytes(len(data) - 12) + data[-8:])
    else:
        path.write_bytes(b"")
    fresh_engine(client)
    agree(client, exp)
    if damage != "garbled footer":        # a damage seen without reading the file...
        assert run_snapshot.load(client.store) is None
        monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)
        assert run_snapshot.is_stale(client.store)   # ... makes writers replace it


@pytest.mark.slow
def test_the_snapshot_is_folded_in_chunks_within_its_memory_limit(
        client: lakeml.Client, store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    from lakeml.errors import StoreUnavailable

    exp = client.create_experiment("bounded")
    n = 20_000
    client.log_runs(exp, pa.table({
        **{f"params.p{j}": [f"v{(i * (j + 3)) % 7}" for i in range(n)] for j in range(5)},
        **{f"metrics.m{j}": [((i * (j + 11)) % 101) / 7 for i in range(n)] for j in range(5)},
        "run_name": [f"run-{i}" for i in range(n)]}))
    client.flush()
    # Folding all 20,000 runs at once runs out of 40 MiB (the old write did, at 48 MiB
    # it did not); chunks of runs need DuckDB's fixed share and a little per run.
    assert run_snapshot.chunk_runs(40 << 20, 12) < n / 4   # so it takes several chunks
    monkeypatch.setenv("LAKEML_SNAPSHOT_MEMORY", "40MiB")
    bounded = run_snapshot.write(client.store)
    assert bounded is not None and bounded.runs == n
    chunked = pq.read_table(bounded.path)
    assert chunked["run_id"].to_pylist() == sorted(chunked["run_id"].to_pylist())
    assert pq.ParquetFile(bounded.path).metadata.row_group(0).num_rows <= 16384
    roomy = run_snapshot.write(client.store, memory_limit=4 << 30)   # one chunk
    assert roomy is not None and roomy.columns == bounded.columns
    assert chunked.equals(pq.read_table(roomy.path))
    fresh_engine(client)
    top = client.search_runs_table([exp], "params.p0 = 'v3'", order_by=["metrics.m1 DESC"],
                                   max_results=3)
    assert top.num_rows == 3

    # Too little memory: a clear error naming the setting; the snapshot in force stays.
    with pytest.raises(StoreUnavailable, match="LAKEML_SNAPSHOT_MEMORY"):
        run_snapshot.write(client.store, memory_limit=1 << 20)
    assert run_snapshot.load(client.store) == roomy
    assert not list((Path(store_uri) / "state").glob(".runs-*.tmp"))
