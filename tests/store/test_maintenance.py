"""Compaction, checkpoints and vacuum keep every row, also when processes race."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

from lakeml.errors import InvalidArgument
from lakeml.store import Store

US = 1_700_000_000_000_000


def small_commits(store: Store, commits: int, rows: int = 10) -> None:
    for c in range(commits):
        for i in range(rows):
            store.append("metrics", (f"run-{c}", "loss", float(i), i, US + i))
        store.flush()


def rows_and_distinct(store: Store) -> tuple[int, int]:
    _, files = store.snapshot_files("metrics")
    return duckdb.sql(
        f"SELECT count(*), count(DISTINCT (run_id, step)) FROM read_parquet({files!r})"
    ).fetchall()[0]


def test_compact_rewrites_small_files_and_keeps_every_row(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    small_commits(store, 12)
    assert store.maintenance.status(["metrics"])[0].files == 12
    done = store.maintenance.compact(["metrics"])
    assert done["metrics"]["numFilesRemoved"] == 12
    assert store.maintenance.status(["metrics"])[0].files == 1
    assert rows_and_distinct(store) == (120, 120)
    # The lease was released: the next compaction runs (with nothing left to do).
    again = store.maintenance.compact(["metrics"])
    assert again["metrics"]["numFilesRemoved"] == 0
    store.close()


def test_a_held_lease_makes_others_skip(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    small_commits(store, 3)
    handle = store.tables["metrics"]
    assert store.maintenance._claim_lease(handle) is None  # as if another process held it
    skipped = store.maintenance.compact(["metrics"])
    assert "lease" in skipped["metrics"]["skipped"]
    store.maintenance._release_lease(handle)
    assert store.maintenance.compact(["metrics"])["metrics"]["numFilesRemoved"] == 3
    store.close()


def test_a_lease_held_longer_than_its_term_is_renewed(tmp_path: Path) -> None:
    """A compaction slower than the lease (a big Spark OPTIMIZE) keeps it while alive."""
    holder = Store(tmp_path / "lake").open()
    holder.maintenance.lease_seconds = 3
    other = Store(tmp_path / "lake").open()
    other.maintenance.lease_seconds = 3
    with holder.maintenance.lease("metrics") as why_not:
        assert why_not is None
        time.sleep(4.5)  # past the term: only the renewals keep others out
        skipped = other.maintenance.compact(["metrics"])["metrics"]
        assert "lease" in skipped["skipped"]
    assert "skipped" not in other.maintenance.compact(["metrics"])["metrics"]  # released


def test_checkpoint_and_vacuum_leave_the_table_readable(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    small_commits(store, 5)
    store.maintenance.compact(["metrics"])
    assert store.maintenance.checkpoint(["metrics"]) == ["metrics"]
    assert list((tmp_path / "s/tables/metrics/_delta_log").glob("*.checkpoint.parquet"))
    kept = store.maintenance.vacuum(["metrics"], dry_run=True)["metrics"]
    assert kept == []  # the 5 replaced files are younger than the default retention
    gone = store.maintenance.vacuum(["metrics"], retention_hours=0)["metrics"]
    assert len(gone) == 5
    assert rows_and_distinct(store) == (50, 50)
    assert len(DeltaTable(str(tmp_path / "s/tables/metrics")).file_uris()) == 1
    store.close()


def test_bad_table_and_retention_are_named(tmp_path: Path) -> None:
    store = Store(tmp_path / "s").open()
    with pytest.raises(InvalidArgument, match="nope"):
        store.maintenance.compact(["nope"])
    with pytest.raises(InvalidArgument, match="-1"):
        store.maintenance.vacuum(["metrics"], retention_hours=-1)


COMPACTOR = r"""
import sys, time
from lakeml.errors import InvalidArgument
from lakeml.store import Store
store, start_at = Store(sys.argv[1]).open(), float(sys.argv[2])
time.sleep(max(0.0, start_at - time.time()))
result = store.maintenance.compact(["metrics"])["metrics"]
print("skipped" if "skipped" in result else "compacted")
"""


@pytest.mark.slow
def test_racing_compactions_never_duplicate_rows(tmp_path: Path) -> None:
    # deltalake 1.6 admits two concurrent OPTIMIZE commits of the same files,
    # which duplicates their rows; the compaction lease must prevent that.
    uri = str(tmp_path / "s")
    store = Store(uri, flush_interval=60).open()
    small_commits(store, 40)
    store.close()
    start_at = time.time() + 3.0  # all four begin compacting at the same instant
    procs = [subprocess.Popen([sys.executable, "-c", COMPACTOR, uri, str(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "LAKEML_COMPACTION_LEASE": "300"})
             for _ in range(4)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(out.strip())
    assert "compacted" in results and set(results) <= {"compacted", "skipped"}
    reader = Store(uri).open()
    assert rows_and_distinct(reader) == (400, 400)
    assert reader.maintenance.status(["metrics"])[0].files == 1
    # No two compactions overlapped: each read a snapshot that already held
    # the previous compaction's commit.
    history = sorted((h["version"], h.get("readVersion", -1)) for h in
                     DeltaTable(f"{uri}/tables/metrics").history()
                     if h["operation"] == "OPTIMIZE")
    for (previous, _), (_, read) in zip(history, history[1:]):
        assert read >= previous, history


def test_rebuild_latest_repairs_a_writer_killed_between_its_commits(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    store.writer.extend("metrics", [("r1", "loss", 0.5, 1, US), ("r2", "acc", 0.1, 0, US)])
    store.flush()
    # What a kill between the two commits leaves: history rows without their latest point.
    import pyarrow as pa

    from lakeml.store import schemas

    store.tables["metrics"].append(pa.Table.from_pylist(
        [{"run_id": "r1", "key": "loss", "value": 0.25, "step": 2, "timestamp": US},
         {"run_id": "r3", "key": "new", "value": float("nan"), "step": 0, "timestamp": US}],
        schema=schemas.METRICS))
    assert store.maintenance.rebuild_latest() == 2
    assert store.maintenance.rebuild_latest() == 0  # nothing left to repair
    _, files = store.snapshot_files("metric_latest")
    latest = duckdb.sql(
        f"SELECT run_id, max_by(value, step) FROM read_parquet({files!r}) "
        "GROUP BY run_id ORDER BY run_id").fetchall()
    assert latest[:2] == [("r1", 0.25), ("r2", 0.1)] and latest[2][0] == "r3"
    store.close()


def test_explicit_flushes_get_automatic_compaction_too(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that flushes by hand after every point (the flusher never finds rows of
    its own) still has its small files merged: maintenance follows every commit."""
    monkeypatch.setenv("LAKEML_COMPACT_EVERY", "8")
    store = Store(tmp_path / "s", flush_interval=60).open()
    small_commits(store, 40, rows=2)
    deadline = time.monotonic() + 30
    while store.maintenance.status(["metrics"])[0].files > 8 + 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the flusher thread compacts in the background
    files = store.maintenance.status(["metrics"])[0].files
    assert files <= 8 + 2, files
    assert rows_and_distinct(store) == (80, 80)
    store.close()


def test_close_runs_the_at_close_hooks_after_the_last_commit(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    seen: list[bool] = []
    store.maintenance.add_hook(lambda: None, at_close=lambda: seen.append(store.has_unflushed()))
    store.append("metrics", ("r1", "loss", 0.5, 0, US))   # buffered, not committed
    store.close()
    assert seen == [False]          # once, after the last rows were committed
    reader = Store(tmp_path / "s", flush_interval=60).open()
    reader.maintenance.add_hook(lambda: None, at_close=lambda: seen.append(True))
    assert reader.snapshot_files("metrics")[1]
    reader.close()                  # committed nothing: nothing to finish
    assert seen == [False]


# Logs runs, has a snapshot written mid-way, logs more runs that only the exit commits
# (the flush interval is an hour), and exits.
EXITING_WRITER = r"""
import sys
import lakeml
from lakeml.query import run_fold, run_snapshot
run_fold.SMALL_STORE_BYTES = 0  # a store of test size gets a snapshot (as a large one would)
client = lakeml.Client(sys.argv[1])
exp = client.create_experiment("exiting")
def log(count):
    for i in range(count):
        run_id = client.create_run(exp).info.run_id
        client.log_batch(run_id, metrics={"m": i / 7}, params={"p": str(i % 3)})
        client.set_terminated(run_id)
log(5)
client.flush()
run_snapshot.wait(client.store)
assert run_snapshot.write(client.store).runs == 5
log(45)
"""


@pytest.mark.slow
def test_a_writer_that_exits_leaves_a_fresh_snapshot(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from lakeml.query import run_fold, run_snapshot

    uri = str(tmp_path / "s")
    proc = subprocess.run([sys.executable, "-c", EXITING_WRITER, uri], capture_output=True,
                          text=True, timeout=300,
                          env={**os.environ, "LAKEML_FLUSH_INTERVAL": "3600"})
    assert proc.returncode == 0, proc.stderr
    store = Store(uri).open()
    saved = run_snapshot.load(store)
    assert saved is not None and saved.runs == 50
    monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)
    assert not run_snapshot.is_stale(store)
    files = {t: store.snapshot_files(t)[1] for t in run_fold.SOURCES}
    assert not any(saved.uncovered(store, files).values())   # every data file folded
    generations = list((tmp_path / "s" / "state").glob("runs-*.parquet"))
    assert len(generations) <= 3     # the last, the one before, and one written meanwhile
