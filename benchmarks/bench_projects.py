"""Projects benchmark: what `lakeml run` and `lakeml workflow run` add to the commands they run.

Usage:
    .venv/bin/python benchmarks/bench_projects.py [--repeats N]

Figures (median of N, default 5, fresh temporary store each):
- the bare command (`python -c pass`), the same under the guard that kills it if
  its parent dies (lakeml/projects/guard.py: one more small interpreter start),
  and the same command as an entry point run
  with `lakeml.projects.run` in this process and with `lakeml run` in a new one:
  the difference is lakeml's overhead (run creation, params, one commit before the
  command starts, the terminal status after it);
- the three-step example workflow (tests/projects/examples/workflow): a first run
  (every step executed, two in parallel), a re-run where every step is reused
  (the cost of the cache check), and a re-run after one input file changed.
The script reports and never asserts.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import markdown  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "tests" / "projects" / "examples" / "workflow"


def timed(argv: list[str], **kwargs) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    import lakeml
    from lakeml.projects.runner import guarded
    from lakeml.tracking import backend

    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-projects-") as tmp_text:
        tmp = Path(tmp_text)
        noop = tmp / "noop"
        noop.mkdir()
        (noop / "MLproject").write_text("name: noop\nentry_points:\n  main:\n"
                                        "    command: \"python -c pass\"\n")
        for i in range(args.repeats):
            figures.setdefault("bare command: python -c pass", []).append(
                timed([sys.executable, "-c", "pass"]))
            figures.setdefault("the same under the kill -9 guard (runner.guarded)",
                               []).append(timed(guarded([sys.executable, "-c", "pass"])))
            store = tmp / f"api{i}"
            lakeml.Client(str(store))  # the store's tables exist before the clock starts
            t0 = time.perf_counter()
            lakeml.projects.run(noop, store=str(store))
            figures.setdefault("lakeml.projects.run (in process)", []).append(
                time.perf_counter() - t0)
            backend.close_all()
            figures.setdefault("lakeml run (new process)", []).append(
                timed([sys.executable, "-m", "lakeml", "run", str(noop), "--store",
                       str(tmp / f"cli{i}")]))
        for i in range(args.repeats):
            project = tmp / f"wf{i}"
            shutil.copytree(WORKFLOW, project)
            store = str(tmp / f"wfstore{i}")
            cmd = [sys.executable, "-m", "lakeml", "workflow", "run", str(project), "-w",
                   "main", "--store", store]
            figures.setdefault("workflow, 3 steps: first run (all executed)", []).append(
                timed(cmd))
            figures.setdefault("workflow, 3 steps: re-run (all reused)", []).append(
                timed(cmd))
            raw = project / "data" / "raw_a.csv"
            raw.write_text("".join(raw.read_text().splitlines(keepends=True)[:60]))
            figures.setdefault("workflow, 3 steps: one input changed (2 steps re-run)",
                               []).append(timed(cmd))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"# projects, {now}, {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, median of {args.repeats}")
    print(markdown(["what", "median s", "min s"],
                   [[name, f"{statistics.median(v):.2f}", f"{min(v):.2f}"]
                    for name, v in figures.items()]))


if __name__ == "__main__":
    main()
