"""Reads that see their writes, and the SQL sandbox: what each costs.

Prints, for a store of --runs finished runs (10 metrics, 5 params each):
- the freshness check every read makes (has this process unflushed rows of the
  tables read or of their sources?), with nothing pending;
- a warm search_runs with nothing pending (the check is all that read-your-writes
  adds to it);
- log_metric then get_run / search_runs: each read commits the point first;
- lakeml.sql: the first call (which makes the sandboxed database) and warm calls.

    .venv/bin/python benchmarks/bench_reads.py [--runs 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_common import markdown  # noqa: E402


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()

    import pyarrow as pa

    import lakeml
    from lakeml.query.engine import _with_sources
    from lakeml.query.run_fold import SOURCES

    with tempfile.TemporaryDirectory() as tmp:
        client = lakeml.Client(f"{tmp}/lake")
        exp = client.create_experiment("reads")
        n = args.runs
        columns = {f"metrics.m{i}": pa.array([float((r * 7 + i) % 97) for r in range(n)])
                   for i in range(10)}
        columns |= {f"params.p{i}": pa.array([str(r % (i + 3)) for r in range(n)])
                    for i in range(5)}
        client.log_runs(exp, pa.table(columns))
        run_id = client.create_run(exp).info.run_id
        client.flush()
        store = client.store

        def search() -> object:
            return client.search_runs([exp], "metrics.m0 < 10 and params.p0 = '1'",
                                      order_by=["metrics.m1 DESC"], max_results=100)

        search()  # builds the state
        tables = _with_sources([*SOURCES, "inputs"])
        t0 = time.perf_counter()
        for _ in range(100_000):
            store.has_unflushed(tables)
        check_us = (time.perf_counter() - t0) / 100_000 * 1e6
        rows = [["freshness check, nothing pending", f"{check_us:.2f} µs"],
                ["search_runs, warm, nothing pending (median of 15)",
                 f"{median_ms(search, 15):.1f} ms"]]

        step = iter(range(10**6))

        def log_then(read: Callable[[], object]) -> Callable[[], object]:
            def both() -> object:
                client.log_metric(run_id, "loss", 1.0, step=next(step))
                return read()
            return both

        rows.append(["log_metric + get_run (median of 30)",
                     f"{median_ms(log_then(lambda: client.get_run(run_id)), 30):.1f} ms"])
        rows.append(["log_metric + search_runs (median of 15)",
                     f"{median_ms(log_then(search), 15):.1f} ms"])
        rows.append(["get_run, nothing pending (median of 30)",
                     f"{median_ms(lambda: client.get_run(run_id), 30):.1f} ms"])

        query = "SELECT key, avg(value) FROM latest_metrics GROUP BY key"
        t0 = time.perf_counter()
        client.sql(query).fetchall()
        first_ms = (time.perf_counter() - t0) * 1000
        rows.append(["lakeml.sql first call (makes the sandbox)", f"{first_ms:.1f} ms"])
        rows.append(["lakeml.sql warm (median of 15)",
                     f"{median_ms(lambda: client.sql(query).fetchall(), 15):.1f} ms"])
        print(f"{n:,} runs, 10 metrics and 5 params each")
        print(markdown(["figure", "value"], rows))


if __name__ == "__main__":
    main()
