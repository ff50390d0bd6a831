"""The first ``models:/name@alias`` of a new process, at 100,000 models x 10 versions.

    .venv/bin/python benchmarks/bench_registry_cold.py                 # 1 M versions
    .venv/bin/python benchmarks/bench_registry_cold.py --models 10000  # quicker

CI/CD and scoring jobs are new processes that fetch one model by alias or
stage. The store is built as bench_registry.py builds it (one logged
scikit-learn model, then ``--rounds`` calls of ``register_model_versions``,
each registering one version of every device and moving its ``champion``
alias; the last round puts its versions in Production) and kept in
benchmarks/.cache/ for the next run. Then, in ``--repeats`` new processes each:
the first resolve of ``models:/device-N@champion`` (what the loaders call,
``registry_artifact_uri``), timed from before the first lakeml call to the
answer, and warm resolves of 200 other devices in that process (median).
"import excluded" children import lakeml and the engines it loads lazily
(deltalake, pyarrow, pyarrow.parquet) before the clock starts; "after
``import lakeml``" children only lakeml. The old path (the whole log loaded
into the mirror first) is timed the same way for comparison. The CPU time
of the cold resolve (all threads of the child) is printed beside the wall
time: on a machine shared with other work it moves far less.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_common import installed_env, markdown  # noqa: E402

CHILD = r"""
import json, random, statistics, sys, time
store, mode, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
import lakeml
from lakeml.models.registration import registry_artifact_uri
if mode != "lakeml-only":
    import deltalake, pyarrow, pyarrow.parquet  # noqa: F401  the engines lakeml loads lazily
rng = random.Random(seed)
models = int(sys.argv[4])
first, *others = [f"device-{i}" for i in rng.sample(range(models), 201)]
t, cpu = time.perf_counter(), time.process_time()
lakeml.set_store(store)
if mode == "mirror":  # the old path: the whole log into the mirror, then the read
    lakeml.Client(store).registry._registry_state().refresh()
uri = registry_artifact_uri(f"models:/{first}@champion")
cold, cold_cpu = time.perf_counter() - t, time.process_time() - cpu
assert uri.endswith("/model"), uri
def median_ms(template):
    times = []
    for name in others[:100] if "Production" in template else others[100:]:
        t = time.perf_counter()
        registry_artifact_uri(template.format(name))
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3
out = {"cold_ms": cold * 1e3, "cold_cpu_ms": cold_cpu * 1e3,
       "alias_ms": median_ms("models:/{}@champion"),
       "stage_ms": median_ms("models:/{}/Production")}
state = lakeml.Client(store).tracking._b.shared.get("registry")
out["log_loaded"] = state._con is not None
print(json.dumps(out))
"""


def build(store: Path, models: int, rounds: int) -> dict[str, float]:
    """The registry of ``models`` x ``rounds`` versions at ``store``; returns timings."""
    import pyarrow as pa
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import lakeml
    from lakeml.query import registry_snapshot as snapshot

    lakeml.set_store(str(store))
    X, y = load_iris(return_X_y=True)
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y), "model")
    source = f"runs:/{run.info.run_id}/model"
    client = lakeml.Client(str(store))
    names = pa.array([f"device-{i}" for i in range(models)])
    t0 = time.perf_counter()
    for r in range(rounds):
        client.register_model_versions(pa.table({
            "name": names, "source": pa.array([source] * models),
            "alias": pa.array(["champion"] * models),
            "stage": pa.array([("Production" if r == rounds - 1 else None)] * models,
                              pa.string())}))
        print(f"  round {r + 1}/{rounds}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    bulk_s = time.perf_counter() - t0
    state = client.registry._registry_state()
    state.wait_saved()  # the snapshot thread the last rounds started
    t1 = time.perf_counter()
    state.save()  # timed once more, whole: what a writer's background thread pays
    save_s = time.perf_counter() - t1
    found = snapshot.load(client.store)
    assert found is not None
    return {"bulk_s": bulk_s, "save_s": save_s,
            "log_rows": client.sql("SELECT count(*) FROM registry_events").fetchall()[0][0],
            "snapshot_mb": sum(Path(p.path).stat().st_size
                               for p in (*found.events, *found.names)) / 1e6}


def child(store: Path, mode: str, seed: int, models: int) -> dict:
    env = installed_env()  # as an installed lakeml runs: with its bytecode cached
    proc = subprocess.run([sys.executable, "-c", CHILD, str(store), mode, str(seed),
                           str(models)], capture_output=True, text=True, check=True, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    store = HERE / ".cache" / f"registry-{args.models}x{args.rounds}"
    marker = store / "built.json"
    if not marker.exists():
        import shutil

        shutil.rmtree(store, ignore_errors=True)
        store.mkdir(parents=True)
        print(f"building {args.models} models x {args.rounds} versions in {store} ...",
              file=sys.stderr)
        marker.write_text(json.dumps(build(store, args.models, args.rounds)))
    built = json.loads(marker.read_text())

    child(store, "engines", 99, args.models)  # warm-up: bytecode and the OS page cache
    rows = []
    for mode, label in [("engines", "snapshot, import excluded"),
                        ("lakeml-only", "snapshot, after `import lakeml`"),
                        ("mirror", "whole log loaded first (old path), import excluded")]:
        runs = [child(store, mode, seed, args.models) for seed in range(args.repeats)]
        assert all(r["log_loaded"] == (mode == "mirror") for r in runs), runs
        cold = [r["cold_ms"] for r in runs]
        cpu = statistics.median(r["cold_cpu_ms"] for r in runs)
        rows.append([label, f"{statistics.median(cold):.0f} ms",
                     f"{min(cold):.0f} ms", f"{max(cold):.0f} ms", f"{cpu:.0f} ms",
                     f"{statistics.median(r['alias_ms'] for r in runs):.2f} ms",
                     f"{statistics.median(r['stage_ms'] for r in runs):.2f} ms"])
    print(f"\n## Registry, a new process: {args.models:,} models x {args.rounds} versions "
          f"({built['log_rows']:,} log rows)\n")
    print(f"Built by {args.rounds} bulk calls in {built['bulk_s']:.1f} s; writing the "
          f"snapshot ({built['snapshot_mb']:.1f} MB) takes {built['save_s']:.1f} s.\n")
    print(markdown(["first resolve in a new process", f"cold, median of {args.repeats}",
                    "min", "max", "its CPU time (median)", "then warm @champion (median)",
                    "then warm /Production (median)"], rows))


if __name__ == "__main__":
    main()
