"""HTTP load helpers shared by bench_models.py and mlflow_models_worker.py (stdlib only).

Both scoring servers are measured with this same client: one keep-alive
connection per client thread, a one-row JSON body, bounded request counts.
Only loopback addresses are ever contacted.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import threading
import time
from typing import Any, Callable

HOST = "127.0.0.1"


def free_port() -> int:
    """A port that was free on loopback a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(cmd: list[str], port: int, env: dict[str, str] | None = None,
                 timeout: float = 180.0) -> tuple[subprocess.Popen[bytes], float]:
    """Start a server and wait until GET /ping answers 200; (process, seconds to ready)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, time.perf_counter() - t0
            conn.close()
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server not ready after {timeout} s: {' '.join(cmd)}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _post(conn: http.client.HTTPConnection, body: bytes) -> None:
    conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"scoring failed with {resp.status}: {data[:300]!r}")


def latencies(port: int, body: bytes, requests: int, warmup: int = 50) -> dict[str, float]:
    """Sequential requests on one keep-alive connection: p50/p95/p99 in ms."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        for _ in range(warmup):
            _post(conn, body)
        times = []
        for _ in range(requests):
            t0 = time.perf_counter()
            _post(conn, body)
            times.append(time.perf_counter() - t0)
    finally:
        conn.close()
    times.sort()
    return {"requests": requests, "p50_ms": statistics.median(times) * 1e3,
            "p95_ms": times[int(0.95 * len(times))] * 1e3,
            "p99_ms": times[int(0.99 * len(times))] * 1e3}


def throughput(port: int, body: bytes, clients: int, per_client: int) -> dict[str, float]:
    """``clients`` threads, each sending ``per_client`` requests on its own connection."""
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            _post(conn, body)
            start.wait()
            for _ in range(per_client):
                _post(conn, body)
        except BaseException as exc:  # reported after the join
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed: {errors[0]}")
    total = clients * per_client
    return {"clients": clients, "requests": total, "req_per_s": total / elapsed}


def one_row_body(columns: list[str], row: list[Any]) -> bytes:
    """MLflow's dataframe_split body for one row."""
    return json.dumps({"dataframe_split": {"columns": columns, "data": [row]}}).encode()


def serve_figures(command: Callable[[int, int], list[str]], body: bytes,
                  sizes: dict[str, int], env: dict[str, str] | None = None) -> dict[str, float]:
    """Readiness, one-row latencies and 8-client throughput of the server ``command(port,
    workers)`` starts with one worker, and the throughput again with two workers."""
    port = free_port()
    proc, ready = start_server(command(port, 1), port, env=env)
    try:
        out = {"ready_s": ready, **latencies(port, body, sizes["latency_requests"]),
               **{f"tp_{k}": v for k, v in throughput(
                   port, body, sizes["clients"], sizes["per_client"]).items()}}
    finally:
        stop_server(proc)
    port = free_port()
    proc, _ = start_server(command(port, 2), port, env=env)
    try:
        out["tp2_req_per_s"] = throughput(
            port, body, sizes["clients"], sizes["per_client"])["req_per_s"]
    finally:
        stop_server(proc)
    return out
