"""Group commit (lakeml/server/group_commit.py) over a real store: concurrent writers share
a commit, a failed commit fails every writer that waited on it, and a rejected row fails
only the request that logged it."""

from __future__ import annotations

import threading
import time

import pytest
from deltalake import DeltaTable

import lakeml
from lakeml.errors import RowsRejected, StoreUnavailable
from lakeml.server.group_commit import GroupCommit, request_keys
from lakeml.server.protocol import Fields
from lakeml.store import Store
from lakeml.times import now_us


def metric_rows(store: str, run_id: str) -> list[dict]:
    table = DeltaTable(f"{store}/tables/metrics").to_pyarrow_table()
    return [row for row in table.to_pylist() if row["run_id"] == run_id]


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Writers:
    """Threads that each log one metric point through ``commits``, as the server does."""

    def __init__(self, client: lakeml.Client, commits: GroupCommit, run_id: str) -> None:
        self.client, self.commits, self.run_id = client, commits, run_id
        self.lock = threading.Lock()  # the server's handler lock
        self.buffered = 0
        self.errors: dict[int, BaseException | None] = {}

    def write(self, step: int) -> None:
        with self.lock:
            mark = self.commits.mark()
            self.client.log_metric(self.run_id, "m", float(step), step=step, timestamp=1)
            ticket = self.commits.ticket()
            self.buffered += 1
        try:
            self.commits.wait(ticket, mark, {self.run_id})
            self.errors[step] = None
        except Exception as exc:  # the answer this request would get
            self.errors[step] = exc

    def start(self, steps: range) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.write, args=(step,)) for step in steps]
        for thread in threads:
            thread.start()
        return threads


@pytest.fixture(autouse=True)
def _no_background_commits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's background flusher would commit buffered rows on its own every second;
    the tests count commits, so they are the only ones."""
    monkeypatch.setenv("LAKEML_FLUSH_INTERVAL", "3600")


@pytest.fixture
def run_id(client: lakeml.Client) -> str:
    run_id = client.create_run(client.create_experiment("gc")).info.run_id
    settled(client)
    return run_id


def settled(client: lakeml.Client) -> None:
    """Commit, and let the background flusher's pass after a commit (for maintenance) end:
    it would commit whatever is buffered by then."""
    client.flush()
    writer = client.store.writer
    # a flush's first commit wakes the flusher (maintenance, at most once a second): wait
    # until no wake-up is left over either, or its next pass would commit the test's
    # buffered rows
    wait_for(lambda: not writer._maintenance_due and not writer._wake.is_set())
    time.sleep(0.05)
    wait_for(lambda: not writer._maintenance_due and not writer._wake.is_set())


def test_writers_that_arrive_during_a_commit_share_the_next_one(
        client: lakeml.Client, store_uri: str, run_id: str) -> None:
    gate, committing = threading.Event(), threading.Event()

    def flush() -> None:
        committing.set()
        gate.wait()
        client.flush()

    commits = GroupCommit(flush)
    writers = Writers(client, commits, run_id)
    first = writers.start(range(1))
    committing.wait(30)  # commit 1 runs (held at the gate) ...
    later = writers.start(range(1, 11))  # ... while ten more requests buffer their rows
    wait_for(lambda: writers.buffered == 11)
    versions_before = DeltaTable(f"{store_uri}/tables/metrics").version()
    gate.set()
    for thread in first + later:
        thread.join(60)
    assert writers.errors == dict.fromkeys(range(11))
    assert commits.commits == 2  # eleven writes, two commits
    assert DeltaTable(f"{store_uri}/tables/metrics").version() == versions_before + 1
    assert sorted(r["step"] for r in metric_rows(store_uri, run_id)) == list(range(11))


def test_a_failed_commit_fails_every_request_that_waited_on_it(
        client: lakeml.Client, store_uri: str, run_id: str) -> None:
    gate, committing = threading.Event(), threading.Event()
    failures = [StoreUnavailable("the store went away")]

    def flush() -> None:  # commit 1 succeeds, commit 2 fails before writing, 3 succeeds
        committing.set()
        gate.wait()
        if commits.commits == 1 and failures:
            raise failures.pop()
        client.flush()

    commits = GroupCommit(flush)
    writers = Writers(client, commits, run_id)
    first = writers.start(range(1))
    committing.wait(30)
    later = writers.start(range(1, 6))
    wait_for(lambda: writers.buffered == 6)
    gate.set()
    for thread in first + later:
        thread.join(60)
    # commit 1 held every row, but the five later requests waited on commit 2, which
    # failed: they are told so (a retry of theirs is harmless, see test_durability)
    assert writers.errors[0] is None
    assert all(isinstance(writers.errors[s], StoreUnavailable) for s in range(1, 6))
    writers.write(6)  # the next request's commit succeeds
    assert writers.errors[6] is None and commits.commits == 3
    assert sorted(r["step"] for r in metric_rows(store_uri, run_id)) == list(range(7))


def test_a_rejected_row_fails_only_the_request_that_logged_it(
        client: lakeml.Client, store_uri: str, run_id: str) -> None:
    other_run = client.create_run(client.get_run(run_id).info.experiment_id).info.run_id
    settled(client)
    # another process commits param p of run_id first, with another value
    other = Store(store_uri).open()
    other.append("params", other.rows.params(run_id=run_id, key="p", value="9",
                                             timestamp=now_us()))
    other.close()

    commits = GroupCommit(client.flush)
    mark_a = commits.mark()
    client.log_param(run_id, "p", "1")  # this worker has not seen p=9
    ticket_a = commits.ticket()
    mark_b = commits.mark()
    client.log_metric(other_run, "m", 1.0, step=0, timestamp=1)
    ticket_b = commits.ticket()
    assert ticket_a == ticket_b  # one commit for both
    with pytest.raises(RowsRejected, match="'9'|p"):
        commits.wait(ticket_a, mark_a, {run_id})
    commits.wait(ticket_b, mark_b, {other_run})  # its row committed: no error
    assert commits.commits == 1
    assert [r["value"] for r in metric_rows(store_uri, other_run)] == [1.0]
    assert lakeml.Client(store_uri).get_run(run_id).data.params == {"p": "9"}


def test_request_keys_name_the_run_or_experiment_a_request_wrote() -> None:
    assert request_keys(Fields({"run_id": "r1", "key": "k"}), {}) == {"r1"}
    assert request_keys(Fields({"experiment_id": "7"}),
                        {"run": {"info": {"run_id": "r2"}}}) == {"7", "r2"}
    assert request_keys(Fields({"name": "e"}), {"experiment_id": "8"}) == {"8"}


def test_reads_in_a_server_worker_see_commits_only(tmp_path) -> None:
    """commits_of switches the store's reads to committed rows: a read neither commits nor
    shows rows that wait for their request's commit."""
    from lakeml.server.group_commit import commits_of

    client = lakeml.Client(str(tmp_path / "quiet"))
    run_id = client.create_run(client.create_experiment("q")).info.run_id
    settled(client)
    commits = commits_of(client)
    assert commits_of(client) is commits  # one per Client
    client.log_metric(run_id, "m", 1.0, step=0, timestamp=1)
    assert client.get_run(run_id).data.metrics == {}
    assert client.store.has_unflushed(["metrics"])  # the read committed nothing
    commits.wait(commits.ticket(), commits.mark(), {run_id})
    assert client.get_run(run_id).data.metrics == {"m": 1.0}
