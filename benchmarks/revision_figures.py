"""One figure of compare_revisions.py, measured in this fresh interpreter.

    python revision_figures.py FIGURE STORE [ARGS...]

Only lakeml's public API is used, so the same script measures any revision
whose code is first on PYTHONPATH. Prints one JSON object on the last line.
Figures:

- ``log_metric``: fluent ``log_metric`` 100,000 times in one run, timed in
  batches of 1,000; the median µs per call.
- ``end_to_end``: ``start_run``, 100,000 ``log_metric`` calls, ``end_run``
  (which commits); points per second.
- ``runs``: 2,000 x (``create_run``, ``log_batch`` of 10 metrics and 10 params,
  ``set_terminated``) and one ``flush``; runs per second.
- ``leaderboard``: synthetic.LEADERBOARD on an existing store (``cold`` from
  before ``import lakeml`` to the answer, ``warm`` the median of 15 calls).
- ``wide_search``: ``metrics.m5 = 5`` on bench_wide.py's store of 100,000 runs x
  10,000 keys, cold and warm (median of 15).
- ``registry``: one logged scikit-learn model, 300 versions of it created one
  call at a time (ms per call), then warm
  ``get_latest_versions`` and ``get_model_version_by_alias`` (median of 200).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

T0 = time.perf_counter()


def log_metric(store: str) -> dict[str, float]:
    import lakeml

    lakeml.set_store(store)
    lakeml.start_run()
    per_call = []
    for batch in range(100):
        t = time.perf_counter()
        for i in range(batch * 1000, batch * 1000 + 1000):
            lakeml.log_metric("loss", 0.5, step=i)
        per_call.append((time.perf_counter() - t) / 1000 * 1e6)
    lakeml.end_run()
    return {"log_metric_us": statistics.median(per_call)}


def end_to_end(store: str) -> dict[str, float]:
    import lakeml

    lakeml.set_store(store)
    lakeml.set_experiment("e2e")
    t = time.perf_counter()
    lakeml.start_run()
    for i in range(100_000):
        lakeml.log_metric("loss", 0.5, step=i)
    lakeml.end_run()
    return {"points_per_s": 100_000 / (time.perf_counter() - t)}


def runs(store: str) -> dict[str, float]:
    import lakeml

    client = lakeml.Client(store)
    exp = client.create_experiment("runs")
    metrics = {f"m{j}": 0.1 * j for j in range(10)}
    params = {f"p{j}": str(j) for j in range(10)}
    t = time.perf_counter()
    for _ in range(2000):
        run_id = client.create_run(exp).info.run_id
        client.log_batch(run_id, metrics=metrics, params=params)
        client.set_terminated(run_id)
    client.flush()
    return {"runs_per_s": 2000 / (time.perf_counter() - t)}


def _cold_warm(call) -> dict[str, float]:
    call()
    cold = time.perf_counter() - T0
    warm = []
    for _ in range(15):
        t = time.perf_counter()
        call()
        warm.append(time.perf_counter() - t)
    return {"cold_s": cold, "warm_s": statistics.median(warm)}


def leaderboard(store: str, here: str) -> dict[str, float]:
    import lakeml

    sys.path.insert(0, here)
    import synthetic

    lakeml.set_store(store)
    return _cold_warm(lambda: lakeml.search_runs(experiment_names=["synthetic"],
                                                 **synthetic.LEADERBOARD))


def wide_search(store: str) -> dict[str, float]:
    import lakeml

    lakeml.set_store(store)
    return _cold_warm(lambda: lakeml.search_runs(experiment_names=["wide"],
                                                 filter_string="metrics.m5 = 5"))


def registry(store: str) -> dict[str, float]:
    from sklearn.linear_model import LinearRegression

    import lakeml
    import lakeml.sklearn

    lakeml.set_store(store)
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "model")
    run_id = run.info.run_id
    client = lakeml.Client(store)
    client.create_registered_model("model")
    per_call = []
    for _ in range(300):
        t = time.perf_counter()
        version = client.create_model_version("model", f"runs:/{run_id}/model", run_id)
        per_call.append(time.perf_counter() - t)
    client.set_registered_model_alias("model", "champion", version.version)
    latest, alias = [], []
    for _ in range(200):
        t = time.perf_counter()
        client.get_latest_versions("model")
        latest.append(time.perf_counter() - t)
        t = time.perf_counter()
        client.get_model_version_by_alias("model", "champion")
        alias.append(time.perf_counter() - t)
    return {"register_ms": statistics.median(per_call) * 1e3,
            "latest_ms": statistics.median(latest) * 1e3,
            "alias_ms": statistics.median(alias) * 1e3}


if __name__ == "__main__":
    figure, *args = sys.argv[1:]
    print(json.dumps(globals()[figure](*args)))
