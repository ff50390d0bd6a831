"""``lakeml server --workers 2``: a worker's cached run and experiment states never let it
accept a write after another worker acknowledged a delete or an end
(lakeml/tracking/run_freshness.py).

Each request goes over a kept-alive connection whose worker process is known (the test
finds which worker holds the connection's socket), so the delete and the write that
follows it reach different workers, on purpose, each time.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import psutil
import pytest

from tests.server.conftest import Server, start_server


class Worker:
    """One kept-alive connection, and the pid of the worker process serving it."""

    def __init__(self, server: Server) -> None:
        self.conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
        self.conn.connect()
        port = self.conn.sock.getsockname()[1]
        self.pid = _owner(server, port)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        raw = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if raw is not None else {}
        self.conn.request(method, f"/api/2.0/mlflow/{path}", body=raw, headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def ok(self, method: str, path: str, body: dict | None = None) -> dict:
        status, out = self.call(method, path, body)
        assert status == 200, (self.pid, path, out)
        return out


def _owner(server: Server, client_port: int) -> int:
    """The pid of the server worker whose socket is connected to ``client_port``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for proc in _workers(server):
            try:
                if any(c.raddr and c.raddr.port == client_port
                       for c in proc.net_connections(kind="tcp")):
                    return proc.pid
            except psutil.Error:
                continue
        time.sleep(0.05)  # not accepted yet
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def _workers(server: Server) -> list[psutil.Process]:
    port = int(server.url.rsplit(":", 1)[1])
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if "lakeml" in cmdline and "--port" in cmdline and str(port) in cmdline:
                found += proc.children(recursive=True)
        except psutil.Error:
            continue
    return found


def one_per_worker(server: Server) -> tuple[Worker, Worker]:
    """Two connections served by two different workers (new ones until the kernel gives
    the second worker one)."""
    first = Worker(server)
    for _ in range(60):
        other = Worker(server)
        if other.pid != first.pid:
            return first, other
        other.conn.close()
    raise AssertionError("60 connections in a row reached one worker")


def refused(worker: Worker, path: str, body: dict[str, Any]) -> dict:
    status, out = worker.call("POST", path, body)
    assert 400 <= status < 600 and status != 503, (worker.pid, path, status, out)
    assert set(out) == {"error_code", "message"}, out
    return out


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory):
    with start_server(tmp_path_factory.mktemp("caches"), "--workers", "2") as server:
        a, b = one_per_worker(server)
        yield a, b
        a.conn.close()
        b.conn.close()


def point(run_id: str, i: int) -> dict:
    return {"run_id": run_id, "key": "m", "value": i, "timestamp": 1000 + i, "step": i}


@pytest.mark.slow
def test_no_worker_logs_to_a_run_another_deleted(two: tuple[Worker, Worker]
                                                         ) -> None:
    a, b = two
    assert a.pid != b.pid
    eid = a.ok("POST", "experiments/create", {"name": "caches"})["experiment_id"]
    for i in range(16):  # alternate which worker changes the run and which then logs
        first, second = (a, b) if i % 2 == 0 else (b, a)
        run_id = first.ok("POST", "runs/create", {"experiment_id": eid})["run"]["info"][
            "run_id"]
        for worker in (first, second):  # both workers now hold the run as RUNNING, active
            worker.ok("POST", "runs/log-metric", point(run_id, 0))
            worker.ok("POST", "runs/log-parameter", {"run_id": run_id, "key": f"p{worker.pid}",
                                                     "value": "1"})
        if i % 4 < 2:
            first.ok("POST", "runs/delete", {"run_id": run_id})
            out = refused(second, "runs/log-metric", point(run_id, 1))
            assert "deleted" in out["message"], out
            refused(second, "runs/log-batch", {"run_id": run_id, "params": [
                {"key": "late", "value": "x"}]})
            refused(second, "runs/set-tag", {"run_id": run_id, "key": "t", "value": "v"})
            first.ok("POST", "runs/restore", {"run_id": run_id})  # and back: taken again
            second.ok("POST", "runs/log-metric", point(run_id, 2))
        else:  # an ended run takes log calls (MLflow's rule) and stays ended
            first.ok("POST", "runs/update", {"run_id": run_id, "status": "FINISHED",
                                            "end_time": 1_700_000_000_000})
            second.ok("POST", "runs/log-metric", point(run_id, 1))
            got = first.ok("GET", f"runs/get?run_id={run_id}")["run"]["info"]["status"]
            assert got == "FINISHED", (i, got)
        history = a.ok("GET", f"metrics/get-history?run_id={run_id}&metric_key=m")
        steps = sorted(m["step"] for m in history["metrics"])
        assert steps == ([0, 2] if i % 4 < 2 else [0, 1]), (i, steps)


@pytest.mark.slow
def test_no_worker_creates_a_run_in_an_experiment_another_deleted(
        two: tuple[Worker, Worker]) -> None:
    a, b = two
    for i in range(6):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        eid = first.ok("POST", "experiments/create", {"name": f"gone-{i}"})["experiment_id"]
        for worker in (first, second):  # both workers have read the experiment
            worker.ok("POST", "runs/create", {"experiment_id": eid})
        first.ok("POST", "experiments/delete", {"experiment_id": eid})
        out = refused(second, "runs/create", {"experiment_id": eid})
        assert "deleted" in out["message"], out
        found = first.ok("POST", "runs/search", {"experiment_ids": [eid],
                                                 "run_view_type": "ALL"})
        assert len(found["runs"]) == 2
