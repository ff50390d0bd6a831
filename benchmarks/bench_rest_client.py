"""lakeml's REST client: log_metric end to end through a real ``lakeml server``.

Starts ``lakeml server`` on loopback over a fresh store, then, through
``lakeml.Client("http://127.0.0.1:PORT")``:

- ``log_metric`` cost: N points into the client's buffer (µs per call, no I/O);
- end to end: N points logged and then ``flush()``ed, so every point is committed to the
  server's Delta tables (``runs/log-batch`` requests of 1,000 metrics each, each answered
  after its commit): points/s from the first log call to the flush's return;
- the check: the server's SQL counts every point.

The lake client (a local store, the same N points, log then flush) is printed beside it.
Prints figures; asserts nothing about time.

    python benchmarks/bench_rest_client.py [--points 200000] [--runs 1]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_http import free_port, stop_server  # noqa: E402


def start_lakeml_server(store: str, port: int) -> subprocess.Popen[bytes]:
    import httpx

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LAKEML_STORE", None)
    proc = subprocess.Popen([sys.executable, "-m", "lakeml", "server", "--store", store,
                             "--port", str(port), "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lakeml server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("lakeml server did not answer in 120 s")


def log_points(client, run_ids: list[str], points: int) -> tuple[float, float]:
    """Log ``points`` metric points over ``run_ids``, then flush: (µs per log call, s in all)."""
    per_run = points // len(run_ids)
    log_metric = client.log_metric
    t0 = time.perf_counter()
    for run_id in run_ids:
        for step in range(per_run):
            log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
    logged = time.perf_counter()
    client.flush()
    done = time.perf_counter()
    return (logged - t0) / (per_run * len(run_ids)) * 1e6, done - t0


def measure(client, label: str, points: int, runs: int) -> dict[str, float]:
    exp = client.create_experiment(f"bench-{label}-{time.time_ns()}")
    warm = client.create_run(exp).info.run_id  # a first batch: connections, caches
    log_points(client, [warm], 2000)
    run_ids = [client.create_run(exp).info.run_id for _ in range(runs)]
    us_per_call, seconds = log_points(client, run_ids, points)
    counted = client.sql("SELECT count(*) FROM metrics WHERE run_id IN "
                         "(SELECT unnest(?::VARCHAR[]))", [run_ids]).fetchall()[0][0]
    logged = points // runs * runs
    if counted != logged:
        raise SystemExit(f"{label}: {counted} points stored, {logged} logged")
    return {"us_per_call": us_per_call, "seconds": seconds, "points_per_s": logged / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=1, help="runs the points are spread over")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-rest-")
    # removed after lakeml's own exit hooks (registered later, so run first) close the store
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    import lakeml

    port = free_port()
    server = start_lakeml_server(str(Path(tmp) / "served"), port)
    try:
        rest = measure(lakeml.Client(f"http://127.0.0.1:{port}"), "rest", args.points,
                       args.runs)
    finally:
        stop_server(server)
    lake = measure(lakeml.Client(str(Path(tmp) / "local")), "lake", args.points, args.runs)
    print(f"{args.points:,} metric points over {args.runs} run(s), log_metric then flush()")
    print(f"{'client':<26} {'log_metric µs/call':>19} {'end to end s':>13} {'points/s':>12}")
    for name, r in (("lakeml REST (lakeml server)", rest), ("lakeml lake (local store)", lake)):
        print(f"{name:<26} {r['us_per_call']:>19.2f} {r['seconds']:>13.3f} "
              f"{r['points_per_s']:>12,.0f}")


if __name__ == "__main__":
    main()
