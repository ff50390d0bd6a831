"""Monitoring benchmarks: the monitor over 10 M logged rows, and the cost of logging.

    python benchmarks/bench_monitor.py [--rows 10000000] [--features 20] [--requests 3000]

1. ``lakeml monitor run`` (DuckDB path) over an inference_log of ``--rows`` rows x
   ``--features`` features (three in four numeric, the rest categorical) in one window,
   against a 100 k-row training table; run as a child process, its wall time and peak
   RSS (ru_maxrss) printed. Issue 22's target: <= 30 s and <= 4 GiB.
2. The scoring server's latency for one-row requests over a keep-alive connection,
   without and with ``--log-inferences`` (p50, p99). Target: p50 up by <= 10 %.

Nothing here asserts a time: the figures are printed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_common import markdown  # noqa: E402

CHUNK = 1_000_000


def features(count: int) -> tuple[list[str], list[str]]:
    numeric = [f"f{i}" for i in range(count - count // 4)]
    return numeric, [f"c{i}" for i in range(count // 4)]


def frame(rows: int, numeric: list[str], categorical: list[str], *, seed: int,
          shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(shift if i == 0 else 0.0, 1.0, rows)
            for i, name in enumerate(numeric)}
    for name in categorical:
        data[name] = rng.choice(np.array(["a", "b", "c", "d"]), rows, p=[.4, .3, .2, .1])
    return pd.DataFrame(data)


def build(store: str, rows: int, count: int) -> None:
    """A registered model ``bench`` trained on a logged Delta table, and ``rows`` rows of
    its traffic in inference_log (one hour, feature f0 shifted by 0.5 sd)."""
    import pyarrow as pa
    from deltalake import write_deltalake
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    import lakeml
    import lakeml.data
    import lakeml.sklearn
    from lakeml.models.signature import infer_signature
    from lakeml.store import open_tables

    numeric, categorical = features(count)
    lakeml.set_store(store)
    train = frame(100_000, numeric, categorical, seed=1)
    train["y"] = train[numeric].sum(axis=1)
    write_deltalake(f"{store}/data/train", train)
    cols = numeric + categorical
    model = make_pipeline(ColumnTransformer([("n", "passthrough", numeric)]),
                          LinearRegression()).fit(train[cols], train.y)
    with lakeml.start_run():
        lakeml.log_input(lakeml.data.from_delta(f"{store}/data/train"), context="training")
        lakeml.sklearn.log_model(model, "model", registered_model_name="bench",
                                 signature=infer_signature(train[cols].head(100),
                                                           model.predict(train[cols].head(100))))
    lakeml.Client(store).set_registered_model_alias("bench", "prod", 1)
    lakeml.flush()
    hour = (int(time.time()) // 3600 - 1) * 3600 * 10**6  # the last full hour
    open_tables.ensure(store, open_tables.INFERENCE_LOG)
    for start in range(0, rows, CHUNK):
        n = min(CHUNK, rows - start)
        part = frame(n, numeric, categorical, seed=100 + start // CHUNK, shift=0.5)
        prediction = model.predict(part[cols])
        table = pa.table({
            "request_id": pa.array([f"r{start + i}" for i in range(n)]),
            "row": pa.array(np.zeros(n, dtype=np.int64)),
            "time": pa.array(hour + np.sort(np.random.default_rng(start).integers(
                0, 3600 * 10**6, n))).cast(pa.timestamp("us", tz="UTC")),
            "model_name": pa.array(["bench"] * n), "model_version": pa.array(np.ones(n, "int64")),
            "model_uuid": pa.array(["u"] * n), "model_uri": pa.array(["models:/bench/1"] * n),
            "source": pa.array(["serving"] * n), "latency_ms": pa.array(np.ones(n)),
            "status": pa.array(np.full(n, 200, dtype=np.int64)),
            "error": pa.nulls(n, pa.string()),
            **{f"input_{c}": pa.array(part[c].to_numpy()) for c in cols},
            "prediction": pa.array(prediction)})
        write_deltalake(open_tables.table_uri(store, open_tables.INFERENCE_LOG), table,
                        mode="append", schema_mode="merge")
    from lakeml.tracking import backend

    backend.close_all()  # the store's last writes now, not at exit (after the tempdir)


def monitor(store: str) -> dict[str, float]:
    """Wall time and peak RSS of ``lakeml monitor run`` over the whole log, a child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lakeml", "monitor", "run", "--store", store,
                           "-m", "models:/bench@prod", "--window", "1d"],
                          capture_output=True, text=True, cwd=str(ROOT),
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if done.returncode not in (0, 3):
        raise RuntimeError(f"monitor failed: {done.stderr}")
    print(done.stdout.strip().splitlines()[0], flush=True)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": after.ru_maxrss / 1024,
            "alerts": done.stdout.count("ALERT")}


def _start(store: str, log: bool) -> tuple[subprocess.Popen, int]:
    cmd = [sys.executable, "-m", "lakeml", "models", "serve", "-m", "models:/bench@prod",
           "--store", store, "--port", "0"] + (["--log-inferences"] if log else [])
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("the server did not start")
        found = re.search(r"on http://127\.0\.0\.1:(\d+)", line)
        if found:
            return proc, int(found.group(1))


def serve_latency(store: str, requests: int) -> dict[bool, dict[str, float]]:
    """p50/p99 of one-row requests to two servers, without and with logging, each on
    a keep-alive connection, requests alternating between them so that both see the
    same load from the rest of the machine."""
    servers = {log: _start(store, log) for log in (False, True)}
    try:
        numeric, categorical = features(20)
        row = frame(1, numeric, categorical, seed=3).to_dict(orient="records")
        body = json.dumps({"dataframe_records": row})
        conns = {log: http.client.HTTPConnection("127.0.0.1", port)
                 for log, (_, port) in servers.items()}
        times: dict[bool, list[float]] = {False: [], True: []}
        for i in range(requests + 200):  # the first 200 warm up
            for log in ((False, True) if i % 2 else (True, False)):
                t0 = time.perf_counter()
                conns[log].request("POST", "/invocations", body,
                                   {"Content-Type": "application/json"})
                resp = conns[log].getresponse()
                resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"status {resp.status}")
                if i >= 200:
                    times[log].append(time.perf_counter() - t0)
        for conn in conns.values():
            conn.close()
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=60)
    out = {}
    for log, values in times.items():
        ms = np.array(values) * 1000
        out[log] = {"p50_ms": float(np.percentile(ms, 50)),
                    "p99_ms": float(np.percentile(ms, 99))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2, help="serving rounds, alternating")
    parser.add_argument("--store", help="keep the built store here (reused when it exists)")
    parser.add_argument("--skip-serving", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as tmp:
        store = args.store or f"{tmp}/lake"
        if not os.path.isdir(f"{store}/tables/inference_log"):
            t0 = time.perf_counter()
            build(store, args.rows, args.features)
            print(f"built {args.rows:,} logged rows x {args.features} features in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        found = monitor(store)
        print(markdown(["rows", "features", "monitor wall (s)", "CPU (s, all threads)",
                        "peak RSS (MiB)", "alerts"],
                       [[f"{args.rows:,}", str(args.features), f"{found['wall_s']:.1f}",
                         f"{found['cpu_s']:.1f}", f"{found['peak_rss_mib']:.0f}",
                         str(found["alerts"])]]), flush=True)
        print(f"load average: {os.getloadavg()[0]:.1f}", flush=True)
        if args.skip_serving:
            return
        results: dict[bool, list[dict[str, float]]] = {False: [], True: []}
        for _ in range(args.rounds):
            for log, found_round in serve_latency(store, args.requests).items():
                results[log].append(found_round)
        table = []
        for log in (False, True):
            p50 = float(np.median([r["p50_ms"] for r in results[log]]))
            p99 = float(np.median([r["p99_ms"] for r in results[log]]))
            table.append(["on" if log else "off", f"{p50:.3f}", f"{p99:.3f}"])
        base, logged = float(table[0][1]), float(table[1][1])
        print(markdown(["inference logging", "p50 (ms)", "p99 (ms)"], table))
        print(f"p50 change with logging: {100 * (logged - base) / base:+.1f} %", flush=True)


if __name__ == "__main__":
    main()
