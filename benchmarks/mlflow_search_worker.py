"""MLflow's side of the search_runs benchmark: run inside benchmarks/.venv-mlflow, print JSON.

Usage:
    benchmarks/.venv-mlflow/bin/python benchmarks/mlflow_search_worker.py \\
        --runs 10000 --cache-dir /tmp/mlflow-cache

Loading 100,000 runs through MLflow's API takes about 40 minutes, so the
store is built once and cached as ``<cache-dir>/mlflow-<runs>.db``: MLflow
creates the schema (its own migrations, via ``MlflowClient``), then the runs
from ``synthetic.py`` go straight into MLflow's tables with sqlite3, row for
row what ``SqlAlchemyStore`` writes for create_run + log_batch + set_terminated.
The build runs in a child process, so every figure below comes from a process
that has only imported mlflow; the operating system's file cache, though, is
warm after a build.

Figures (seconds): ``open_s`` opens the store (``MlflowClient`` + ``get_experiment_by_name``);
``leaderboard_first_s`` is the first ``mlflow.search_runs(**LEADERBOARD)``
(pandas out) and ``leaderboard_warm_s`` the median of the next WARM_CALLS (one
call above 10,000 runs); ``client_search_warm_s`` is
``MlflowClient.search_runs`` with the same arguments; for runs <= 10,000,
``export_s`` is every run into one DataFrame. Each answer is checked against
``synthetic.expected_leaderboard``, and after the timings the load itself is
checked through MLflow's API. Only the final JSON document goes to stdout;
MLflow's own chatter is sent to stderr.

The SQLite library matters more than anything else here: the leaderboard's
LEFT JOIN on a materialised subquery is planned as a nested scan (quadratic in
runs) by SQLite 3.40 (Debian 12's, which this venv's Python links) and through
an automatic index by newer ones. ``sqlite_version`` is in the JSON, and
``--pysqlite3`` runs MLflow on the ``pysqlite3`` module instead (``pip install
pysqlite3-binary`` in the MLflow venv) to time a current SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

# Telemetry and async logging are read from the environment: set both before import.
os.environ.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
                   "MLFLOW_ENABLE_ASYNC_LOGGING": "false"})

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Run  # noqa: E402
from synthetic import (  # noqa: E402
    LEADERBOARD,
    METRICS,
    PARAMS,
    expected_leaderboard,
    runs_columns,
)

Result = dict[str, Any]
T = TypeVar("T")

EXPERIMENT = "synthetic-search"
EXPORT_MAX_RUNS = 10_000
CHUNK = 10_000
USER = "bench"
RUN_SECONDS_MS = 500  # end_time - start_time, and the metrics' timestamp offset
# Run ids are uuid5 of the run name: the same store on every build, still 32 hex digits.
RUN_ID_NAMESPACE = uuid.UUID("6c616b65-6d6c-4265-9e63-682d73796e74")


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    result = call()
    return time.perf_counter() - t0, result


def run_id(index: int) -> str:
    return uuid.uuid5(RUN_ID_NAMESPACE, f"run-{index}").hex


# --- building the store ---------------------------------------------------------------------


def _rows(start: int, stop: int, exp_id: int, artifact_root: str) -> dict[str, list[tuple]]:
    """Rows for runs start..stop-1 in MLflow's runs, params, metrics, latest_metrics, tags."""
    cols = {k: v.tolist() for k, v in runs_columns(start, stop).items()}
    rows: dict[str, list[tuple]] = {t: [] for t in
                                    ("runs", "params", "metrics", "latest_metrics", "tags")}
    for k, i in enumerate(cols["index"]):
        rid, name, start_ms = run_id(i), f"run-{i}", cols["start_time_ms"][k]
        end_ms = start_ms + RUN_SECONDS_MS
        # Columns in the order of the INSERTs in _load; values as SqlAlchemyStore sets them
        # (create_run leaves source_name/entry_point_name/source_version as '').
        rows["runs"].append((rid, name, "UNKNOWN", "", "", USER, "FINISHED", start_ms, end_ms,
                             "", "active", f"{artifact_root}/{rid}/artifacts", exp_id))
        rows["params"].extend((p, cols[p][k], rid) for p in PARAMS)
        # One point per metric: step 0, logged at end_ms, not NaN.
        rows["metrics"].extend((m, cols[m][k], end_ms, rid, 0, 0) for m in METRICS)
        rows["latest_metrics"].extend((m, cols[m][k], end_ms, 0, 0, rid) for m in METRICS)
        # The tags the fluent mlflow.start_run(run_name=...) sets from a script.
        rows["tags"].extend([("mlflow.runName", name, rid), ("mlflow.user", USER, rid),
                             ("mlflow.source.type", "LOCAL", rid),
                             ("mlflow.source.name", "synthetic.py", rid)])
    return rows


INSERTS = {
    "runs": "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "params": "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
    "metrics": "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
               "VALUES (?, ?, ?, ?, ?, ?)",
    "latest_metrics": "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, "
                      "run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
    "tags": "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
}


def _load(db: Path, runs: int, exp_id: int, artifact_root: str) -> None:
    """Insert every run in one transaction, with foreign keys checked as MLflow has them."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA synchronous = OFF")  # a crashed build leaves only a .partial file
        con.execute("BEGIN")
        for start in range(0, runs, CHUNK):
            for table, rows in _rows(start, min(start + CHUNK, runs), exp_id,
                                     artifact_root).items():
                con.executemany(INSERTS[table], rows)
        con.execute("COMMIT")
    finally:
        con.close()


def build(db: Path, runs: int) -> None:
    """Create ``db``: MLflow's schema and experiment, then ``runs`` runs bulk-inserted.

    Written to ``<db>.partial`` and renamed at the end, so an existing ``db`` is complete.
    """
    partial = db.with_name(db.name + ".partial")
    partial.unlink(missing_ok=True)
    client = MlflowClient(tracking_uri=f"sqlite:///{partial}")
    artifact_root = (db.parent / f"{db.stem}-artifacts").as_uri()
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=artifact_root)
    _load(partial, runs, int(exp_id), artifact_root)
    partial.replace(db)


def build_in_child(db: Path, runs: int) -> float:
    """Build in a child process, so this one stays fresh for the timings; seconds taken."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--runs", str(runs), "--cache-dir",
                    str(db.parent), "--build-only"], check=True, stdout=sys.stderr)
    return time.perf_counter() - t0


# --- checks ---------------------------------------------------------------------------------


def check_leaderboard(got: list[tuple[int, float]], runs: int, what: str) -> None:
    """``got`` (index, m0) must equal expected_leaderboard(runs); raise otherwise."""
    want = expected_leaderboard(runs)
    same = len(got) == len(want) and all(
        gi == wi and abs(gm - wm) <= 1e-12 for (gi, gm), (wi, wm) in zip(got, want))
    if not same:
        raise RuntimeError(f"{what} returned {got}, expected {want} (a store cached from "
                           "older synthetic data? delete it to rebuild)")


def board_from_frame(df: Any) -> list[tuple[int, float]]:
    names = df["tags.mlflow.runName"].tolist()
    return [(int(n.removeprefix("run-")), float(v))
            for n, v in zip(names, df["metrics.m0"].tolist())]


def board_from_runs(found: list[Run]) -> list[tuple[int, float]]:
    return [(int(r.info.run_name.removeprefix("run-")), r.data.metrics["m0"]) for r in found]


def check_run(run: Run, index: int, exp_id: str) -> None:
    """One run read back through MLflow equals synthetic run ``index``."""
    cols = {k: v.tolist()[0] for k, v in runs_columns(index, index + 1).items()}
    want = {"run_id": run_id(index), "run_name": f"run-{index}", "experiment_id": exp_id,
            "status": "FINISHED", "start_time": cols["start_time_ms"],
            "params": {p: cols[p] for p in PARAMS}, "metrics": {m: cols[m] for m in METRICS}}
    got = {"run_id": run.info.run_id, "run_name": run.info.run_name,
           "experiment_id": run.info.experiment_id, "status": run.info.status,
           "start_time": run.info.start_time, "params": run.data.params,
           "metrics": run.data.metrics}
    if got != want:
        raise RuntimeError(f"run {index} reads back as {got}, expected {want}")


def check_load(client: MlflowClient, db: Path, exp_id: str, runs: int) -> None:
    """Read the store back: first five and last run through MLflow, row counts with sqlite3."""
    first = client.search_runs([exp_id], order_by=["attributes.start_time ASC"], max_results=5)
    last = client.search_runs([exp_id], order_by=["attributes.start_time DESC"], max_results=1)
    if len(first) != min(5, runs) or len(last) != 1:
        raise RuntimeError(f"reading back found {len(first)} first runs and {len(last)} last")
    for run, index in [*zip(first, range(runs)), (last[0], runs - 1)]:
        check_run(run, index, exp_id)
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("runs", "params", "metrics", "latest_metrics")}
    want = {"runs": runs, "params": runs * len(PARAMS), "metrics": runs * len(METRICS),
            "latest_metrics": runs * len(METRICS)}
    if counts != want:
        raise RuntimeError(f"{db} holds {counts} rows, expected {want}")


# --- the figures ----------------------------------------------------------------------------


WARM_CALLS = 5


def measure(db: Path, runs: int) -> Result:
    """Every figure, from this (fresh) process; the answers and the load are checked."""
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    t0 = time.perf_counter()
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    open_s = time.perf_counter() - t0
    if experiment is None:
        raise RuntimeError(f"{db} has no experiment {EXPERIMENT!r}; delete it to rebuild")
    exp_id = experiment.experiment_id

    def fluent() -> Any:
        return mlflow.search_runs(experiment_ids=[exp_id], **LEADERBOARD)

    first_s, df_first = timed(fluent)
    # warm: the median of WARM_CALLS calls at small sizes, where one call is a few
    # hundred ms and noise matters (lakeml's side takes a median too); one call above
    warm = [timed(fluent) for _ in range(WARM_CALLS if runs <= 10_000 else 1)]
    warm_s, df_warm = sorted(warm, key=lambda pair: pair[0])[len(warm) // 2]
    client_s, found = timed(lambda: client.search_runs([exp_id], **LEADERBOARD))
    check_leaderboard(board_from_frame(df_first), runs, "mlflow.search_runs (first)")
    check_leaderboard(board_from_frame(df_warm), runs, "mlflow.search_runs (warm)")
    check_leaderboard(board_from_runs(found), runs, "MlflowClient.search_runs")

    export_s = export_rows = export_columns = None
    if runs <= EXPORT_MAX_RUNS:
        export_s, frame = timed(lambda: mlflow.search_runs(experiment_ids=[exp_id],
                                                           max_results=runs))
        export_rows, export_columns = frame.shape
        if export_rows != runs:
            raise RuntimeError(f"export returned {export_rows} runs, stored {runs}")

    check_load(client, db, exp_id, runs)
    return {"open_s": open_s, "leaderboard_first_s": first_s, "leaderboard_warm_s": warm_s,
            "client_search_warm_s": client_s, "export_s": export_s,
            "export_rows": export_rows, "export_columns": export_columns}


def use_pysqlite3() -> None:
    """Make SQLAlchemy's sqlite dialect load ``pysqlite3`` (a newer SQLite) as ``sqlite3``.

    Must run before MLflow opens its first engine: the dialect imports its DB-API then.
    """
    import pysqlite3  # type: ignore[import-not-found]
    import pysqlite3.dbapi2  # type: ignore[import-not-found]

    sys.modules["sqlite3"] = pysqlite3
    sys.modules["sqlite3.dbapi2"] = pysqlite3.dbapi2


def main(runs: int, cache_dir: Path) -> Result:
    """Build the store unless cached, then measure it."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    db = cache_dir / f"mlflow-{runs}.db"
    built = {"cached": True} if db.exists() else {"cached": False,
                                                  "build_s": build_in_child(db, runs)}
    return {"runs": runs, **built,
            "db_mb": db.stat().st_size / 2**20, **measure(db, runs),
            "mlflow_version": mlflow.__version__,
            "sqlite_version": sys.modules["sqlite3"].sqlite_version}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, required=True, help="runs in the experiment")
    parser.add_argument("--cache-dir", type=Path, required=True,
                        help="where mlflow-<runs>.db is built once and reused")
    parser.add_argument("--pysqlite3", action="store_true",
                        help="run MLflow on pysqlite3 (pip install pysqlite3-binary) instead "
                             "of the stdlib sqlite3, to time a current SQLite")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    return args


if __name__ == "__main__":
    args = parse_args()
    cache_dir = args.cache_dir.resolve()
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        if args.build_only:
            build(cache_dir / f"mlflow-{args.runs}.db", args.runs)
        else:
            if args.pysqlite3:
                use_pysqlite3()
            results = main(args.runs, cache_dir)
    if not args.build_only:
        print(json.dumps(results), file=real_stdout)
