"""Scoring server memory: the RSS of a real `lakeml models serve` process under large bodies.

A scikit-learn LinearRegression on 10 float columns (with a signature, as
log_model with an input example gives) is served on a free loopback port.
One scenario per fresh server process:

- ``one``: one JSON ``dataframe_split`` (or ``--layout records``) request of
  ``--mb`` MB (44 by default);
- ``three``: three such requests sent at the same moment on three connections.

For each it prints the server's RSS once ready, its peak RSS (the kernel's
VmHWM, exact), the statuses answered and the seconds until the last answer.
Extra arguments after ``--`` go to ``lakeml models serve`` (e.g. the limits
``--max-body-mb`` or ``--max-inflight-mb``). Run it on the code before a
change with PYTHONPATH pointing at that tree. Only 127.0.0.1 is contacted;
every request count is fixed. It reports and never asserts.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_scoring_memory.py [--mb 44] [-- ...]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_http import HOST, free_port, start_server, stop_server  # noqa: E402

COLUMNS = [f"f{i}" for i in range(10)]


def make_model(folder: str) -> str:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    import lakeml.sklearn

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.random((200, len(COLUMNS))), columns=COLUMNS)
    y = X.sum(axis=1)
    path = os.path.join(folder, "model")
    lakeml.sklearn.save_model(LinearRegression().fit(X, y), path, input_example=X.head(3))
    return path


def make_body(megabytes: float, layout: str, digits: int | None) -> tuple[bytes, int]:
    """A ``dataframe_split`` or ``dataframe_records`` body of ~``megabytes`` MB, and its rows.

    Values are floats in [0, 1), with ``digits`` decimals (all of them if None).
    """
    import numpy as np

    value_bytes = 20.5 if digits is None else digits + 4  # "0.", the digits, ", "
    row_bytes = len(COLUMNS) * (value_bytes + (0 if layout == "split" else 6.5))
    rows = int(megabytes * 1e6 / row_bytes)
    values = np.random.default_rng(1).random((rows, len(COLUMNS)))
    if digits is not None:  # none ending in 0 (a shorter text)
        values = np.round(np.clip(values, 0.1, 0.9), digits)
    data = values.tolist()
    if layout == "split":
        doc: dict[str, Any] = {"dataframe_split": {"columns": COLUMNS, "data": data}}
    else:
        doc = {"dataframe_records": [dict(zip(COLUMNS, row)) for row in data]}
    return json.dumps(doc).encode(), rows


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid`` in MB."""
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line[:5]] = int(line.split()[1]) / 1024
    return out


def post(port: int, body: bytes, results: list[Any], timeout: float) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", "/invocations", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        code = ""
        if resp.status != 200:
            try:
                code = json.loads(raw).get("error_code", "")
            except ValueError:
                code = raw[:60].decode(errors="replace")
        results.append((resp.status, code))
    except OSError as exc:  # a refused body may be cut off mid-send
        results.append((0, type(exc).__name__))
    finally:
        conn.close()


def scenario(model: str, body: bytes, clients: int, extra: list[str],
             timeout: float) -> dict[str, Any]:
    port = free_port()
    cmd = [sys.executable, "-m", "lakeml", "models", "serve", "-m", model, "--port",
           str(port), *extra]
    proc, _ = start_server(cmd, port)
    try:
        time.sleep(0.5)
        ready = memory_mb(proc.pid)["VmRSS"]
        results: list[Any] = []
        threads = [threading.Thread(target=post, args=(port, body, results, timeout))
                   for _ in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
        mem = memory_mb(proc.pid)
    finally:
        stop_server(proc)
    return {"ready_mb": ready, "peak_mb": mem["VmHWM"], "after_mb": mem["VmRSS"],
            "statuses": sorted(results), "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=44.0, help="body size in MB (default 44)")
    parser.add_argument("--layout", choices=("split", "records"), default="split",
                        help="dataframe_split (default) or dataframe_records")
    parser.add_argument("--digits", type=int, help="decimals of each value (default: all; "
                        "short numbers cost more memory per byte of JSON)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    args = parser.parse_args(own)
    folder = tempfile.mkdtemp(prefix="lakeml-bench-scoring-")
    try:
        model = make_model(folder)
        body, rows = make_body(args.mb, args.layout, args.digits)
        print(f"body: {len(body) / 1e6:.1f} MB JSON dataframe_{args.layout}, {rows:,} rows x "
              f"{len(COLUMNS)} float columns ({args.digits or 'all'} decimals); server options: "
              f"{extra or '(defaults)'}")
        print(f"{'scenario':<22} {'RSS ready':>10} {'peak RSS':>10} {'RSS after':>10} "
              f"{'seconds':>8}  statuses")
        for name, clients in (("one request", 1), ("three at once", 3)):
            r = scenario(model, body, clients, extra, args.timeout)
            print(f"{name:<22} {r['ready_mb']:>7.0f} MB {r['peak_mb']:>7.0f} MB "
                  f"{r['after_mb']:>7.0f} MB {r['seconds']:>8.1f}  {r['statuses']}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
