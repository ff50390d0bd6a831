"""What the params first-wins check costs a flush, as the params table grows.

    .venv/bin/python benchmarks/param_claim.py [--commits 200] [--runs 50]

Each flush logs 10 params for each of ``--runs`` new runs through the writer
(one commit, automatic compaction on), so the table grows by runs x 10 rows
per commit. Every 50 commits it prints the flush's time and the median time of
the check's read (the committed rows of 50 new run ids: what a flush of 50
runs' params reads before it commits). Reports; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from lakeml.ids import uuid7_hex
from lakeml.store import Store

US = 1_700_000_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="lakeml-claim-")
    store = Store(folder, flush_interval=600).open()
    handle = store.tables["params"]
    try:
        for commit in range(1, args.commits + 1):
            runs = [uuid7_hex() for _ in range(args.runs)]
            store.writer.extend("params", [(r, f"p{j}", "v", US) for r in runs
                                           for j in range(10)])
            t0 = time.perf_counter()
            store.flush()
            flush_ms = (time.perf_counter() - t0) * 1000
            if commit % 50:
                continue
            ids = [uuid7_hex() for _ in range(50)]
            reads = []
            for _ in range(5):
                t0 = time.perf_counter()
                handle.read_where_in("run_id", ids, handle.schema.names)
                reads.append((time.perf_counter() - t0) * 1000)
            files = len(store.snapshot_files("params")[1])
            print(f"{commit} commits, {commit * args.runs * 10:,} rows, {files} files: "
                  f"flush {flush_ms:.1f} ms, check read {statistics.median(reads):.1f} ms")
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
