"""Wide-store benchmark: searches over stores with many distinct keys (issue 15, item 3).

Two stores, built through the ordinary API (create_run, log_batch) once into
--cache (default benchmarks/.cache, git-ignored) and reused:

* ``wide-100k``: 100,000 runs over 10,000 distinct metric keys, each run logging
  10 of them (run ``i`` logs ``m((7919 i + 1009 j) mod 10,000)`` = ``(i + j) mod 10``
  for j < 10, so each key is held by 100 runs);
* ``deep-1m``: one run holding 1,000,000 metric keys (``m<j>`` = j).

Each figure comes from a fresh interpreter (cold = from before ``import lakeml``
to the first answer; warm = median of the next calls in that process; RSS = the
child's own peak, VmHWM). Answers are checked against a plain Python oracle.

    .venv/bin/python benchmarks/bench_wide.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_common import installed_env, markdown  # noqa: E402

RUNS, KEYS, PER_RUN = 100_000, 10_000, 10
DEEP_KEYS = 1_000_000
START = 1_700_000_000_000
BATCH = 10_000  # runs per flush while building
SEARCH = "metrics.m5 = 5"
LEADERBOARD = {"filter_string": "", "order_by": ["metrics.m7 ASC"], "max_results": 10}


def run_keys(i: int) -> dict[str, float]:
    """The metrics run ``i`` of the wide store logs."""
    return {f"m{(7919 * i + 1009 * j) % KEYS}": float((i + j) % 10) for j in range(PER_RUN)}


def build_wide(store: Path) -> dict[str, Any]:
    import lakeml

    t = time.perf_counter()
    client = lakeml.Client(str(store))
    exp = client.create_experiment("wide")
    for i in range(RUNS):
        run_id = client.create_run(exp, run_name=f"run-{i}", start_time=START + i).info.run_id
        client.log_batch(run_id, metrics=run_keys(i))
        if (i + 1) % BATCH == 0:
            client.flush()
            print(f"  {i + 1:,} runs, {time.perf_counter() - t:.0f} s", flush=True)
    client.flush()
    return {"seconds": time.perf_counter() - t}


def build_deep(store: Path) -> dict[str, Any]:
    import lakeml

    t = time.perf_counter()
    client = lakeml.Client(str(store))
    exp = client.create_experiment("deep")
    run_id = client.create_run(exp, run_name="deep", start_time=START).info.run_id
    for start in range(0, DEEP_KEYS, 100_000):
        client.log_batch(run_id, metrics={f"m{j}": float(j) for j in range(start, start + 100_000)})
    client.flush()
    return {"seconds": time.perf_counter() - t, "run_id": run_id}


def expected_search() -> list[str]:
    """Run names matching SEARCH, newest start first (MLflow's default order)."""
    return [f"run-{i}" for i in reversed(range(RUNS)) if run_keys(i).get("m5") == 5.0]


def expected_leaderboard() -> list[str]:
    held = [(run_keys(i)["m7"], -i) for i in range(RUNS) if "m7" in run_keys(i)]
    return [f"run-{-neg}" for _, neg in sorted(held)[:LEADERBOARD["max_results"]]]


# A fresh interpreter: one call cold (import included), then warm calls; prints JSON.
CHILD = r"""
import json, resource, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import lakeml
store, what, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
lakeml.set_store(store)
client = lakeml.Client()
if what == "search":
    call = lambda: lakeml.search_runs(experiment_names=["wide"], filter_string=expected["filter"])
    check = lambda df: df["tags.mlflow.runName"].tolist()
elif what == "leaderboard":
    call = lambda: lakeml.search_runs(experiment_names=["wide"], **expected["board"])
    check = lambda df: df["tags.mlflow.runName"].tolist()
elif what == "deep_search":
    call = lambda: lakeml.search_runs(experiment_names=["deep"], filter_string="metrics.m5 = 5")
    check = lambda df: [df.shape[0], int((df.columns.str.startswith("metrics.")).sum()),
                        float(df["metrics.m999999"].iloc[0])]
else:
    run_id = expected["run_id"]
    call = lambda: client.get_run(run_id)
    check = lambda run: [len(run.data.metrics), run.data.metrics["m999999"]]
got = call(); cold, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
if check(got) != expected["answer"]:
    raise SystemExit(f"wrong answer for {what}: {str(check(got))[:500]}")
warm, warm_cpu = [], []
for _ in range(int(expected["repeat"])):
    t, c = time.perf_counter(), time.process_time(); call()
    warm.append(time.perf_counter() - t); warm_cpu.append(time.process_time() - c)
usage = resource.getrusage(resource.RUSAGE_SELF)
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        rss = int(line.split()[1]) / 1024
print(json.dumps({"cold_s": cold, "warm_s": sorted(warm)[len(warm) // 2],
                  "cold_cpu_s": cold_cpu, "warm_cpu_s": sorted(warm_cpu)[len(warm) // 2],
                  "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": rss}))
"""


def child(store: Path, what: str, expected: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(store), what, json.dumps(expected)],
                          capture_output=True, text=True, timeout=3600, env=installed_env())
    if proc.returncode != 0:
        raise RuntimeError(f"{what} child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def row(figure: str, value: float, unit: str, target: str, met: bool | None,
        cpu: float | None = None) -> list[str]:
    shown = f"{value:.3f} s" if unit == "s" else f"{value:,.0f} MB"
    return [figure, shown, "-" if cpu is None else f"{cpu:.3f} s", target,
            "n/a" if met is None else ("yes" if met else "no")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=str(HERE / ".cache"),
                        help="where built stores are kept between runs")
    args = parser.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    built, facts = {}, {}
    for name, build in (("wide-100k", build_wide), ("deep-1m", build_deep)):
        store = cache / name
        if not (store / ".built").exists():
            if store.exists():
                raise SystemExit(f"{store} is half built: remove it")
            print(f"building {store} ...", flush=True)
            done = build(store)
            built[name] = done["seconds"]
            (store / ".built").write_text(json.dumps(done))
            print(f"  took {built[name]:.0f} s", flush=True)
        facts[name] = json.loads((store / ".built").read_text())
    wide, deep = cache / "wide-100k", cache / "deep-1m"
    search = expected_search()
    figures = {
        "search": child(wide, "search", {"filter": SEARCH, "answer": search, "repeat": 15}),
        "leaderboard": child(wide, "leaderboard", {"board": LEADERBOARD, "repeat": 15,
                                                   "answer": expected_leaderboard()}),
        "get_run": child(deep, "get_run", {"answer": [DEEP_KEYS, DEEP_KEYS - 1.0], "repeat": 3,
                                           "run_id": facts["deep-1m"]["run_id"]}),
        "deep_search": child(deep, "deep_search", {"answer": [1, DEEP_KEYS, DEEP_KEYS - 1.0],
                                                   "repeat": 3}),
    }
    s, b, g, d = (figures[k] for k in ("search", "leaderboard", "get_run", "deep_search"))
    gib = 1024

    def cold(name: str, f: dict[str, Any], target: float) -> list[str]:
        return row(name, f["cold_s"], "s", f"<= {target:g} s", f["cold_s"] <= target,
                   f["cold_cpu_s"])

    rows = [
        cold(f"search {SEARCH!r} cold (new process), 100k runs x 10k keys", s, 2),
        row("  same search warm", s["warm_s"], "s", "<= 0.1 s", s["warm_s"] <= 0.1,
            s["warm_cpu_s"]),
        row("  peak RSS of that process", s["peak_rss_mb"], "MB", "<= 1024 MB",
            s["peak_rss_mb"] <= gib),
        cold("leaderboard (order_by metrics.m7, 10 runs) cold", b, 2),
        row("  leaderboard warm", b["warm_s"], "s", "<= 0.1 s", b["warm_s"] <= 0.1,
            b["warm_cpu_s"]),
        row("  peak RSS of that process", b["peak_rss_mb"], "MB", "<= 1024 MB",
            b["peak_rss_mb"] <= gib),
        cold("get_run of a run with 1M metric keys, cold (new process)", g, 5),
        row("  get_run warm", g["warm_s"], "s", "-", None, g["warm_cpu_s"]),
        row("  peak RSS of that process", g["peak_rss_mb"], "MB", "<= 2048 MB",
            g["peak_rss_mb"] <= 2 * gib),
        cold("search 'metrics.m5 = 5' of that run (1M columns) cold", d, 5),
        row("  same search warm", d["warm_s"], "s", "-", None, d["warm_cpu_s"]),
        row("  peak RSS of that process", d["peak_rss_mb"], "MB", "<= 2048 MB",
            d["peak_rss_mb"] <= 2 * gib),
    ]
    print(f"\nWide stores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python "
          f"{platform.python_version()}, {os.cpu_count()} cores; load average "
          f"{os.getloadavg()[0]:.1f}\n")
    print(markdown(["figure", "lakeml (wall)", "CPU (all threads)", "target", "met (wall)"],
                   rows))
    print()
    print(f"- search answer: {len(search)} runs, checked against a Python oracle; "
          "leaderboard checked likewise; results returned as MLflow's pandas DataFrame.")
    print("- CPU: process time of that call (cold: from before the import), all threads; "
          "on a busy machine the wall time adds the wait for a core. Whole children: "
          f"search {s['cpu_s']:.1f} s, leaderboard {b['cpu_s']:.1f} s, "
          f"get_run {g['cpu_s']:.1f} s, deep search {d['cpu_s']:.1f} s of CPU.")
    if built:
        print(f"- built this time (s): {', '.join(f'{k} {v:.0f}' for k, v in built.items())}")


if __name__ == "__main__":
    main()
