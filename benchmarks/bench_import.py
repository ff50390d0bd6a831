"""Time ``lakeml import mlflow`` on an MLflow sqlite store of N runs x (10 params, 10 metrics
x 100 steps): the first import, a second one (which must add nothing) and ``--verify``;
with ``--export``, then ``lakeml export mlflow`` of the imported store to an mlruns folder
(and again, which must add nothing); ``--export-to URL`` exports to a running MLflow server
instead.

The store is made once and cached under benchmarks/.cache: MLflow itself (the side
virtualenv, benchmarks/.venv-mlflow, or LAKEML_MLFLOW_PYTHON) creates an empty database with
its schema, and this script fills it with sqlite3 in bulk (what MLflow's own logging would
take an hour to write). The data are synthetic.runs_columns', with metric ``m<j>`` at step
``s`` worth ``m<j> / (s + 1)``.

    .venv/bin/python benchmarks/bench_import.py --runs 10000
    .venv/bin/python benchmarks/bench_import.py --runs 10000 --db postgresql   # or mysql
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.migrate.db_servers
import synthetic  # noqa: E402
from bench_common import ROOT, markdown  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"
STEPS = 100
CREATE_SCHEMA = """
import sys
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as Registry
uri = sys.argv[1] if "://" in sys.argv[1] else "sqlite:///" + sys.argv[1]
SqlAlchemyStore(uri, sys.argv[2])
Registry(uri)
"""


def mlflow_python() -> str:
    named = os.environ.get("LAKEML_MLFLOW_PYTHON")
    python = Path(named) if named else ROOT / "benchmarks" / ".venv-mlflow" / "bin" / "python"
    if not python.is_file():
        raise SystemExit("no MLflow virtualenv: run `bash benchmarks/setup_mlflow.sh`")
    return str(python)


def _schema_db(artifacts: Path) -> Path:
    """An empty database with MLflow's schema (made by MLflow, once)."""
    path = CACHE / "mlflow-schema.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}
        subprocess.run([mlflow_python(), "-c", CREATE_SCHEMA, str(path), str(artifacts)],
                       check=True, env=env, capture_output=True)
    return path


def build(runs: int) -> Path:
    """The cached MLflow database of ``runs`` runs (built on first use)."""
    path = CACHE / f"mlflow-import-{runs}.db"
    if path.exists():
        return path
    artifacts = CACHE / "mlflow-import-artifacts"
    tmp = path.with_suffix(".tmp")
    shutil.copy(_schema_db(artifacts), tmp)
    con = sqlite3.connect(tmp)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    t0 = time.perf_counter()
    con.execute("INSERT INTO experiments (experiment_id, name, artifact_location, "
                "lifecycle_stage, creation_time, last_update_time) VALUES (1, 'bench', ?, "
                "'active', ?, ?)", (str(artifacts / "1"), synthetic.START_TIME_MS,
                                    synthetic.START_TIME_MS))
    cols = synthetic.runs_columns(0, runs)
    ids = [uuid.UUID(int=i + 1).hex for i in range(runs)]
    starts = cols["start_time_ms"].tolist()
    con.executemany(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, "
        "status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
        "experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', "
        "'active', ?, 1)",
        [(r, f"run-{i}", s, s + 500, str(artifacts / "1" / r / "artifacts"))
         for i, (r, s) in enumerate(zip(ids, starts))])
    con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(k, v, r) for i, r in enumerate(ids)
                     for k, v in (("mlflow.runName", f"run-{i}"), ("mlflow.user", "bench"))])
    con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                    [(p, str(cols[p][i]), r) for i, r in enumerate(ids)
                     for p in synthetic.PARAMS])
    steps = np.arange(STEPS)
    for i, r in enumerate(ids):
        rows = []
        for m in synthetic.METRICS:
            values = (cols[m][i] / (steps + 1)).tolist()
            rows += [(m, values[s], starts[i] + s, r, s, 0) for s in range(STEPS)]
        con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                        "VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, "
                        "run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
                        [(m, float(cols[m][i]) / STEPS, starts[i] + STEPS - 1, STEPS - 1, r)
                         for m in synthetic.METRICS])
    con.commit()
    con.close()
    os.replace(tmp, path)
    print(f"built {path} ({runs:,} runs) in {time.perf_counter() - t0:.0f} s", flush=True)
    return path


# the tables a store of build() fills, and their columns (copied as they are into a server;
# experiment 0, Default, MLflow made in both)
_COPIED = {
    "experiments": "experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
                   "last_update_time",
    "runs": "run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
            "start_time, end_time, source_version, lifecycle_stage, artifact_uri, "
            "experiment_id",
    "tags": '"key", value, run_uuid', "params": '"key", value, run_uuid',
    "metrics": '"key", value, timestamp, run_uuid, step, is_nan',
    "latest_metrics": '"key", value, timestamp, step, is_nan, run_uuid',
}


def _select(table: str, columns: str) -> str:
    return f"SELECT {columns} FROM {table}" + (
        " WHERE experiment_id <> 0" if table == "experiments" else "")


def fill_server(kind: str, db: Path, stack: Any) -> str:
    """A PostgreSQL or MariaDB server on loopback (tests/migrate/db_servers.py, for the
    session) whose database MLflow gave its schema and this copied the sqlite store
    ``db`` into; its URI. PostgreSQL's rows go in through COPY, MariaDB's by multi-row
    INSERTs (PyMySQL's executemany)."""
    from tests.migrate.db_servers import mariadb_server, postgres_server

    uri = stack.enter_context(postgres_server() if kind == "postgresql" else mariadb_server())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH"))}
    subprocess.run([mlflow_python(), "-c", CREATE_SCHEMA, uri,
                    str(CACHE / "mlflow-import-artifacts")], check=True, env=env,
                   capture_output=True)
    t0 = time.perf_counter()
    src = sqlite3.connect(db)
    if kind == "postgresql":
        import psycopg

        with psycopg.connect("postgresql://" + uri.split("://", 1)[1]) as con:
            for table, columns in _COPIED.items():
                nan_at = columns.split(", ").index("is_nan") if "is_nan" in columns else -1
                with con.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in src.execute(_select(table, columns)):
                        if nan_at >= 0:
                            row = (*row[:nan_at], bool(row[nan_at]), *row[nan_at + 1:])
                        copy.write_row(row)
    else:
        from lakeml.migrate.server_db_source import MysqlSource

        con = MysqlSource(uri)._con  # (its session has ANSI quotes: "key" as in _COPIED)
        with con.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ WRITE")
            for table, columns in _COPIED.items():
                marks = ", ".join(["%s"] * len(columns.split(", ")))
                rows = src.execute(_select(table, columns))
                while chunk := rows.fetchmany(20_000):
                    cur.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", chunk)
        con.close()
    src.close()
    print(f"copied the store into {kind} in {time.perf_counter() - t0:.0f} s", flush=True)
    return uri


def _cpu() -> float:
    """CPU seconds of this process so far (all threads): the figure a busy machine's
    other work does not inflate as much as the wall clock."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _time_export(store: str, target: str) -> list[list[str]]:
    """Rows of the first and the second export of ``store`` to ``target``."""
    from lakeml.migrate.exporter import export_mlflow

    rows = []
    for step in ("export to MLflow", "second export (adds nothing)"):
        t0, c0 = time.perf_counter(), _cpu()
        summary = export_mlflow(store, target)
        rows.append([f"{step} ({target.split('://')[0] if '://' in target else 'folder'})",
                     f"{time.perf_counter() - t0:.1f}", f"{_cpu() - c0:.1f}",
                     f"{summary.counts['runs']:,}", f"{summary.counts['metric_points']:,}"])
        print(f"{step}: {rows[-1][1]} s, load average {os.getloadavg()[0]:.1f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--export", action="store_true",
                        help="also time lakeml export mlflow to an mlruns folder")
    parser.add_argument("--export-to", help="export to this MLflow tracking URI instead")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "mysql"], default="sqlite",
                        help="import from the store copied into a PostgreSQL or MariaDB "
                             "server on loopback (Debian's; made for this run) instead")
    args = parser.parse_args(argv)
    os.environ.setdefault("LAKEML_PROGRESS", "off")
    from lakeml.migrate import import_mlflow, verify

    db = build(args.runs)
    rows = []
    with contextlib.ExitStack() as servers, \
            tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        source = f"sqlite:///{db}" if args.db == "sqlite" else fill_server(args.db, db, servers)
        store = str(Path(tmp, "lake"))
        t0, c0 = time.perf_counter(), _cpu()
        first = import_mlflow(source, store)
        first_s = time.perf_counter() - t0
        rows.append(["first import", f"{first_s:.1f}", f"{_cpu() - c0:.1f}",
                     f"{first.counts['runs']:,}", f"{first.counts['metric_points']:,}"])
        print(f"first import: {first_s:.1f} s, load average {os.getloadavg()[0]:.1f}",
              flush=True)
        t0, c0 = time.perf_counter(), _cpu()
        again = import_mlflow(source, store)
        rows.append(["second import (adds nothing)", f"{time.perf_counter() - t0:.1f}",
                     f"{_cpu() - c0:.1f}", f"{again.counts['runs']:,}",
                     f"{again.counts['metric_points']:,}"])
        t0, c0 = time.perf_counter(), _cpu()
        _, differences = verify(source, store)
        rows.append(["--verify", f"{time.perf_counter() - t0:.1f}", f"{_cpu() - c0:.1f}",
                     "", ""])
        if args.export or args.export_to:
            rows += _time_export(store, args.export_to or str(Path(tmp, "mlruns")))
        from lakeml.tracking import backend

        backend.close_all()  # commit and stop before the folder goes
    print(f"\nlakeml import mlflow, {args.runs:,} runs x (10 params, 10 metrics x {STEPS} "
          f"steps) from {args.db}\n")
    print(markdown(["step", "seconds", "CPU seconds", "runs written", "metric points written"],
                   rows))
    print(f"\nverify: {'no differences' if not differences else differences}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
