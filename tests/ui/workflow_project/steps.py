"""The steps of the UI test workflow: each writes a small text file from its inputs."""

import argparse
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("step")
parser.add_argument("--data", action="append", default=[])
parser.add_argument("--out", required=True)
args = parser.parse_args()
previous = "".join(Path(p).read_text() for p in args.data)
Path(args.out).parent.mkdir(parents=True, exist_ok=True)
Path(args.out).write_text(previous + f"{args.step} done\n")
