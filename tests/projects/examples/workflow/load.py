"""Load a CSV of wine measurements, scale the features, write the clean rows."""

import argparse
import os
import time
from pathlib import Path

import pandas as pd

import lakeml

parser = argparse.ArgumentParser()
parser.add_argument("--raw", required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--scale", type=float, required=True)
args = parser.parse_args()

# Tests prove that independent steps run at once: each step announces itself in
# LAKEML_EXAMPLE_BARRIER and waits for the other; one after the other, it would time out.
barrier = os.environ.get("LAKEML_EXAMPLE_BARRIER")
if barrier:
    Path(barrier, Path(args.raw).stem).touch()
    deadline = time.monotonic() + 60
    while len(list(Path(barrier).iterdir())) < 2:
        if time.monotonic() > deadline:
            raise SystemExit("barrier: the other loading step did not start within 60 s")
        time.sleep(0.05)

frame = pd.read_csv(args.raw)
features = [c for c in frame.columns if c != "target"]
frame[features] = frame[features] * args.scale
frame.to_csv(args.out, index=False)
lakeml.log_metric("rows", len(frame))
print(f"load: {len(frame)} rows from {args.raw}")
