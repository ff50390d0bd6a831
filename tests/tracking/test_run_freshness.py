"""A server worker's run cache follows other processes' commits to ``runs`` from the
table's log entries on a local store (lakeml/tracking/run_freshness.py), not by
deltalake's update of the whole snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakeml.client import Client
from lakeml.errors import InvalidState


def test_a_worker_sees_another_process_delete_without_updating_the_snapshot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deltalake import DeltaTable

    store = str(tmp_path / "lake")
    other = Client(store)
    kept, deleted = (other.create_run(run_name=name).info.run_id for name in ("k", "d"))
    other.flush()
    worker = Client(store)
    worker.tracking.backend.engine.read_commits_only()  # as a server worker
    for run_id in (kept, deleted):
        worker.log_metric(run_id, "m", 1.0)
    worker.set_terminated(kept, "FINISHED")  # a change of its own, committed below
    worker.flush()
    backend = worker.tracking.backend
    assert {kept, deleted} <= set(backend.runs)

    updates: list[object] = []
    real = DeltaTable.update_incremental
    monkeypatch.setattr(DeltaTable, "update_incremental",
                        lambda self, *a, **k: updates.append(self) or real(self, *a, **k))
    other.delete_run(deleted)
    other.flush()
    with pytest.raises(InvalidState, match=deleted):
        worker.log_metric(deleted, "m", 2.0)  # the delete seen: the run read again
    assert kept in backend.runs  # its own commit did not drop the other run
    assert updates == []  # read off the log's new entries
    worker.log_metric(kept, "m", 2.0)
    worker.flush()
    assert [m.value for m in other.get_metric_history(kept, "m")] == [1.0, 2.0]


def test_last_commit_after_follows_the_log_with_a_checkpoint_clock_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deltalake import DeltaTable

    from lakeml.store import table as table_module

    client = Client(str(tmp_path / "lake"))
    client.create_run()
    client.flush()
    store = client.tracking.store
    handle = store.tables["runs"]
    version, _ = store.snapshot_files("runs")  # the reads' snapshot stays here
    assert handle.last_commit_after(version) == version  # nothing new
    for _ in range(3):
        client.create_run()
        client.flush()
    latest = DeltaTable(handle.uri).version()
    assert handle.last_commit_after(version) == latest > version
    # log entries cleaned up after a checkpoint: None (the caller lists the table) ...
    DeltaTable(handle.uri).create_checkpoint()
    Path(handle.uri, "_delta_log", f"{version + 1:020d}.json").unlink()
    monkeypatch.setattr(table_module, "CHECKPOINT_CHECK_SECONDS", 3600.0)
    handle._followed_checkpoint_at = -1e9  # (its clock is due; the reads' one too)
    handle._checkpoint_checked_at = -1e9
    assert handle.last_commit_after(version) is None
    # ... and its look at the checkpoint did not use up the reads' own: they move on
    assert store.snapshot_files("runs")[0] == latest


def test_a_run_changed_then_compacted_and_vacuumed_is_still_seen(tmp_path: Path) -> None:
    from deltalake import DeltaTable

    store_uri = str(tmp_path / "lake")
    other = Client(store_uri)
    run_id = other.create_run().info.run_id
    other.flush()
    worker = Client(store_uri)
    worker.tracking.backend.engine.read_commits_only()
    worker.log_metric(run_id, "m", 1.0)
    worker.flush()
    for _ in range(3):  # small commits, then one deleting the run ...
        other.create_run()
        other.flush()
    other.delete_run(run_id)
    other.flush()
    runs = DeltaTable(other.tracking.store.table_uri("runs"))
    runs.optimize.compact()  # ... compacted, and the small files vacuumed
    runs.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    with pytest.raises(InvalidState, match=run_id):
        worker.log_metric(run_id, "m", 2.0)  # one request, refused: the delete seen



WORKER = """
import sys
from lakeml.client import Client
from lakeml.errors import InvalidState

store, run_id = sys.argv[1:]
worker = Client(store)
worker.tracking.backend.engine.read_commits_only()  # as a server worker
worker.set_tag(run_id, "t", "1")  # (a tag: no metric, whose rows the writer aggregates)
worker.flush()
print("cached", flush=True)
sys.stdin.readline()  # another process deletes the run meanwhile
try:
    worker.set_tag(run_id, "t", "2")  # the worker follows the delete: one scan
except InvalidState:
    print("refused", "pyarrow.dataset" in sys.modules, flush=True)
"""


def test_following_a_commit_costs_no_import_of_the_dataset_layer(tmp_path: Path) -> None:
    """A worker's first scan of another process's commit runs on its event loop: through
    pq.read_table it imported pyarrow.dataset there (0.2 s of CPU, every connection of
    the worker waiting); one file at a time through ParquetFile, it imports nothing."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    store = str(tmp_path / "lake")
    other = Client(store)
    run_id = other.create_run().info.run_id
    other.flush()
    errors = tmp_path / "worker.err"
    with open(errors, "w") as err:
        worker = subprocess.Popen([sys.executable, "-c", WORKER, store, run_id], text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                  cwd=str(ROOT))
        try:
            assert worker.stdout is not None
            assert worker.stdout.readline().split() == ["cached"], errors.read_text()
            other.delete_run(run_id)
            other.flush()
            out, _ = worker.communicate("go\n", timeout=120)
        finally:
            worker.kill()
    assert worker.returncode == 0, errors.read_text()[-3000:]
    assert out.split() == ["refused", "False"]
