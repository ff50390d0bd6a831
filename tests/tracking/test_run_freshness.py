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


def test_commits_after_names_the_files_deltalake_lists(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from deltalake import DeltaTable

    from lakeml.store import table as table_module

    client = Client(str(tmp_path / "lake"))
    client.create_run()
    client.flush()
    store = client.tracking.store
    handle = store.tables["runs"]
    version, before = store.snapshot_files("runs")
    assert handle.commits_after(version) == []  # nothing new
    for _ in range(2):
        client.create_run()
        client.flush()
    commits = handle.commits_after(version)
    latest, files = store.snapshot_files("runs")
    assert [v for v, _, _ in commits] == list(range(version + 1, latest + 1))
    added = [f for _, adds, _ in commits for f in adds]
    name = lambda path: path.rsplit("/", 1)[-1]  # noqa: E731
    assert sorted(map(name, added)) == sorted(set(map(name, files)) - set(map(name, before)))
    assert all(Path(f).is_file() for f in added)
    # log entries cleaned up after a checkpoint: None, the caller lists the table
    DeltaTable(handle.uri).create_checkpoint()
    Path(handle.uri, "_delta_log", f"{version + 1:020d}.json").unlink()
    monkeypatch.setattr(table_module, "CHECKPOINT_CHECK_SECONDS", 0.0)
    assert handle.commits_after(version) is None
