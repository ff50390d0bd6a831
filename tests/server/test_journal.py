"""The server's write-ahead journal (lakeml/server/journal*.py), over real processes.

A journaled write is answered once fsync'd in the journal; these tests hold that promise
against ``kill -9`` of the workers before the Delta commit and of the committer in the
middle of one, and check that the other promises still hold: a read on any worker sees
every acknowledged write, a param conflict between workers is refused before it is
acknowledged, and the journal is emptied once committed.

To keep acknowledged rows out of Delta on purpose, the test takes the committer lock
(``<journal>/committer.lock``) itself, as another committer would: the workers then
journal and acknowledge, and none of them commits until the test lets it go.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Iterator

import psutil
import pytest
from deltalake import DeltaTable

from lakeml.server.journal import Journal
from tests.server.conftest import ROOT, Server, start_server
from tests.server.test_worker_caches import Worker, one_per_worker

PARAMS, METRICS = 3, 4


@contextlib.contextmanager
def committer_lock(journal: Path) -> Iterator[None]:
    """Hold the journal's committer lock (waiting for the server's committer to let it go,
    which it does once idle): no worker commits meanwhile."""
    journal.mkdir(parents=True, exist_ok=True)
    fd = os.open(journal / "committer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class Connection(Worker):
    """A kept-alive connection to a one-process server (no worker process to find)."""

    def __init__(self, server: Server) -> None:
        import http.client

        self.conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
        self.conn.connect()
        self.pid = 0


def rows(store: str, table: str) -> list[dict]:
    return DeltaTable(f"{store}/tables/{table}").to_pyarrow_table().to_pylist()


def txn_version(store: str, table: str, app_id: str) -> int:
    """The journal offset up to which ``table``'s records landed (batch numbers are
    ``offset << ROUND_BITS``)."""
    from lakeml.server.journal_commit import landed_through

    return landed_through(DeltaTable(f"{store}/tables/{table}").transaction_version(app_id)
                          or 0)


def kill_server(server: Server) -> None:
    """SIGKILL the server's processes: the one listening and its workers."""
    port = server.url.rsplit(":", 1)[1]
    for proc in psutil.Process().children(recursive=True):
        try:
            cmdline = proc.cmdline()
        except psutil.Error:
            continue
        if "server" in cmdline and port in cmdline:
            for child in [*proc.children(recursive=True), proc]:
                with contextlib.suppress(psutil.Error):
                    child.send_signal(signal.SIGKILL)
            return
    raise AssertionError(f"no server on port {port}")


def log_runs(workers: list[Worker], eid: str, count: int) -> dict[str, int]:
    """``count`` runs made and logged to in turn through ``workers``: run id -> the steps
    of metric points acknowledged."""
    acked = {}
    for i in range(count):
        worker = workers[i % len(workers)]
        run_id = worker.ok("POST", "runs/create", {"experiment_id": eid})["run"]["info"][
            "run_id"]
        for step in range(2):
            worker.ok("POST", "runs/log-batch", {
                "run_id": run_id,
                "params": [{"key": f"p{k}", "value": f"v{k}"} for k in range(PARAMS)]
                if step == 0 else [],
                "metrics": [{"key": f"m{k}", "value": k + step, "step": step,
                             "timestamp": 1_700_000_000_000 + step} for k in range(METRICS)]})
        worker.ok("POST", "runs/update", {"run_id": run_id, "status": "FINISHED",
                                          "end_time": 1_700_000_000_999})
        acked[run_id] = 2
    return acked


def assert_exactly_once(store: str, acked: dict[str, int]) -> None:
    """Every acknowledged row is in Delta, and none twice."""
    metrics = Counter((r["run_id"], r["key"], r["step"]) for r in rows(store, "metrics"))
    latest = Counter((r["run_id"], r["key"]) for r in rows(store, "metric_latest"))
    params = Counter((r["run_id"], r["key"]) for r in rows(store, "params"))
    runs = Counter(r["run_id"] for r in rows(store, "runs"))
    for run_id, steps in acked.items():
        for k in range(METRICS):
            for step in range(steps):
                assert metrics[(run_id, f"m{k}", step)] == 1, (run_id, k, step)
            # the latest point per key of each committed batch: these tests commit every
            # record in one batch, so one (two if a batch were derived twice)
            assert latest[(run_id, f"m{k}")] == 1, (run_id, k)
        for k in range(PARAMS):
            assert params[(run_id, f"p{k}")] == 1, (run_id, k)
        assert runs[run_id] == 2, run_id  # created, then ended


def journal_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.seg"))


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_of_the_workers_after_acks_before_the_commit_loses_nothing(
        tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with start_server(tmp_path, "--workers", "2", "--journal", str(journal)) as server:
        a, b = one_per_worker(server)
        eid = a.ok("POST", "experiments/create", {"name": "kill-before-commit"})[
            "experiment_id"]
        with committer_lock(journal):
            acked = log_runs([a, b], eid, 6)
            # acknowledged, and not in Delta: only the journal holds them
            assert not {r["run_id"] for r in rows(server.store, "runs")} & acked.keys()
            assert journal_size(journal) > 0
            kill_server(server)
            a.conn.close()
            b.conn.close()
    with start_server(tmp_path, "--workers", "2", "--journal", str(journal)) as server:
        # the new server commits the journal first; a read waits for it
        worker = Worker(server)
        found = worker.ok("POST", "runs/search", {"experiment_ids": [eid],
                                                  "max_results": 100})["runs"]
        worker.conn.close()
        assert {r["info"]["run_id"] for r in found} == acked.keys()
        for run in found:
            assert run["info"]["status"] == "FINISHED"
            assert len(run["data"]["params"]) == PARAMS
            assert len(run["data"]["metrics"]) == METRICS
        assert_exactly_once(server.store, acked)
        # committed, so the journal is emptied (rotated to a new, empty segment)
        wait_until(lambda: journal_size(journal) == 0 and len(list(journal.glob("*.seg"))) == 1,
                   "the journal was not truncated after its commit")


@pytest.mark.slow
def test_kill_9_of_the_committer_mid_commit_adds_nothing_twice(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with start_server(tmp_path, "--journal", str(journal)) as server:
        worker = Connection(server)
        eid = worker.ok("POST", "experiments/create", {"name": "kill-mid-commit"})[
            "experiment_id"]
        with committer_lock(journal):
            acked = log_runs([worker], eid, 5)
            kill_server(server)
            worker.conn.close()
    store = server.store
    ident = Journal(journal, _store_uri(journal)).app_id
    # a committer that dies (kill -9) right after its commit to metrics has landed:
    # runs and metrics are committed, metric_latest (the last wave) is not
    crash = subprocess.run(
        [sys.executable, "-m", "tests.server.journal_crash", store, str(journal), "metrics"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300,
        capture_output=True, text=True)
    assert crash.returncode == -signal.SIGKILL, crash.stderr
    end = Journal(journal, _store_uri(journal)).end()
    assert txn_version(store, "metrics", ident) == end
    assert txn_version(store, "runs", ident) == end
    assert txn_version(store, "metric_latest", ident) == 0
    assert Journal(journal, _store_uri(journal)).watermark() == 0  # not moved
    with start_server(tmp_path, "--journal", str(journal)) as server:
        worker = Connection(server)
        found = worker.ok("POST", "runs/search", {"experiment_ids": [eid],
                                                  "max_results": 100})["runs"]
        worker.conn.close()
        assert {r["info"]["run_id"] for r in found} == acked.keys()
        assert_exactly_once(server.store, acked)
        # metric_latest's rows were derived again, in a batch numbered as a round ending
        # one byte past its source's (journal_commit.Committer._queue)
        expected = {"metric_latest": end + 1}
        for table in ("metrics", "metric_latest", "params", "runs"):
            assert txn_version(store, table, ident) == expected.get(table, end), table


def _store_uri(journal: Path) -> str:
    return (journal / "store").read_text()


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("journal-two")
    # no compaction: it rewrites runs rows into new files, which makes a worker read the
    # run again (run_freshness.py), and that read waits for the committer the param test
    # holds off
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAKEML_AUTO_MAINTENANCE", "false")
        with start_server(base, "--workers", "2", "--journal", str(base / "journal")) as server:
            patch.undo()  # (read by the server's processes only)
            a, b = one_per_worker(server)
            yield server, base / "journal", a, b
            a.conn.close()
            b.conn.close()


@pytest.mark.slow
def test_a_read_on_one_worker_sees_a_write_the_other_acknowledged(two) -> None:
    server, _, a, b = two
    assert a.pid != b.pid
    eid = a.ok("POST", "experiments/create", {"name": "read-your-acks"})["experiment_id"]
    for i in range(8):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        run_id = first.ok("POST", "runs/create", {"experiment_id": eid})["run"]["info"][
            "run_id"]
        first.ok("POST", "runs/log-batch", {
            "run_id": run_id, "params": [{"key": "p", "value": str(i)}],
            "metrics": [{"key": "m", "value": i, "step": 0, "timestamp": 1000}]})
        run = second.ok("GET", f"runs/get?run_id={run_id}")["run"]
        assert run["data"]["params"] == [{"key": "p", "value": str(i)}], run
        assert [m["value"] for m in run["data"]["metrics"]] == [i], run
        # the other worker also validates against it: logs to the run, ends it
        second.ok("POST", "runs/log-metric", {"run_id": run_id, "key": "m", "value": -i,
                                              "step": 1, "timestamp": 2000})
        second.ok("POST", "runs/update", {"run_id": run_id, "status": "FINISHED"})
        history = first.ok("GET", f"metrics/get-history?run_id={run_id}&metric_key=m")
        assert sorted(m["step"] for m in history["metrics"]) == [0, 1]
        assert first.ok("GET", f"runs/get?run_id={run_id}")["run"]["info"]["status"] == \
            "FINISHED"


@pytest.mark.slow
def test_a_param_conflict_between_workers_is_refused_before_the_ack(two) -> None:
    server, journal, a, b = two
    eid = a.ok("POST", "experiments/create", {"name": "param-race"})["experiment_id"]
    run_id = a.ok("POST", "runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
    # both workers know the run (b reads it: a's create is committed first)
    b.ok("POST", "runs/set-tag", {"run_id": run_id, "key": "seen", "value": "by b"})
    with committer_lock(journal):  # nothing reaches Delta: the check is the journal's
        a.ok("POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
        status, out = b.call("POST", "runs/log-parameter",
                             {"run_id": run_id, "key": "lr", "value": "0.2"})
        assert status == 400, out
        assert out["error_code"] == "INVALID_PARAMETER_VALUE", out
        assert "'0.1'" in out["message"], out
        b.ok("POST", "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
        status, out = a.call("POST", "runs/log-batch", {"run_id": run_id, "params": [
            {"key": "lr", "value": "0.3"}, {"key": "other", "value": "x"}]})
        assert status == 400, out  # the whole request: its other param is not logged
        assert not {r["run_id"] for r in rows(server.store, "params")} & {run_id}
    run = b.ok("GET", f"runs/get?run_id={run_id}")["run"]
    assert run["data"]["params"] == [{"key": "lr", "value": "0.1"}], run
    assert [r["value"] for r in rows(server.store, "params") if r["run_id"] == run_id] == \
        ["0.1"]
    assert "ACKNOWLEDGED rows were rejected" not in server.log.read_text()


@pytest.mark.slow
def test_a_write_that_would_wait_leaves_the_event_loop_free(two) -> None:
    """Worker b knows a run; a changes it in the journal, not yet committed. b's next
    write to it must read the run again, which waits for the committer: it waits in a
    thread (holding b's handler lock, as any write reading a run does), not on b's event
    loop, which meanwhile still answers b's other connections."""
    from tests.server.test_worker_caches import Worker

    server, journal, a, b = two
    eid = a.ok("POST", "experiments/create", {"name": "loop-free"})["experiment_id"]
    run_id = a.ok("POST", "runs/create", {"experiment_id": eid})["run"]["info"]["run_id"]
    b.ok("POST", "runs/set-tag", {"run_id": run_id, "key": "seen", "value": "by b"})
    other = Worker(server)
    while other.pid != b.pid:  # another connection to b's worker
        other.conn.close()
        other = Worker(server)
    answers: dict[str, tuple[int, object]] = {}

    def health() -> None:
        other.conn.request("GET", "/health")
        response = other.conn.getresponse()
        answers["health"] = (response.status, response.read())

    with committer_lock(journal):  # a's change stays in the journal
        a.ok("POST", "runs/update", {"run_id": run_id, "status": "FINISHED"})
        waiting = threading.Thread(target=lambda: answers.__setitem__("log", b.call(
            "POST", "runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0,
                                        "step": 0, "timestamp": 1000})), daemon=True)
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive()  # b reads the run only once a's change is committed
        free = threading.Thread(target=health, daemon=True)
        free.start()
        free.join(timeout=20)
        assert not free.is_alive() and waiting.is_alive()
        assert answers["health"][0] == 200, answers["health"]
    waiting.join(timeout=60)
    assert answers["log"][0] == 200, answers["log"]
    run = b.ok("GET", f"runs/get?run_id={run_id}")["run"]
    assert run["info"]["status"] == "FINISHED" and run["data"]["metrics"][0]["value"] == 1.0
    other.conn.close()
