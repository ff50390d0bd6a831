"""Model registry figures: lakeml beside MLflow at 1,000 versions, and lakeml at IoT scale.

    .venv/bin/python benchmarks/bench_registry.py                 # 100,000 models x 10
    .venv/bin/python benchmarks/bench_registry.py --models 10000  # quicker

Side by side: one model, 1,000 versions registered one call at a time
(lakeml ``Client.register_model``, MLflow ``mlflow.register_model`` on its
SQLite registry, from benchmarks/.venv-mlflow), then warm ``get_latest_versions``
and ``models:/…@alias`` / ``models:/…/Production`` resolution (median of 50).
Scale: ``--models`` registered models x ``--rounds`` versions each through the
bulk path (one ``register_model_versions`` call per round, every row also moving
the ``champion`` alias; the last round puts its versions in Production), then
warm lookups of random devices, one ``register_model`` at that size, and the
first lookup of a fresh process (from the registry snapshot that the bulk calls
leave; bench_registry_cold.py measures it in detail).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
sys.path.insert(0, str(HERE))

import registry_scenario  # noqa: E402
from bench_common import markdown  # noqa: E402

import lakeml  # noqa: E402
from lakeml.models.registration import registry_artifact_uri  # noqa: E402


def logged_model(store: str) -> str:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    lakeml.set_store(store)
    X, y = load_iris(return_X_y=True)
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(LogisticRegression(max_iter=500).fit(X, y), "model")
    return f"runs:/{run.info.run_id}/model"


def side_by_side(versions: int) -> tuple[dict, dict | None]:
    with tempfile.TemporaryDirectory() as tmp:
        source = logged_model(tmp)
        client = lakeml.Client(tmp)
        ours = registry_scenario.run(client, lambda src, name: client.register_model(src, name),
                                     source, versions, registry_artifact_uri)
    theirs = None
    if MLFLOW_PYTHON.exists():
        proc = subprocess.run([str(MLFLOW_PYTHON), str(HERE / "mlflow_registry_worker.py"),
                               str(versions)], cwd=str(HERE), capture_output=True, text=True,
                              timeout=3600)
        if proc.returncode == 0:
            theirs = json.loads(proc.stdout.strip().splitlines()[-1])
        else:
            print(f"MLflow worker failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
    else:
        print("no benchmarks/.venv-mlflow: run `bash benchmarks/setup_mlflow.sh`",
              file=sys.stderr)
    return ours, theirs


def at_scale(models: int, rounds: int) -> dict:
    import pyarrow as pa

    out: dict[str, float] = {"models": models, "versions": models * rounds}
    with tempfile.TemporaryDirectory() as tmp:
        source = logged_model(tmp)
        client = lakeml.Client(tmp)
        names = pa.array([f"device-{i}" for i in range(models)])
        t0 = time.perf_counter()
        for r in range(rounds):
            batch = pa.table({
                "name": names, "source": pa.array([source] * models),
                "alias": pa.array(["champion"] * models),
                "stage": pa.array([("Production" if r == rounds - 1 else None)] * models,
                                  pa.string())})
            client.register_model_versions(batch)
        bulk_s = time.perf_counter() - t0
        out["bulk_s"] = bulk_s
        out["bulk_versions_per_s"] = models * rounds / bulk_s
        rng = random.Random(1)
        sample = rng.sample(range(models), 800)
        picks = [f"device-{i}" for i in sample[:200]]
        rounds_of_picks = iter([picks] + [[f"device-{i}" for i in sample[k:k + 200]]
                                          for k in (200, 400, 600)])

        def median_ms(call) -> float:  # noqa: ANN001
            """Median over 200 devices this process has not read before."""
            times = []
            for name in next(rounds_of_picks):
                t = time.perf_counter()
                call(name)
                times.append(time.perf_counter() - t)
            return statistics.median(times) * 1e3

        got = registry_artifact_uri("models:/device-0@champion")  # loads the log once
        assert got.endswith("/model"), got
        latest = client.get_latest_versions("device-0", ["Production"])
        assert [v.version for v in latest] == [rounds], latest
        out["alias_resolve_ms"] = median_ms(
            lambda n: registry_artifact_uri(f"models:/{n}@champion"))
        out["latest_production_ms"] = median_ms(
            lambda n: client.get_latest_versions(n, ["Production"]))
        out["get_model_version_ms"] = median_ms(lambda n: client.get_model_version(n, 3))
        times = []
        for name in picks[:20]:  # devices read before: a CI job re-registering a model
            t = time.perf_counter()
            client.register_model(source, name)
            times.append(time.perf_counter() - t)
        out["register_model_ms"] = statistics.median(times) * 1e3
        client.registry._registry_state().wait_saved()  # the snapshot the bulk calls started
        code = ("import time, lakeml; from lakeml.models.registration import "
                f"registry_artifact_uri as r; lakeml.set_store({tmp!r}); "
                "t=time.perf_counter(); r('models:/device-7@champion'); "
                "print(time.perf_counter()-t)")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        out["fresh_process_first_resolve_s"] = float(proc.stdout.strip().splitlines()[-1])
        out["log_rows"] = client.sql("SELECT count(*) FROM registry_events").fetchall()[0][0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--versions", type=int, default=1000,
                        help="versions of one model in the side-by-side part")
    args = parser.parse_args()

    print(f"side by side, {args.versions} versions of one model ...", file=sys.stderr)
    ours, theirs = side_by_side(args.versions)
    rows = []
    for key, label in [("register_ms_mean", "register_model, mean per call"),
                       ("register_ms_first100", "register_model, first 100"),
                       ("register_ms_last100", "register_model, last 100"),
                       ("latest_production_ms", "get_latest_versions(Production), warm"),
                       ("alias_resolve_ms", "resolve models:/name@champion, warm"),
                       ("stage_resolve_ms", "resolve models:/name/Production, warm")]:
        mine = ours[key]
        other = theirs[key] if theirs else None
        rows.append([label, f"{mine:.2f} ms", f"{other:.2f} ms" if other else "-",
                     f"{other / mine:.1f}x" if other else "-"])
    print(f"\n## Registry: one model, {args.versions} versions\n")
    print(markdown(["operation", "lakeml", "MLflow 3.17 (sqlite)", "MLflow / lakeml"], rows))

    print(f"\nat scale: {args.models} models x {args.rounds} versions ...", file=sys.stderr)
    scale = at_scale(args.models, args.rounds)
    print(f"\n## Registry at scale: {scale['models']:,} models x {args.rounds} versions "
          f"= {scale['versions']:,} versions ({scale['log_rows']:,} log rows)\n")
    print(markdown(["figure", "lakeml"], [
        ["bulk registration (register_model_versions)",
         f"{scale['bulk_versions_per_s']:,.0f} versions/s ({scale['bulk_s']:.1f} s)"],
        ["resolve models:/device-N@champion, warm process, device not read before",
         f"{scale['alias_resolve_ms']:.2f} ms"],
        ["get_latest_versions(device-N, [Production]), same",
         f"{scale['latest_production_ms']:.2f} ms"],
        ["get_model_version(device-N, 3), same", f"{scale['get_model_version_ms']:.2f} ms"],
        ["register_model (one version), at this size",
         f"{scale['register_model_ms']:.1f} ms"],
        ["first resolve in a fresh process (registry snapshot)",
         f"{scale['fresh_process_first_resolve_s']:.2f} s"],
    ]))


if __name__ == "__main__":
    main()
