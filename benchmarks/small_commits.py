"""Give a store's metrics table N one-row commits, as a writer flushing every point would.

    .venv/bin/python benchmarks/small_commits.py --store /tmp/lake-small --commits 10000

Commits straight through deltalake (no lakeml writer, so no automatic
compaction): the table ends with N more data files and N more log entries.
Prints the seconds taken.
"""

from __future__ import annotations

import argparse
import time

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

import lakeml
from lakeml.store import schemas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--commits", type=int, default=10_000)
    args = parser.parse_args()
    client = lakeml.Client(args.store)
    found = client.get_experiment_by_name("streaming")
    exp = found.experiment_id if found else client.create_experiment("streaming")
    run = client.create_run(exp).info.run_id
    client.flush()
    table = DeltaTable(client.store.table_uri("metrics"))  # updated in place: no re-read
    t0 = time.perf_counter()
    for step in range(args.commits):
        point = pa.table({"run_id": [run], "key": ["m"], "value": [float(step)],
                          "step": [step], "timestamp": [pa.scalar(1_790_000_000_000_000 + step,
                                                                  schemas.TS)]})
        write_deltalake(table, point.cast(schemas.METRICS), mode="append")
    print(f"{time.perf_counter() - t0:.1f}")


if __name__ == "__main__":
    main()
