"""Datasets with versions: describe (digest + profile) and load back a logged Delta version.

Target (issue 22): ``lakeml.data.load`` of a logged 1M-row Delta version after 100 later
commits in <= 2 s. Also prints ``from_delta`` with and without the profile.

    .venv/bin/python benchmarks/bench_datasets.py [--rows 1000000] [--commits 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from deltalake import write_deltalake

import lakeml
import lakeml.fluent
from lakeml.tracking import backend


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {f"f{i}": rng.normal(i, 1.0, rows) for i in range(8)}
    data["city"] = rng.choice(["paris", "lyon", "nice", "lille"], rows)
    data["label"] = rng.integers(0, 2, rows)
    return pd.DataFrame(data)


def timed(fn):  # noqa: ANN001, ANN201 - a tiny helper
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--commits", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lakeml-bench-data-") as tmp:
        table = str(Path(tmp, "customers"))
        write_deltalake(table, frame(args.rows, 0))
        lakeml.set_store(str(Path(tmp, "lake")))
        _, bare = timed(lambda: lakeml.data.from_delta(table, profile=False))
        ds, profiled = timed(lambda: lakeml.data.from_delta(table, targets="label"))
        with lakeml.start_run() as run:
            lakeml.log_input(ds, context="training")
        for i in range(args.commits):
            write_deltalake(table, frame(1_000, i + 1), mode="append")
        logged = lakeml.get_run(run.info.run_id).inputs.dataset_inputs[0]
        loaded, load_s = timed(lambda: lakeml.data.load(logged))
        arrow, arrow_s = timed(lambda: lakeml.data.load(logged, format="arrow"))
        assert len(loaded) == args.rows and arrow.num_rows == args.rows
        lakeml.fluent.reset()  # close the store before its folder goes
        backend.close_all()
    target = "yes" if load_s <= 2.0 else "no"
    print(f"table: {args.rows:,} rows x 10 columns, then {args.commits} later commits")
    print(f"from_delta, digest only        {bare:8.3f} s")
    print(f"from_delta, digest + profile   {profiled:8.3f} s")
    print(f"load (pandas)                  {load_s:8.3f} s   target <= 2 s: {target}")
    print(f"load (arrow)                   {arrow_s:8.3f} s")


if __name__ == "__main__":
    main()
