"""What a raw tail costs a chart: ``--runs`` runs x ``--steps`` steps of ``loss`` logged
and closed (metric_buckets rows for every point), then ``--tail`` more points per run
logged and flushed but still carried by their writer (no rows: lakeml/store/
bucket_carry.py), so the chart merges each run's rows with its raw tail
(lakeml/ui/chart_buckets.py); then the same after the writer's close, and the raw read.

    python benchmarks/bench_chart_tail.py --runs 20 --steps 100000 --tail 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time


def main() -> None:
    import lakeml
    from lakeml.store import Store
    from lakeml.ui import charts

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--tail", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        uri = os.path.join(folder, "lake")
        client = lakeml.Client(uri)
        experiment = client.create_experiment("tail")
        ids = [client.create_run(experiment).info.run_id for _ in range(args.runs)]
        client.flush()
        store = Store(uri)
        for run_id in ids:
            for step in range(args.steps):
                store.writer.append_metric(run_id, "loss", float(step % 101), step, step)
            store.flush()
        store.close()
        live = Store(uri)
        for run_id in ids:
            for step in range(args.steps, args.steps + args.tail):
                live.writer.append_metric(run_id, "loss", 1.0, step, step)
        live.flush()

        def timed(label: str) -> None:
            reader = lakeml.Client(uri)
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                body = charts._encoded(reader, ids, "loss", 2000)  # no answer cache
                times.append(time.perf_counter() - started)
            first = json.loads(body)["series"][0]
            print(f"{label}: median {statistics.median(times) * 1000:.0f} ms "
                  f"(bucket_width {first['bucket_width']}, {first['points']} points, last "
                  f"step {first['step'][-1]}); load {os.getloadavg()[0]:.1f}")

        timed(f"{args.tail} carried points a run (rows + raw tail)")
        live.close()
        timed("after the writer's close (rows only)")
        reader = lakeml.Client(uri)
        started = time.perf_counter()
        list(charts.run_points(reader, ids, "loss"))
        print(f"raw read of all {args.runs * (args.steps + args.tail):,} points: "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")
        client.store.close()  # its run snapshot before the folder goes


if __name__ == "__main__":
    main()
