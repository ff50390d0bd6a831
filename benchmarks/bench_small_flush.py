"""Small flushes, as a tracking server's group commits make them: ``--flushes`` flushes
of ``--keys`` metric keys x one point each of one run, timed (wall), then the Delta
commits each table received and the metric_buckets rows written.

    python benchmarks/bench_small_flush.py --flushes 200 --keys 50
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    import pyarrow.parquet as pq

    from lakeml.store import Store

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flushes", type=int, default=200)
    parser.add_argument("--keys", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(os.path.join(folder, "lake")).open()
        run_id = "0" * 32
        store.writer.append_metric(run_id, "warm", 0.0, 0, 0)
        store.flush()
        started = time.perf_counter()
        for step in range(args.flushes):
            for k in range(args.keys):
                store.writer.append_metric(run_id, f"k{k}", float(step), step,
                                           1_780_000_000_000_000 + step)
            store.flush()
        elapsed = time.perf_counter() - started
        buckets = store.tables["metric_buckets"]
        rows = sum(pq.read_metadata(f).num_rows
                   for f in buckets.snapshot_files()[1])
        print(f"{args.flushes} flushes of {args.keys} keys x 1 point: {elapsed:.2f} s "
              f"({elapsed / args.flushes * 1000:.1f} ms a flush); metric_buckets "
              f"version {buckets.writer_version()}, {rows} rows; load "
              f"{os.getloadavg()[0]:.1f}")
        started = time.perf_counter()
        store.close()
        print(f"close: {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
