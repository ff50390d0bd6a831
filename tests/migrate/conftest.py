"""The MLflow stores the import tests read, written once per session by the real MLflow.

One subprocess (MLflow is slow to import) fills a sqlite store and a file store
alike: two experiments (one deleted), nested runs, metric histories with a NaN, params,
tags, a dataset input, an artifact, a FAILED and a deleted run, a logged scikit-learn
model (skops, MLflow 3's default) registered as three versions in three stages with an
alias, tags and descriptions. It saves MLflow's predictions of that model, and dumps
everything MLflow's client reads back as JSON: the expected values. For the incremental
import, the sqlite store is copied (``mlflow-v1.db``) before MLflow adds a run, a metric
point and a tag change. Another subprocess fills a PostgreSQL and a MariaDB database the
same way (``mlflow_databases``: real servers on loopback, see ``db_servers``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.mlflow_venv import run_mlflow

# What MLflow's client reads of a store (also how tests/migrate/test_export_mlflow.py reads
# lakeml's exports back).
DUMP = r'''
import json, os, shutil, sys
import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType

def dump(uri):
    c = MlflowClient(uri, uri)
    exps = c.search_experiments(view_type=ViewType.ALL)
    out = {"experiments": {e.experiment_id: {
        "name": e.name, "lifecycle_stage": e.lifecycle_stage, "tags": dict(e.tags),
        "creation_time": e.creation_time} for e in exps}, "runs": {}}
    for run in c.search_runs([e.experiment_id for e in exps], run_view_type=ViewType.ALL):
        i = run.info
        out["runs"][i.run_id] = {
            "experiment_id": i.experiment_id, "run_name": i.run_name, "user_id": i.user_id,
            "status": i.status, "start_time": i.start_time, "end_time": i.end_time,
            "lifecycle_stage": i.lifecycle_stage, "params": run.data.params,
            "tags": run.data.tags, "metrics": {
                key: [[m.step, m.timestamp, m.value] for m in c.get_metric_history(i.run_id, key)]
                for key in run.data.metrics},
            "inputs": [[d.dataset.name, d.dataset.digest, d.dataset.source_type,
                        d.dataset.source, d.dataset.schema, d.dataset.profile,
                        {t.key: t.value for t in d.tags}]
                       for d in run.inputs.dataset_inputs],
            "artifacts": sorted(f.path for f in c.list_artifacts(i.run_id, "docs"))}
    rm = c.get_registered_model("reg")
    out["registry"] = {"description": rm.description, "tags": rm.tags, "aliases": rm.aliases,
                       "creation_timestamp": rm.creation_timestamp, "versions": {
        str(v.version): {"current_stage": v.current_stage, "description": v.description,
                         "tags": v.tags, "run_id": v.run_id,
                         "creation_timestamp": v.creation_timestamp}
        for v in c.search_model_versions("name='reg'")}}
    return out

'''

# How the MLflow stores are filled (the same for every kind of store).
POPULATE = r'''
import numpy as np, pandas as pd
from sklearn.linear_model import LinearRegression

X = np.arange(20.0).reshape(10, 2)
y = X @ np.array([1.0, 2.0]) + 0.5
T0 = 1_700_000_000_000

def populate(uri):
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    c = MlflowClient()
    exp_a = mlflow.create_experiment("exp-a", tags={"team": "lake"})
    exp_gone = mlflow.create_experiment("exp-gone")
    with mlflow.start_run(experiment_id=exp_gone, run_name="lost"):
        mlflow.log_param("p", 1)
    c.delete_experiment(exp_gone)
    with mlflow.start_run(experiment_id=exp_a, run_name="parent") as parent:
        mlflow.log_params({"alpha": 0.5, "layers": 3})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=T0 + step)
        mlflow.log_metric("nan_metric", float("nan"))
        mlflow.set_tag("stage", "dev")
        mlflow.set_tags({"empty": "", "note": 'two\nlines, a "quote"', "digits": "007"})
        for i in range(2):
            with mlflow.start_run(run_name=f"child-{i}", nested=True):
                mlflow.log_param("i", i)
                mlflow.log_metric("acc", 0.5 + i / 10, step=i)
        with open("notes.txt", "w") as fh:
            fh.write("hello from mlflow")
        mlflow.log_artifact("notes.txt", "docs")
        ds = mlflow.data.from_pandas(pd.DataFrame(X, columns=["a", "b"]),
                                     source="s3://bucket/train.csv", name="train")
        mlflow.log_input(ds, context="training")
        info = mlflow.sklearn.log_model(LinearRegression().fit(X, y), name="model")
    with mlflow.start_run(experiment_id=exp_a, run_name="failed-run") as failed:
        pass
    c.set_terminated(failed.info.run_id, "FAILED")
    with mlflow.start_run(experiment_id=exp_a, run_name="deleted-run") as gone:
        mlflow.log_metric("x", 1.0)
    c.delete_run(gone.info.run_id)
    c.create_registered_model("reg", tags={"owner": "ml"}, description="the regressor")
    for stage in ("Archived", "Production", "Staging"):
        v = c.create_model_version("reg", info.model_uri, run_id=parent.info.run_id,
                                   description=f"for {stage}", model_id=info.model_id)
        c.transition_model_version_stage("reg", v.version, stage)
    c.set_model_version_tag("reg", "2", "validated", "yes")
    c.set_registered_model_alias("reg", "champion", "2")
    np.save("pred.npy", np.asarray(mlflow.pyfunc.load_model(info.model_uri).predict(X)))
    return exp_a, parent.info.run_id

'''

SCRIPT = DUMP + POPULATE + r'''
here = os.getcwd()
result = {}
os.makedirs("sqlite", exist_ok=True)
os.chdir("sqlite")
exp_a, parent = populate("sqlite:///" + os.path.abspath("mlflow.db"))
shutil.copy("mlflow.db", "mlflow-v1.db")
result["sqlite_v1"] = dump("sqlite:///" + os.path.abspath("mlflow-v1.db"))
c = MlflowClient()
c.log_metric(parent, "loss", 0.1, step=5, timestamp=T0 + 5)
c.set_tag(parent, "stage", "prod")
with mlflow.start_run(experiment_id=exp_a, run_name="late") as late:
    mlflow.log_param("late", "yes")
result["sqlite"] = dump("sqlite:///" + os.path.abspath("mlflow.db"))
result["late_run"] = late.info.run_id
os.chdir(here)
os.makedirs("file", exist_ok=True)
os.chdir("file")
populate("file://" + os.path.abspath("mlruns"))
result["file"] = dump("file://" + os.path.abspath("mlruns"))
result["X"] = X.tolist()
print(json.dumps(result))
'''


@pytest.fixture(scope="session")
def mlflow_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The folder of both MLflow stores and the expected values MLflow's client read."""
    folder = tmp_path_factory.mktemp("mlflow-stores")
    out = run_mlflow(SCRIPT, cwd=folder, env={"MLFLOW_ALLOW_FILE_STORE": "true",
                                              "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"})
    out["folder"] = folder
    out["uris"] = {"sqlite": f"sqlite:///{folder / 'sqlite' / 'mlflow.db'}",
                   "sqlite_v1": f"sqlite:///{folder / 'sqlite' / 'mlflow-v1.db'}",
                   "file": str(folder / "file" / "mlruns")}
    return out


# The database stores: the same population, written by MLflow into PostgreSQL and MariaDB.
DATABASES = DUMP + POPULATE + r'''
here = os.getcwd()
result = {}
for kind, uri in json.loads(sys.argv[1]).items():
    os.makedirs(kind, exist_ok=True)
    os.chdir(kind)
    populate(uri)
    result[kind] = dump(uri)
    os.chdir(here)
result["X"] = X.tolist()
print(json.dumps(result))
'''


@pytest.fixture(scope="session")
def mlflow_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A PostgreSQL and a MariaDB server on loopback (tests/migrate/db_servers.py), each
    with a database the real MLflow filled as the other stores; their URIs (``uris``), the
    values MLflow's client read back (by kind) and the folder of their artifacts."""
    import json
    from contextlib import ExitStack

    from tests.migrate.db_servers import mariadb_server, postgres_server

    folder = tmp_path_factory.mktemp("mlflow-databases")
    with ExitStack() as servers:
        uris = {"postgresql": servers.enter_context(postgres_server()),
                "mysql": servers.enter_context(mariadb_server())}
        out = run_mlflow(DATABASES, json.dumps(uris), cwd=folder,
                         env={"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"})
        out["folder"] = folder
        out["uris"] = uris
        yield out


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` (sqlite, artifacts through its proxy) on loopback; its URL."""
    import socket
    import subprocess
    import time

    import httpx

    from tests.mlflow_venv import mlflow_python

    folder = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed after the server
    proc = subprocess.Popen(
        [str(mlflow_python()), "-m", "mlflow", "server", "--backend-store-uri",
         f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination", str(folder / "art"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--uvicorn-opts", "--timeout-worker-healthcheck 120"],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        # no background job runner (a dozen huey worker processes the tests do not use)
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LAKEML_"))},
             "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, (folder / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server not up after 300 s"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield url
    finally:  # the server and its uvicorn worker: the process group it leads
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever of the group outlived the server
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        log.close()
