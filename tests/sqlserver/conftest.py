"""One real ``lakeml sql-server`` for the session (the CLI, in its own process), on
loopback with an auth file, over a small store the tests make: two experiments,
runs with params, metric histories and tags, a dataset input, and a registered
model with versions and a stage transition."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakeml.sqlserver.auth import md5_verifier, scram_verifier

ROOT = Path(__file__).resolve().parents[2]
USER, PASSWORD = "analyst", "s3cret pass"
MD5_USER, MD5_PASSWORD = "legacy", "old-pw"
RUNS_PER_EXPERIMENT = 6


@dataclass
class SqlServerProcess:
    host: str
    port: int
    store: str
    log: Path

    def dsn(self, user: str = USER, password: str = PASSWORD, **extra: str) -> str:
        parts = {"host": self.host, "port": str(self.port), "user": user,
                 "password": password, "dbname": "lakeml", **extra}
        return " ".join(f"{k}='{v}'" for k, v in parts.items())

    def connect(self, **options: object):  # noqa: ANN201 - a psycopg.Connection
        import psycopg

        return psycopg.connect(self.dsn(), **options)


def make_store(path: str) -> None:
    """The store the tests query."""
    import lakeml
    from lakeml.entities import Dataset, DatasetInput

    client = lakeml.Client(path)
    for exp_name in ("churn", "fraud"):
        exp = client.create_experiment(exp_name)
        for i in range(RUNS_PER_EXPERIMENT):
            run_id = client.create_run(exp, run_name=f"{exp_name}-{i}").info.run_id
            client.log_param(run_id, "alpha", str(i / 10))
            for step in range(3):
                client.log_metric(run_id, "rmse", 1.0 / (i + 1) + step / 100, step=step)
            client.set_tag(run_id, "team", "ml" if i % 2 else "bi")
            if i == 0:
                client.log_inputs(run_id, [DatasetInput(Dataset("train", "d1g3st"),
                                                        "training")])
                model_dir = Path(path).parent / f"{exp_name}-model"
                model_dir.mkdir()
                (model_dir / "MLmodel").write_text("flavors: {}\n")
                client.create_registered_model(f"{exp_name}-model")
                version = client.create_model_version(f"{exp_name}-model", str(model_dir),
                                                      run_id)
                client.transition_model_version_stage(f"{exp_name}-model", version.version,
                                                      "Production")
            client.set_terminated(run_id)
    client.flush()


def start(base: Path, store: str, *options: str) -> tuple[subprocess.Popen, int, Path]:
    """``lakeml sql-server`` over ``store`` on a free port; (process, port, log)."""
    log = base / f"sql-server-{time.monotonic_ns()}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("LAKEML_STORE", "LAKEML_CONF"):
        env.pop(name, None)
    out = open(log, "wb")  # noqa: SIM115 - the server writes it until stopped
    proc = subprocess.Popen([sys.executable, "-m", "lakeml", "sql-server", "--store", store,
                             "--port", "0", *options], cwd=base, env=env, stdout=out,
                            stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"on 127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            port = int(found.group(1))
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                return proc, port, log
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"lakeml sql-server did not start:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = str(tmp_path_factory.mktemp("sqlstore") / "lake")
    make_store(path)
    return path


@pytest.fixture(scope="session")
def sql_server(tmp_path_factory: pytest.TempPathFactory, store: str):
    base = tmp_path_factory.mktemp("sqlserver")
    users = base / "users"
    users.write_text(f"# lakeml sql-server users\n{USER}:{scram_verifier(PASSWORD)}\n"
                     f"{MD5_USER}:{md5_verifier(MD5_USER, MD5_PASSWORD)}\n")
    proc, port, log = start(base, store, "--auth-file", str(users))
    yield SqlServerProcess("127.0.0.1", port, store, log)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def conn(sql_server: SqlServerProcess):
    """A psycopg connection in autocommit mode."""
    with sql_server.connect(autocommit=True) as connection:
        yield connection


def require_tool(path: str | None, what: str) -> str:
    """``path`` if the tool exists; else skip, or fail when CI=true (CI must run it)."""
    if path and Path(path).exists():
        return path
    message = f"{what} is not installed (see .ci/system-packages.txt / make jdbc-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
