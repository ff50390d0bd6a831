"""lakeml sql-server over the wire: the leaderboard, a 100,000-row result streamed to
psycopg, and 20 connections at once, on a synthetic store (generate_store.py).

The server is the real CLI (``lakeml sql-server``) in its own process; the client is
psycopg 3 on loopback. The leaderboard is sql/queries/leaderboard.sql with its named
parameters sent as $1..$4; the same query through ``lakeml.Client.sql`` in this
process is printed beside it, so the wire's cost shows.

    .venv/bin/python benchmarks/bench_sqlserver.py            # 1 M runs
    .venv/bin/python benchmarks/bench_sqlserver.py --quick    # 100 k runs

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_common import installed_env, markdown  # noqa: E402
from generate_store import generate  # noqa: E402

from lakeml.sqlserver.server import ORDER_AFTER  # noqa: E402

ROWS = 100_000
CONNECTIONS = 20


def leaderboard_sql() -> tuple[str, str]:
    """sql/queries/leaderboard.sql as DuckDB runs it ($name parameters) and as psycopg
    sends it (%(name)s, which psycopg turns into PostgreSQL's $1, $2…)."""
    from lakeml.query.sqlfiles import query

    text = query("leaderboard").rstrip().rstrip(";")
    return text, re.sub(r"\$([a-z_]+)\b", r"%(\1)s", text)


def start_server(store: str) -> tuple[subprocess.Popen, int]:
    env = {**installed_env(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "lakeml", "sql-server", "--store", store,
                             "--port", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    found = re.search(r"on 127\.0\.0\.1:(\d+)", line)
    if not found:
        proc.kill()
        raise SystemExit(f"lakeml sql-server did not start: {line}{proc.stdout.read()}")
    return proc, int(found.group(1))


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used: what the server's work
    costs whatever the machine's load (its wall times wait for a core)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, quiet: float = 0.05, timeout: float = 600.0) -> float:
    """Wait until process ``pid`` uses under ``quiet`` CPU-s in a second (the server's
    background re-write of its kept tables is done); the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        before = server_cpu(pid)
        time.sleep(1.0)
        if server_cpu(pid) - before < quiet:
            break
    return time.perf_counter() - t0


def timed(call, repeat: int) -> list[float]:  # noqa: ANN001 - a callable
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return times


def measure(store: str, port: int, repeat: int, pid: int) -> dict[str, float]:
    import psycopg

    import lakeml

    dsn = f"host=127.0.0.1 port={port} user=bench dbname=lakeml"
    exp_id = lakeml.Client(store).sql("SELECT experiment_id FROM experiments "
                                      "WHERE name = 'synthetic'").fetchall()[0][0]
    local, board = leaderboard_sql()
    args = {"experiment_id": exp_id, "metric": "m1", "ascending": True, "limit": 10}
    out: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        first, cpu = time.perf_counter(), server_cpu(pid)
        rows = conn.execute(board, args).fetchall()
        out["leaderboard_first_s"] = time.perf_counter() - first
        out["leaderboard_first_cpu_s"] = server_cpu(pid) - cpu
        assert len(rows) == 10, rows
        # the kept tables as folded (unordered): the next ORDER_AFTER - 1 queries
        cpu = server_cpu(pid)
        out["leaderboard_unordered_s"] = statistics.median(
            timed(lambda: conn.execute(board, args).fetchall(), ORDER_AFTER - 1))
        out["leaderboard_unordered_cpu_s"] = (server_cpu(pid) - cpu) / (ORDER_AFTER - 1)
        out["order_s"] = wait_idle(pid)  # the server re-writes them ordered meanwhile
        cpu = server_cpu(pid)
        out["leaderboard_s"] = statistics.median(
            timed(lambda: conn.execute(board, args).fetchall(), repeat))
        out["leaderboard_server_cpu_s"] = (server_cpu(pid) - cpu) / repeat
        client = lakeml.Client(store)
        assert client.sql(local, args).fetchall() == rows
        out["leaderboard_in_process_s"] = statistics.median(
            timed(lambda: client.sql(local, args).fetchall(), repeat))
        # the wire: rows of a raw table (cheap to produce); then of a view
        big = f"SELECT run_id, key, value, step, timestamp FROM lake_metric_latest LIMIT {ROWS}"
        for name, binary in (("text", False), ("binary", True)):
            cur = conn.cursor(binary=binary)
            seconds = min(timed(lambda cur=cur: len(cur.execute(big).fetchall()), repeat))
            out[f"rows_per_s_{name}"] = ROWS / seconds
        view = big.replace("lake_metric_latest", "latest_metrics")
        seconds = min(timed(lambda: len(conn.execute(view).fetchall()), repeat))
        out["rows_per_s_view"] = ROWS / seconds
    with psycopg.connect(dsn) as conn, conn.cursor(name="stream") as cur:
        cur.itersize = 10_000
        t0 = time.perf_counter()
        cur.execute(big)
        count = sum(1 for _ in cur)
        out["rows_per_s_server_cursor"] = count / (time.perf_counter() - t0)
    out.update(concurrent(dsn, board, args))
    return out


def concurrent(dsn: str, board: str, args: dict) -> dict[str, float]:
    """CONNECTIONS connections, each running the leaderboard 5 times at once."""
    import psycopg

    latencies: list[float] = []
    failures: list[BaseException] = []
    start = threading.Barrier(CONNECTIONS)

    def work() -> None:
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                start.wait()
                for _ in range(5):
                    t0 = time.perf_counter()
                    assert len(conn.execute(board, args).fetchall()) == 10
                    latencies.append(time.perf_counter() - t0)
        except BaseException as exc:  # noqa: BLE001 - counted and printed
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(CONNECTIONS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"concurrent_answered": len(latencies), "concurrent_failed": len(failures),
            "concurrent_p50_s": statistics.median(latencies) if latencies else float("nan"),
            "concurrent_p95_s": latencies[int(0.95 * (len(latencies) - 1))]
            if latencies else float("nan"), "concurrent_wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 k runs instead of 1 M")
    parser.add_argument("--runs", type=int, help="runs in the store (overrides --quick)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", default=str(HERE / ".cache"),
                        help="where generated stores are kept (default benchmarks/.cache)")
    args = parser.parse_args()
    runs = args.runs or (100_000 if args.quick else 1_000_000)
    store = Path(args.cache) / f"lake-{runs}"
    if not store.exists():
        store.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {runs:,} runs in {store}", flush=True)
        gen = generate(str(store), runs, quiet=True)
        print(f"  took {gen['seconds']:.0f} s", flush=True)
    load = os.getloadavg()[0]
    proc, port = start_server(str(store))
    try:
        figures = measure(str(store), port, args.repeat, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\nlakeml sql-server, {runs:,} runs, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, "
          "psycopg on loopback\n")
    body = [
        ["leaderboard, first query (folds the views and keeps them)",
         f"{figures['leaderboard_first_s']:.3f} s "
         f"({figures['leaderboard_first_cpu_s']:.1f} server CPU-s)"],
        [f"leaderboard, next {ORDER_AFTER - 1} queries, tables as folded (median)",
         f"{figures['leaderboard_unordered_s']:.3f} s "
         f"({figures['leaderboard_unordered_cpu_s']:.3f} server CPU-s each)"],
        ["  then the server re-writes them ordered (waited until idle)",
         f"{figures['order_s']:.0f} s"],
        ["leaderboard over the wire, ordered tables (median)",
         f"{figures['leaderboard_s']:.3f} s"],
        ["  server CPU per leaderboard (user + system, mean)",
         f"{figures['leaderboard_server_cpu_s']:.3f} CPU-s"],
        ["leaderboard in process (lakeml.Client.sql)",
         f"{figures['leaderboard_in_process_s']:.3f} s"],
        [f"{ROWS:,} rows to psycopg, text", f"{figures['rows_per_s_text']:,.0f} rows/s"],
        [f"{ROWS:,} rows to psycopg, binary", f"{figures['rows_per_s_binary']:,.0f} rows/s"],
        [f"{ROWS:,} rows of the latest_metrics view, text",
         f"{figures['rows_per_s_view']:,.0f} rows/s"],
        [f"{ROWS:,} rows, server-side cursor (10k a fetch)",
         f"{figures['rows_per_s_server_cursor']:,.0f} rows/s"],
        [f"{CONNECTIONS} connections x 5 leaderboards: answered / failed",
         f"{figures['concurrent_answered']} / {figures['concurrent_failed']}"],
        [f"{CONNECTIONS} connections: latency p50 / p95",
         f"{figures['concurrent_p50_s']:.3f} s / {figures['concurrent_p95_s']:.3f} s"],
        [f"{CONNECTIONS} connections: wall time", f"{figures['concurrent_wall_s']:.2f} s"],
    ]
    print(markdown(["measure", "figure"], body))


if __name__ == "__main__":
    main()
