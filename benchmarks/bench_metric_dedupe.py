"""What keeping identical metric points once costs get_metric_history (issue 16, item 4).

A point logged twice reads as one: the ``metrics`` view is ``SELECT DISTINCT``
over the append-only table, and get_metric_history drops repeats from the
sorted raw history instead (they are neighbours there). This prints, for
histories of 100,000 and 1,000,000 points, warm medians of: get_metric_history
(query, dedupe, Metric objects); its query over the raw table alone; that query
plus the dedupe; and the same query over the DISTINCT view.

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
from lakeml.tracking.reads import _without_repeats

REPEATS = 15
QUERY = ("SELECT value, epoch_ms(timestamp) AS ts, epoch_us(timestamp) AS us, step FROM {} "
         "WHERE run_id = ? AND key = ? ORDER BY step, us, value")


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
        engine = client.tracking._b.engine

        def query(relation: str) -> Callable[[], object]:
            return lambda: engine.columns(QUERY.format(relation), [run_id, "loss"], tables=())

        raw = query("lake_metrics")
        found = medians({"history": lambda: client.get_metric_history(run_id, "loss"),
                         "raw": raw, "deduped": lambda: _without_repeats(raw()),
                         "view": query("metrics")})
        backend.close_all()
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 points only")
    args = parser.parse_args()
    print("| points | get_metric_history, s | raw query, s | raw query + dedupe, s "
          "| query over the DISTINCT view, s |")
    print("|---|---|---|---|---|")
    for points in (100_000,) if args.quick else (100_000, 1_000_000):
        found = measure(points)
        print(f"| {points:,} | {found['history']:.3f} | {found['raw']:.3f} "
              f"| {found['deduped']:.3f} | {found['view']:.3f} |")


if __name__ == "__main__":
    main()
