"""Acknowledged means durable, over real processes: racing clients through two workers,
a worker killed with SIGKILL under load, and client retries that add nothing twice."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import httpx
import psutil
import pytest
from deltalake import DeltaTable

import lakeml
from lakeml.server.journal_writes import journal_folder
from tests.server import load_clients
from tests.server.conftest import Server, start_server


def experiment(server: Server, name: str) -> str:
    response = httpx.post(f"{server.api}/experiments/create", json={"name": name}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["experiment_id"]


def worker_pids(server: Server) -> list[int]:
    """The uvicorn worker processes of ``server`` (children of the process that listens
    on its port, which is a child of this test)."""
    port = str(urlparse(server.url).port)
    for proc in psutil.Process().children(recursive=True):
        cmdline = proc.cmdline()
        if "server" in cmdline and port in cmdline:
            return [child.pid for child in proc.children()
                    if "resource_tracker" not in " ".join(child.cmdline())]
    raise AssertionError(f"no lakeml server process on port {port}")


@pytest.mark.slow
def test_racing_clients_through_two_workers_lose_nothing(tmp_path: Path) -> None:
    with start_server(tmp_path, "--workers", "2") as server:
        eid = experiment(server, "race")
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(8, mp_context=context) as pool:
            futures = [pool.submit(load_clients.make_runs, server.api, eid, 25)
                       for _ in range(8)]
            made = [run_id for future in futures for run_id in future.result(timeout=600)]
        assert len(made) == len(set(made)) == 200
        runs = lakeml.Client(server.store).search_runs([eid], max_results=1000)
        assert sorted(run.info.run_id for run in runs) == sorted(made)
        params = {f"p{i}": f"v{i}" for i in range(load_clients.PARAMS)}
        metrics = {f"m{i}": float(i) for i in range(load_clients.METRICS)}
        for run in runs:
            assert run.info.status == "FINISHED", run.info
            assert run.data.params == params, run.info.run_id
            assert run.data.metrics == metrics, run.info.run_id
            assert run.data.tags["client"] == "load"
        # the server answered through both workers, with commits shared between requests
        commits = DeltaTable(f"{server.store}/tables/metrics").version()
        assert commits < 200, commits


@pytest.mark.slow
def test_kill_9_of_a_worker_under_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    with start_server(tmp_path, "--workers", "2") as server:
        eid = experiment(server, "kill")
        workers = worker_pids(server)
        assert len(workers) == 2, workers
        stop = tmp_path / "stop"
        acks = [tmp_path / f"acks-{i}" for i in range(4)]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(4, mp_context=context) as pool:
            futures = [pool.submit(load_clients.log_until_stopped, server.api, eid, str(a),
                                   str(stop)) for a in acks]

            def acknowledged() -> int:
                return sum(len(a.read_text().splitlines()) for a in acks if a.exists())

            _wait(lambda: acknowledged() >= 100, futures)
            os.kill(workers[0], signal.SIGKILL)  # mid-load: requests in flight die with it
            killed_at = acknowledged()
            _wait(lambda: acknowledged() >= killed_at + 100, futures)  # load goes on
            stop.touch()
            written = sum(future.result(timeout=300) for future in futures)
        lines = [line.split() for a in acks for line in a.read_text().splitlines()]
        assert written == sum(parts[0] == "step" for parts in lines) > 100
        run_ids = {parts[1] for parts in lines if parts[0] == "run"}
        steps: dict[str, set[int]] = {}
        for parts in lines:
            if parts[0] == "step":
                steps.setdefault(parts[1], set()).add(int(parts[2]))
        client = lakeml.Client(server.store)
        stored = {run.info.run_id: run for run in
                  client.search_runs([eid], max_results=50_000)}
        assert run_ids <= stored.keys(), run_ids - stored.keys()
        for run_id, acked in steps.items():
            history = client.get_metric_history(run_id, "m0")
            got = [m.step for m in history]
            assert acked <= set(got), (run_id, acked, got)
            assert len(got) == len(set(got)), (run_id, got)  # a retried batch counted once
            if 0 in acked:
                assert stored[run_id].data.params == {
                    f"p{i}": f"v{i}" for i in range(load_clients.PARAMS)}


def _wait(condition, futures, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        for future in futures:
            if future.done():
                future.result()  # a client that failed says why
        assert time.monotonic() < deadline, "the load did not progress"
        time.sleep(0.1)


# ---- retries ------------------------------------------------------------------------------
def _history(server: Server, run_id: str, key: str) -> list[tuple[int, int, float]]:
    response = httpx.get(f"{server.api}/metrics/get-history",
                         params={"run_id": run_id, "metric_key": key}, timeout=60)
    assert response.status_code == 200, response.text
    return [(m["step"], m["timestamp"], m["value"]) for m in response.json()["metrics"]]


def _new_run(server: Server) -> str:
    eid = experiment(server, f"retry-{time.monotonic_ns()}")
    response = httpx.post(f"{server.api}/runs/create", json={"experiment_id": eid}, timeout=60)
    return response.json()["run"]["info"]["run_id"]


def test_the_same_log_batch_twice_adds_nothing_twice(server: Server) -> None:
    run_id = _new_run(server)
    body = load_clients.batch(run_id, 0)
    for _ in range(2):
        response = httpx.post(f"{server.api}/runs/log-batch", json=body, timeout=60)
        assert response.status_code == 200, response.text
    for i in range(load_clients.METRICS):
        assert _history(server, run_id, f"m{i}") == [(0, 1_700_000_000_000, float(i))]
    run = httpx.get(f"{server.api}/runs/get", params={"run_id": run_id}, timeout=60).json()
    data = run["run"]["data"]
    assert sorted((p["key"], p["value"]) for p in data["params"]) == [
        (f"p{i}", f"v{i}") for i in range(load_clients.PARAMS)]
    assert [t for t in data["tags"] if t["key"] == "client"] == [
        {"key": "client", "value": "load"}]
    assert len(data["metrics"]) == load_clients.METRICS


def test_a_retry_after_a_lost_response_adds_nothing_twice(server: Server) -> None:
    """The first attempt's connection is dropped before its answer (the client cannot
    know whether it landed); the retry gets 200, and each point is there once."""
    run_id = _new_run(server)
    body = httpx.Request("POST", f"{server.api}/runs/log-batch",
                         json=load_clients.batch(run_id, 3))
    url = urlparse(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        head = (f"POST {body.url.raw_path.decode()} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body.content)}"
                f"\r\nConnection: close\r\n\r\n").encode()
        sock.sendall(head + body.content)
    # the dropped request lands in the table (the server finishes what it read) ...
    table = f"{server.store}/tables/metrics"
    deadline = time.monotonic() + 60
    while not [r for r in DeltaTable(table).to_pyarrow_table().to_pylist()
               if r["run_id"] == run_id]:
        assert time.monotonic() < deadline, "the dropped request never landed"
        time.sleep(0.05)
    response = httpx.post(f"{server.api}/runs/log-batch", json=load_clients.batch(run_id, 3),
                          timeout=60)
    assert response.status_code == 200, response.text
    # ... the retry lands again (in Delta when answered; with the journal, once it is
    # committed: a reader outside the server sees it a moment after the answer), and
    # every read shows each point once
    def raw() -> list[dict]:
        return [r for r in DeltaTable(table).to_pyarrow_table().to_pylist()
                if r["run_id"] == run_id and r["key"] == "m0"]

    if journal_folder(server.store) is not None:  # journaled: committed a moment later
        deadline = time.monotonic() + 60
        while len(raw()) < 2:
            assert time.monotonic() < deadline, raw()
            time.sleep(0.05)
    assert len(raw()) == 2  # without the journal: in Delta when the request is answered
    assert _history(server, run_id, "m0") == [(3, 1_700_000_000_003, 30.0)]
    found = httpx.post(f"{server.api}/runs/search", json={
        "experiment_ids": [_experiment_of(server, run_id)], "filter": "metrics.m0 = 30"},
        timeout=60).json()["runs"]
    assert [r["info"]["run_id"] for r in found] == [run_id]


def _experiment_of(server: Server, run_id: str) -> str:
    run = httpx.get(f"{server.api}/runs/get", params={"run_id": run_id}, timeout=60).json()
    return run["run"]["info"]["experiment_id"]
