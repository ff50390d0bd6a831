"""What keeping identical metric points once costs get_metric_history (issue 16, item 4).

The ``metrics`` view is ``SELECT DISTINCT`` over the append-only table, so a
point logged twice reads as one. This prints, for histories of 100,000 and
1,000,000 points, warm medians of: get_metric_history (the view, then Metric
objects), the history's query over the view alone, and the same query over
the raw table without DISTINCT (the price of deduplication is the difference
of the last two).

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_metric_dedupe.py [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Callable

import lakeml
from lakeml.tracking import backend

REPEATS = 15
QUERY = ("SELECT value, epoch_ms(timestamp) AS ts, step FROM {} "
         "WHERE run_id = ? AND key = ? ORDER BY step, timestamp, value")


def medians(calls: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Warm median seconds of each call; the calls take turns, so that a machine busy
    with other work slows them alike (the first call of each loads the files)."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(REPEATS):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(found) for name, found in times.items()}


def measure(points: int) -> dict[str, float]:
    """Warm medians (seconds) of get_metric_history, the query over the view, and the
    query over the raw table, for a ``points``-point history."""
    with tempfile.TemporaryDirectory() as path:
        client = lakeml.Client(path)
        run_id = client.create_run("0").info.run_id
        for step in range(points):
            client.log_metric(run_id, "loss", step * 1e-3, step=step)
        client.flush()
        backend.close_all()
        client = lakeml.Client(path)
        engine = client._b.engine

        def query(relation: str) -> Callable[[], object]:
            return lambda: engine.columns(QUERY.format(relation), [run_id, "loss"], tables=())

        found = medians({"history": lambda: client.get_metric_history(run_id, "loss"),
                         "view": query("metrics"), "raw": query("lake_metrics")})
        backend.close_all()
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 points only")
    args = parser.parse_args()
    print("| points | get_metric_history, s | query over the view (DISTINCT), s "
          "| query over the raw table, s |")
    print("|---|---|---|---|")
    for points in (100_000,) if args.quick else (100_000, 1_000_000):
        found = measure(points)
        print(f"| {points:,} | {found['history']:.3f} | {found['view']:.4f} "
              f"| {found['raw']:.4f} |")


if __name__ == "__main__":
    main()
