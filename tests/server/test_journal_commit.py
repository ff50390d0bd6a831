"""The journal's committer (lakeml/server/journal_commit.py) in this process, on a real
store and a real journal folder: what a read waits for, and how the committer idles."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pytest

import lakeml
from lakeml.server.journal import Journal, frame
from lakeml.server.journal_commit import ROUND_BITS, Committer
from lakeml.server.journal_writes import wait_committed
from lakeml.store import Store, normalize_uri
from tests.server.test_journal import txn_version, wait_until
from tests.server.test_journal_file import append


@pytest.fixture()
def committed(tmp_path: Path) -> Iterator[tuple[Journal, Committer]]:
    client = lakeml.Client(str(tmp_path / "store"))
    client.create_experiment("e")
    client.flush()
    store = Store(normalize_uri(str(tmp_path / "store"))).open()
    folder = tmp_path / "journal"
    folder.mkdir(mode=0o700)
    journal = Journal(folder, store.uri)
    committer = Committer(journal, store)
    committer.start()
    yield journal, committer
    journal.close()


def test_a_read_does_not_wait_for_the_bytes_of_a_torn_append(
        committed: tuple[Journal, Committer]) -> None:
    journal, committer = committed
    data = frame(("test", [("tags", [])]))
    with journal.locked():  # what a worker killed mid-append leaves
        with open(journal.segment_path(journal.segments()[-1]), "ab") as fh:
            fh.write(data[:len(data) // 2])
    torn_end = journal.end()
    assert torn_end > journal.watermark()
    # the committer cuts the torn bytes off (after TORN_AFTER); the read then has nothing
    # to wait for, instead of waiting for a watermark that never reaches the torn end
    wait_committed(journal, committer, timeout=20)
    assert journal.end() == journal.watermark() < torn_end


def metric_rows(store_uri: str, table: str = "metrics") -> list[dict]:
    from deltalake import DeltaTable

    return DeltaTable(f"{store_uri}/tables/{table}").to_pyarrow_table().to_pylist()


def metrics_table(rows: list[tuple]) -> pa.Table:
    """``rows`` of the metrics table as Arrow, to commit as a killed committer left them."""
    from lakeml.store.schemas import TABLES

    return pa.Table.from_pylist([dict(zip(TABLES["metrics"].names, r)) for r in rows],
                                schema=TABLES["metrics"])


def commit_after_a_crash(journal: Journal, committer: Committer, data: bytes, end: int,
                         timeout: float) -> None:
    """Append the record ``data`` (ending at ``end``) and let ``committer`` commit it as
    the successor of one killed mid-round: it first asks the tables what landed."""
    committer.writer.drop_pending()  # as after a failed round
    with journal.locked():
        assert journal.append_locked(data) == end
    journal.sync(end)
    wait_committed(journal, committer, timeout=timeout)


def test_a_round_split_around_a_refused_row_keeps_the_next_rounds(
        committed: tuple[Journal, Committer]) -> None:
    # the table refuses one row of a big record (a CHECK constraint): the committer's
    # writer bisects the round's batch; the parts' sequences must stay inside the round,
    # or the table's journal version passes the next record's end and that record is
    # skipped as committed (after the next round's failure, or any restart)
    from deltalake import DeltaTable

    journal, committer = committed
    uri = committer._store.uri
    DeltaTable(f"{uri}/tables/metrics").alter.add_constraint({"no_13": "value <> 13"})
    big = [("run", "m", float(i), i, 1_000_000 + i) for i in range(2000)]
    with journal.locked():
        end = journal.append_locked(frame(("test", [("metrics", big)])))
    journal.sync(end)
    wait_committed(journal, committer, timeout=60)
    with journal.locked():
        after = journal.append_locked(frame(("test", [("metrics", [("run", "late", 1.0, 0,
                                                                      2_000_000)])])))
    journal.sync(after)
    wait_committed(journal, committer, timeout=60)
    keys = [(r["key"], r["value"]) for r in metric_rows(uri)]
    assert sorted(keys) == sorted([("m", float(i)) for i in range(2000) if i != 13]
                                  + [("late", 1.0)])
    # the store's word: landed up to the end
    assert txn_version(uri, "metrics", journal.app_id) == after


def test_a_round_whose_split_was_cut_short_is_committed_again(
        committed: tuple[Journal, Committer]) -> None:
    # a committer killed between the parts of a split round left the first part landed
    # (batch number inside the round): its successor commits the whole round again, so
    # nothing acknowledged is lost (the first part's rows are then there twice)
    from deltalake import DeltaTable

    journal, committer = committed
    uri = committer._store.uri
    DeltaTable(f"{uri}/tables/metrics").alter.add_constraint({"no_13": "value <> 13"})
    rows = [("run", "m", float(i), i, 1_000_000 + i) for i in range(40)]
    data = frame(("test", [("metrics", rows)]))
    end = journal.end() + len(data)
    committer._store.tables["metrics"].append(metrics_table(rows[:10]), app_id=journal.app_id,
                                              version=(end << ROUND_BITS) + 1)
    commit_after_a_crash(journal, committer, data, end, timeout=60)
    values = sorted(r["value"] for r in metric_rows(uri))
    assert set(values) == {float(i) for i in range(40) if i != 13}
    assert len(values) == 39 + 10
    assert txn_version(uri, "metrics", journal.app_id) == end


def test_a_derived_batch_the_table_refuses_after_a_crash_is_split_not_retried_forever(
        committed: tuple[Journal, Committer]) -> None:
    # a committer killed after a round's metrics landed whole but before its metric_latest
    # did: its successor derives metric_latest's rows of that round again. When that
    # table refuses one of them (a CHECK constraint), the batch is split around it: the
    # parts need numbers between the round's and the next record's end, or the split
    # fails and the commit is retried forever (every read then waits on the committer)
    from deltalake import DeltaTable

    journal, committer = committed
    uri = committer._store.uri
    DeltaTable(f"{uri}/tables/metric_latest").alter.add_constraint({"no_13": "value <> 13"})
    rows = [("run", f"m{i}", float(i), 0, 1_000_000 + i) for i in range(40)]
    data = frame(("test", [("metrics", rows)]))
    end = journal.end() + len(data)
    committer._store.tables["metrics"].append(metrics_table(rows), app_id=journal.app_id,
                                              version=end << ROUND_BITS)
    commit_after_a_crash(journal, committer, data, end, timeout=30)
    assert len(metric_rows(uri)) == 40  # the source's rows: not committed twice
    latest = metric_rows(uri, "metric_latest")
    assert sorted(r["key"] for r in latest) == sorted(f"m{i}" for i in range(40) if i != 13)
    # (its number: one byte past the round)
    assert txn_version(uri, "metric_latest", journal.app_id) == end + 1
    later = frame(("test", [("metrics", [("run", "late", 1.0, 0, 2_000_000)])]))
    with journal.locked():
        after = journal.append_locked(later)
    journal.sync(after)
    wait_committed(journal, committer, timeout=30)  # the next round is not skipped
    assert "late" in {r["key"] for r in metric_rows(uri, "metric_latest")}


def test_a_round_is_derived_again_only_for_the_derived_tables_it_did_not_reach(
        committed: tuple[Journal, Committer]) -> None:
    # a committer killed after metrics and metric_latest landed, before metric_buckets
    # (the two derived tables commit at the same time): its successor derives the round
    # again for metric_buckets alone; metric_latest must not get its rows a second time
    from lakeml.store.derived import DERIVE

    journal, committer = committed
    uri = committer._store.uri
    rows = [("run", "m", float(i), i, 1_000_000 + i) for i in range(40)]
    data = frame(("test", [("metrics", rows)]))
    end = journal.end() + len(data)
    points = metrics_table(rows)
    tables = committer._store.tables
    tables["metrics"].append(points, app_id=journal.app_id, version=end << ROUND_BITS)
    latest = DERIVE["metric_latest"](points)
    tables["metric_latest"].append(latest, app_id=journal.app_id, version=end << ROUND_BITS)
    commit_after_a_crash(journal, committer, data, end, timeout=30)

    def count(table: str) -> int:  # (metric_buckets' mark of a complete table aside)
        return sum(1 for row in metric_rows(uri, table) if row["run_id"])

    assert count("metrics") == 40 and count("metric_latest") == latest.num_rows
    assert count("metric_buckets") == DERIVE["metric_buckets"](points).num_rows > 0
    assert (txn_version(uri, "metric_latest", journal.app_id),
            txn_version(uri, "metric_buckets", journal.app_id)) == (end, end + 1)


def test_a_write_whose_append_fails_leaves_no_run_in_the_worker_caches(
        tmp_path: Path) -> None:
    # a full disk (here: the process's file size limit) refuses the journal append of a
    # runs/create whose handler already ran: the worker must not keep the run it made
    import resource
    import signal
    import threading

    from lakeml.server import rules, runs
    from lakeml.server.journal_writes import JOURNAL, JournaledWorker
    from lakeml.server.protocol import Fields

    client = lakeml.Client(str(tmp_path / "store"))
    eid = client.create_experiment("e")
    client.flush()
    folder = tmp_path / "journal"
    folder.mkdir(mode=0o700)
    worker = JournaledWorker(client, str(folder))
    lock = threading.Lock()
    made = worker.call(lock, runs.create, Fields({"experiment_id": eid}), JOURNAL, None)
    backend = client.tracking.backend
    first = made["run"]["info"]["run_id"]
    assert first in backend.runs and first in runs._known[client]

    def caches() -> tuple[set[str], set[str], set[str]]:
        return (set(backend.runs), set(runs._known[client]), set(rules._EXPERIMENT_OF_RUN))

    before = caches()
    size = worker.journal.end() - worker.journal.segments()[-1]
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 16, hard))
    try:
        with pytest.raises(OSError):
            worker.call(lock, runs.create, Fields({"experiment_id": eid}), JOURNAL, None)
        with pytest.raises(OSError):
            worker.call(lock, runs.log_param, Fields({"run_id": first, "key": "lr",
                                                      "value": "0.1"}), JOURNAL, None)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert caches() == before  # the run that was never journaled is not believed in
    # nor are its runs row's (run_id, seq) kept, waited for among this worker's own
    assert {run_id for run_id, _ in backend.freshness._own} <= {first}
    assert "lr" not in (backend.runs[first].params or {})  # nor the param never logged
    worker.call(lock, runs.log_param, Fields({"run_id": first, "key": "lr", "value": "0.2"}),
                JOURNAL, None)  # the key is free: another value is no conflict
    worker.journal.close()


def test_an_error_looking_at_the_journal_while_idle_does_not_end_the_committer(
        committed: tuple[Journal, Committer]) -> None:
    # the watermark file unreadable for a while (here: a folder in its place, so reading
    # it raises IsADirectoryError) while the committer idles; once it reads again, the
    # committer, still alive, commits what was appended meanwhile
    import time

    journal, committer = committed
    watermark = journal.folder / "committed"
    kept = watermark.read_text() if watermark.exists() else "0"
    watermark.unlink(missing_ok=True)
    watermark.mkdir()
    time.sleep(1.5)  # the committer looks, fails, and must keep looking
    watermark.rmdir()
    watermark.write_text(kept)
    with journal.locked():
        end = journal.append_locked(frame(("test", [("metrics", [("run", "after", 2.0, 0,
                                                                   3_000_000)])])))
    journal.sync(end)
    wait_committed(journal, committer, timeout=30)
    assert ("after", 2.0) in [(r["key"], r["value"]) for r in metric_rows(committer._store.uri)]


def test_a_hurry_right_after_a_rounds_read_cuts_the_rounds_pause_short(
        committed: tuple[Journal, Committer], monkeypatch: pytest.MonkeyPatch) -> None:
    """Another worker appends and hurries just after the committer read a round's records:
    the committer must see that hurry (the time it compares against is taken before the
    read), or the record waits out the whole pause between rounds."""
    import threading

    from lakeml.server import journal_commit

    journal, committer = committed
    monkeypatch.setattr(journal_commit, "ROUND_SPACING", 60.0)

    late: list[int] = []
    looked = threading.Event()
    read = journal_commit.Reader.read

    def racing(self: journal_commit.Reader, *, repair: bool = False) -> list:
        records = read(self, repair=repair)
        # (this test's committer only: an earlier test's may still be running)
        if self.journal is journal:
            looked.set()
            if records and not late:  # the other worker, right after this read
                late.append(append(journal, 2))
                journal.hurry()
        return records

    # (on the class: the committer made its reader when it started, before this test ran;
    # and a read it was in the middle of then is over before the first record comes)
    monkeypatch.setattr(journal_commit.Reader, "read", racing)
    looked.wait(0.5)  # (none: it idles, and reads only through racing from now on)
    append(journal, 1)
    committer.wake.set()
    # (30 s, half the pause: without the hurry, still waiting)
    wait_until(lambda: late and journal.watermark() >= late[0],
               "the late record waited for the next round", timeout=30)
    assert sorted(r["value"] for r in metric_rows(committer._store.uri)) == [1.0, 2.0]


def test_a_waiting_read_touches_again_when_its_first_touch_is_not_seen(
        committed: tuple[Journal, Committer], monkeypatch: pytest.MonkeyPatch) -> None:
    """A read in another worker hurries the committer by touching the journal's urgent
    file; a touch in the same clock tick as the one before changes nothing the committer
    sees. The read touches again while it waits, so it never waits out the round's pause."""
    from lakeml.server import journal_commit

    journal, committer = committed
    monkeypatch.setattr(journal_commit, "ROUND_SPACING", 60.0)

    first = append(journal, 1)
    committer.wake.set()
    wait_until(lambda: journal.watermark() >= first, "the first round",  # then 60 s pause
               timeout=30)
    append(journal, 2)
    touches: list[int] = []
    real = Journal.hurry
    monkeypatch.setattr(Journal, "hurry", lambda self: touches.append(1) if not touches
                        else real(self))  # the first touch lost
    other = Committer(journal, committer._store)  # the waiting read's worker's, idle
    wait_committed(journal, other, timeout=30)
    assert len(touches) == 1
    assert sorted(r["value"] for r in metric_rows(committer._store.uri)) == [1.0, 2.0]
