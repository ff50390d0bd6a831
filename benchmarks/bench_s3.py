"""lakeml on S3 (moto's server on loopback): logging, cold and warm reads, requests.

Starts ``moto_server``, then in one process logs N runs (create_run + log_batch of 10
params and 10 metrics + set_terminated, one flush at the end), and in fresh processes
times the leaderboard (read from the run state, query/state_board.py):

- the first reader ever: an empty file cache and no snapshot anywhere, so it fetches
  every data file of the run tables and folds them; it then saves its state as the run
  snapshot, locally and published under ``<store>/state/`` (before it exits);
- a new machine: an empty file cache, but the published snapshot (fetched: one object);
- this machine again: the file cache and the snapshot filled;
- warm: the second and third calls in that process (another metric each), outside and
  inside the freshness window (``LAKEML_REMOTE_FRESHNESS``: outside it, one listing of
  each run table's log tail tells that nothing moved).

A new process's time is its ``Client()`` (opening the store) and its first call. The
requests each step sent are counted from moto's request log. The children run with
bytecode caching on (PYTHONDONTWRITEBYTECODE unset), as an installed lakeml does.

Targets (issue 20): 100,000-run leaderboard cold <= 3 s, warm <= 0.1 s; log 10,000
runs <= 30 s from one process.

    .venv/bin/python benchmarks/bench_s3.py [--runs 10000] [--board-runs 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.object_store import fresh_prefix, moto_server, s3_environment  # noqa: E402

LOG = r"""
import json, sys, time, lakeml
store, runs = sys.argv[1], int(sys.argv[2])
client = lakeml.Client(store)
exp = client.create_experiment("bench")
start = time.perf_counter()
for i in range(runs):
    run_id = client.create_run(exp).info.run_id
    client.log_batch(run_id, metrics={f"m{k}": (i * 7 + k) % 1000 / 1000 for k in range(10)},
                     params={f"p{k}": str(i % (k + 2)) for k in range(10)})
    client.set_terminated(run_id)
client.flush()
print(json.dumps({"experiment_id": exp, "seconds": time.perf_counter() - start}))
"""

BULK = r"""
import json, sys, time, lakeml, numpy as np, pandas as pd
store, runs = sys.argv[1], int(sys.argv[2])
client = lakeml.Client(store)
exp = client.create_experiment("board")
rng = np.random.default_rng(0)
frame = pd.DataFrame({**{f"params.p{k}": rng.integers(0, 5, runs).astype(str) for k in range(10)},
                      **{f"metrics.m{k}": rng.random(runs) for k in range(10)}})
client.log_runs(exp, frame)
client.flush()
print(json.dumps({"experiment_id": exp}))
"""

BOARD = r"""
import json, os, sys, time
start = time.perf_counter()
import lakeml
imported = time.perf_counter()
client = lakeml.Client(sys.argv[1])
first = time.perf_counter()
board = client.leaderboard(sys.argv[2], "m0", max_results=10)
cold = time.perf_counter() - first
# call 2 after the freshness window (it lists each run table's log tail), call 3 within it
time.sleep(float(os.environ.get("LAKEML_REMOTE_FRESHNESS", "2")) + 0.2)
marks, warm = [os.path.getsize(sys.argv[3])], []
for metric in ("m1", "m2"):
    t = time.perf_counter()
    client.leaderboard(sys.argv[2], metric, max_results=10)
    warm.append(time.perf_counter() - t)
    marks.append(os.path.getsize(sys.argv[3]))
print(json.dumps({"import": imported - start, "open": first - imported, "cold": cold,
                  "warm": warm, "rows": len(board), "marks": marks}))
"""


def child(code: str, env: dict[str, str], *argv: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True,
                         text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def requests(log: Path, since: int, until: int | None = None) -> tuple[dict[str, int], int]:
    """Requests moto logged after byte ``since`` (up to ``until``), by method; and the end."""
    text = log.read_bytes()
    counts: dict[str, int] = {}
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text[since:until].decode(errors="replace"))
    for line in plain.splitlines():  # (moto colours the lines of 4xx answers)
        for method in ("GET", "PUT", "HEAD", "POST", "DELETE"):
            if f'"{method} ' in line:
                kind = "LIST" if method == "GET" and ("list-type" in line or "?prefix" in line
                                                      or "&prefix" in line) else method
                counts[kind] = counts.get(kind, 0) + 1
    return counts, len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--board-runs", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakeml-bench-s3-") as tmp:
        log = Path(tmp, "moto.log")
        with moto_server(log) as url:
            cache = Path(tmp, "cache")
            env = {**os.environ, **s3_environment(url, cache), "PYTHONPATH": str(ROOT)}
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            mark = len(log.read_bytes())
            logged = child(LOG, env, fresh_prefix(), str(args.runs))
            log_requests, mark = requests(log, mark)
            store = fresh_prefix()
            board_exp = child(BULK, env, store, str(args.board_runs))["experiment_id"]
            shutil.rmtree(cache, ignore_errors=True)  # the writer's copies and snapshot
            _, mark = requests(log, len(log.read_bytes()))
            cold = child(BOARD, env, store, board_exp, str(log))  # saves the snapshot
            cold_requests, mark = requests(log, mark)
            shutil.rmtree(cache, ignore_errors=True)  # another machine: the published one
            machine = child(BOARD, env, store, board_exp, str(log))
            machine_requests, mark = requests(log, mark)
            filled = child(BOARD, env, store, board_exp, str(log))  # this machine again
            filled_requests, mark = requests(log, mark)
            marks = filled["marks"]
            warm_requests = [requests(log, a, b)[0] for a, b in zip(marks, marks[1:])]
    rate = args.runs / logged["seconds"]
    print(f"log {args.runs:,} runs from one process: {logged['seconds']:.2f} s "
          f"({rate:,.0f} runs/s), target <= 30 s for 10,000: "
          f"{'yes' if logged['seconds'] * 10_000 / args.runs <= 30 else 'no'}; "
          f"requests {log_requests}")
    for label, got, asked in (("first reader ever", cold, cold_requests),
                               ("new machine, published snapshot", machine, machine_requests),
                               ("file cache and snapshot filled", filled, filled_requests)):
        total = got["open"] + got["cold"]
        print(f"leaderboard of {args.board_runs:,} runs, new process, {label}: "
              f"{total:.3f} s = Client() {got['open']:.3f} s + first call {got['cold']:.3f} s "
              f"(target <= 3 s: {'yes' if total <= 3 else 'no'}; import lakeml "
              f"{got['import']:.3f} s more); requests {asked}")
    whens = ("after the freshness window", "within the window")
    for n, (seconds, asked) in enumerate(zip(filled["warm"], warm_requests), start=2):
        print(f"leaderboard, warm (call {n} in the process, {whens[n - 2]}, another metric): "
              f"{seconds:.3f} s (target <= 0.1 s: "
              f"{'yes' if seconds <= 0.1 else 'no'}); requests {asked or 'none'} "
              f"(LAKEML_REMOTE_FRESHNESS {os.environ.get('LAKEML_REMOTE_FRESHNESS', '2')} s)")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(a shared machine: figures vary with it)")


if __name__ == "__main__":
    main()
