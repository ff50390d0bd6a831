"""The freshness window of remote stores (``LAKEML_REMOTE_FRESHNESS``): within it a reader
reuses the table versions it last listed (no round trip per table), yet always sees
this process's own commits; with a window of 0 it lists on every read."""

from __future__ import annotations

import pytest

import lakeml
from lakeml.errors import InvalidArgument
from lakeml.tracking import backend
from tests.conftest import run_python
from tests.object_store import fresh_prefix


def ids(client: lakeml.Client, experiment_id: str) -> set[str]:
    return {r.info.run_id for r in client.search_runs([experiment_id])}


def another_process_logs_a_run(uri: str, experiment_id: str) -> str:
    done = run_python(f"import lakeml; c = lakeml.Client({uri!r}); "
                      f"r = c.create_run({experiment_id!r}); c.flush(); print(r.info.run_id)")
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("window", ["600", "0"])
def test_reads_within_the_window_reuse_the_listing_but_see_own_writes(
        s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, window: str):
    monkeypatch.setenv("LAKEML_REMOTE_FRESHNESS", window)
    backend.close_all()
    uri = fresh_prefix()
    client = lakeml.Client(uri)
    exp = client.create_experiment("fresh")
    mine = client.create_run(exp).info.run_id
    client.flush()
    assert ids(client, exp) == {mine}

    other = another_process_logs_a_run(uri, exp)
    if window == "0":
        assert ids(client, exp) == {mine, other}  # listed again: seen at once
    else:
        assert ids(client, exp) == {mine}  # the listing of a moment ago is reused
    own = client.create_run(exp).info.run_id
    client.flush()
    # this process's commit: the tables it wrote are listed again, other commits with them
    assert ids(client, exp) == {mine, other, own}


def test_the_window_is_checked(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("LAKEML_REMOTE_FRESHNESS", "-1")
    with pytest.raises(InvalidArgument, match="LAKEML_REMOTE_FRESHNESS"):
        lakeml.Client(str(tmp_path / "lake"))


def test_a_server_workers_reads_have_no_window(s3_env: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch):
    """A server worker (reads of committed rows only) sees another process's commit at once,
    whatever the window: it promises every worker sees every acknowledged write."""
    monkeypatch.setenv("LAKEML_REMOTE_FRESHNESS", "600")
    backend.close_all()
    uri = fresh_prefix()
    client = lakeml.Client(uri)
    client.tracking.engine.read_commits_only()  # as lakeml.server.group_commit does
    exp = client.create_experiment("worker")
    mine = client.create_run(exp).info.run_id
    client.flush()
    assert ids(client, exp) == {mine}
    other = another_process_logs_a_run(uri, exp)
    assert ids(client, exp) == {mine, other}


def test_a_reader_follows_a_table_whose_next_commit_was_cleaned_up(
        any_store: str, monkeypatch: pytest.MonkeyPatch):
    """Log clean-up removed the commit after the reader's version (older than the log
    retention, a checkpoint after it): the reader finds the checkpoint and reopens."""
    from deltalake import DeltaTable

    from lakeml.store import table

    monkeypatch.setenv("LAKEML_REMOTE_FRESHNESS", "0")
    monkeypatch.setattr(table, "CHECKPOINT_CHECK_SECONDS", 0.0)
    backend.close_all()
    client = lakeml.Client(any_store)
    exp = client.create_experiment("cleaned")
    mine = client.create_run(exp).info.run_id
    client.flush()
    assert ids(client, exp) == {mine}  # the reader is at the runs table's latest version
    runs = f"{any_store}/tables/runs"
    options = client.store.storage_options
    seen = DeltaTable(runs, storage_options=options).version()
    others = {another_process_logs_a_run(any_store, exp) for _ in range(2)}
    latest = DeltaTable(runs, storage_options=options)
    latest.create_checkpoint()
    assert latest.version() > seen
    # what cleanup_metadata does to commits past the retention: the next one is gone
    gone = f"{runs}/_delta_log/{seen + 1:020d}.json"
    if "://" in any_store:
        import fsspec

        fsspec.filesystem("s3").rm(gone)
    else:
        import os

        os.remove(gone)
    assert ids(client, exp) == {mine, *others}
