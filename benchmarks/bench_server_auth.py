"""What signing in costs on ``lakeml server``: the same calls anonymous, with HTTP Basic and
with a Bearer token, one keep-alive client, sequential (the per-request overhead, not
throughput under load), plus one scrypt password check.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_server_auth.py [--calls 300]

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_http import free_port  # noqa: E402


def start(base: Path, *options: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lakeml", "server", "--store",
                             str(base / "lake"), "--port", str(port), "--log-level", "warning",
                             *options], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("lakeml server did not start")


def measure(url: str, headers: dict[str, str], calls: int) -> dict[str, float]:
    api = f"{url}/api/2.0/mlflow"
    with httpx.Client(headers=headers, timeout=60) as http:
        exp = http.post(f"{api}/experiments/create",
                        json={"name": f"bench-{time.time_ns()}"}).json()["experiment_id"]
        run_id = http.post(f"{api}/runs/create",
                           json={"experiment_id": exp}).json()["run"]["info"]["run_id"]
        out = {}
        for name, send in (
                ("runs/get", lambda: http.get(f"{api}/runs/get", params={"run_id": run_id})),
                ("log-batch", lambda i: http.post(f"{api}/runs/log-batch", json={
                    "run_id": run_id, "metrics": [{"key": "m", "value": i, "timestamp": i,
                                                   "step": i}]}))):
            times = []
            for i in range(calls):
                t0 = time.perf_counter()
                response = send() if name == "runs/get" else send(i)
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200, response.text
            out[name] = statistics.median(times) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    from lakeml.server.users import AuthFile, verify_password

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        users = AuthFile(base / "auth.json")
        users.add_user("bench", "bench-password")
        users.set_default("EDIT")
        token = users.new_token("bench")
        t0 = time.perf_counter()
        verify_password("bench-password", users.stored_password("bench"))
        print(f"one scrypt password check: {(time.perf_counter() - t0) * 1000:.1f} ms "
              "(once per user and worker: verified credentials are remembered)")
        basic = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        rows = []
        for label, options, headers in (
                ("anonymous", (), {}),
                ("basic", ("--auth-file", str(users.path)), {"Authorization": basic}),
                ("bearer", ("--auth-file", str(users.path)),
                 {"Authorization": f"Bearer {token}"})):
            (base / label).mkdir()
            proc, url = start(base / label, *options)
            try:
                rows.append((label, measure(url, headers, args.calls)))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        print(f"{'mode':<10} {'runs/get p50 ms':>16} {'log-batch p50 ms':>17}  "
              f"({args.calls} sequential calls each, one keep-alive client)")
        for label, figures in rows:
            print(f"{label:<10} {figures['runs/get']:>16.2f} {figures['log-batch']:>17.2f}")


if __name__ == "__main__":
    main()
