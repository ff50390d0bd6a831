"""Tracking, analytics and registry figures of two revisions, side by side in one run.

    .venv/bin/python benchmarks/compare_revisions.py --before 612ecf6
    .venv/bin/python benchmarks/compare_revisions.py --before 612ecf6 \\
        --leaderboard-store /path/to/1M-store --rounds 3

A refactoring must not cost speed. The script checks ``--before`` out into a
detached worktree (kept in benchmarks/.cache/rev-<sha>), then measures every
figure of revision_figures.py in fresh interpreters, alternating the two
revisions round by round so that a machine busy for a moment hurts both
alike, and prints the median of each side, after/before, and whether the
change is within 10 %. The leaderboard runs on an existing store built by
bench_snapshot_api.py or bench_search.py (``--leaderboard-store``); the wide
search on bench_wide.py's cache if it is there. It reports, never asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIGURES = HERE / "revision_figures.py"
sys.path.insert(0, str(HERE))
from bench_common import installed_env  # noqa: E402

# figure -> (value key, unit, higher is better)
KEYS = {
    "log_metric": [("log_metric_us", "µs/call", False)],
    "end_to_end": [("points_per_s", "points/s", True)],
    "runs": [("runs_per_s", "runs/s", True)],
    "leaderboard": [("cold_s", "s cold", False), ("warm_s", "s warm", False)],
    "wide_search": [("cold_s", "s cold", False), ("warm_s", "s warm", False)],
    "registry": [("register_ms", "ms/version", False), ("latest_ms", "ms latest", False),
                 ("alias_ms", "ms alias", False)],
}


def checkout(rev: str) -> Path:
    """A detached worktree of ``rev`` under benchmarks/.cache (reused when there)."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    tree = HERE / ".cache" / f"rev-{sha}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT,
                       check=True, capture_output=True)
    return tree


def measure(tree: Path, figure: str, *args: str) -> dict[str, float]:
    """One figure in a fresh interpreter whose lakeml is the one in ``tree``."""
    env = {**installed_env(tree), "PYTHONPATH": str(tree), "LAKEML_PROGRESS": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        store_args = args or (str(Path(tmp) / "store"),)
        proc = subprocess.run([sys.executable, str(FIGURES), figure, *store_args], cwd=tmp,
                              env=env, stdout=subprocess.PIPE, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"{figure} failed on {tree} (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare against")
    parser.add_argument("--after", default=str(ROOT), help="source tree (default: this one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--leaderboard-store", help="a store of bench_snapshot_api/bench_search")
    parser.add_argument("--wide-store", default=str(HERE / ".cache" / "wide-100k"))
    parser.add_argument("--only", nargs="*", choices=sorted(KEYS), help="these figures only")
    args = parser.parse_args(argv)
    sides = {"before": checkout(args.before), "after": Path(args.after)}
    figures: dict[str, tuple[str, ...]] = {"log_metric": (), "end_to_end": (), "runs": (),
                                           "registry": ()}
    if args.leaderboard_store:
        figures["leaderboard"] = (args.leaderboard_store, str(HERE))
    if Path(args.wide_store).exists():
        figures["wide_search"] = (args.wide_store,)
    if args.only:
        figures = {name: figures[name] for name in args.only if name in figures}
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for name, fig_args in figures.items():
            order = ["before", "after"] if round_ % 2 == 0 else ["after", "before"]
            for side in order:
                results.setdefault((name, side), []).append(
                    measure(sides[side], name, *fig_args))
            print(f"round {round_ + 1}: {name} done", file=sys.stderr, flush=True)
    print(f"before = {args.before} ({sides['before']}), after = {sides['after']}; "
          f"median of {args.rounds} alternating rounds, each in a fresh interpreter\n")
    print(f"| {'figure':<24} | {'before':>12} | {'after':>12} | after/before | within 10% |")
    print(f"|{'-' * 26}|{'-' * 14}|{'-' * 14}|--------------|------------|")
    for name in figures:
        for key, unit, higher_better in KEYS[name]:
            before = statistics.median(r[key] for r in results[(name, "before")])
            after = statistics.median(r[key] for r in results[(name, "after")])
            ratio = after / before
            ok = ratio >= 0.9 if higher_better else ratio <= 1.1
            print(f"| {name + ' ' + unit:<24} | {before:>12.4g} | {after:>12.4g} | "
                  f"{ratio:>12.3f} | {'yes' if ok else 'no':>10} |")


if __name__ == "__main__":
    main()
