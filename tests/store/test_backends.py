"""The same store-facing scenarios on both backends: a local folder and S3 (moto's
server on loopback). Tracking, search, SQL, registry, artifacts and models work alike,
a cold reader of an S3 store reads through the local file cache, and racing processes
on S3 lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import lakeml
import lakeml.sklearn
from lakeml.errors import StoreUnavailable
from lakeml.tracking import backend
from tests.object_store import fresh_prefix


def cold_client(uri: str) -> lakeml.Client:
    """A client that has read nothing yet: as a new process would."""
    lakeml.fluent.reset()
    backend.close_all()
    lakeml.set_store(uri)  # reset() forgot it; models:/ URIs resolve in the fluent store
    return lakeml.Client(uri)


def test_tracking_search_and_sql(any_store: str):
    lakeml.set_experiment("both")
    with lakeml.start_run(run_name="a") as a:
        lakeml.log_params({"alpha": 0.5, "kind": "ridge"})
        for step in range(5):
            lakeml.log_metric("loss", 1.0 / (step + 1), step=step)
        lakeml.set_tag("team", "x")
    with lakeml.start_run(run_name="b") as b:
        lakeml.log_param("alpha", 2.0)
        lakeml.log_metric("loss", 3.0)
    client = cold_client(any_store)
    exp = client.get_experiment_by_name("both")
    run = client.get_run(a.info.run_id)
    assert run.data.params == {"alpha": "0.5", "kind": "ridge"}
    assert run.data.metrics == {"loss": 0.2} and run.data.tags["team"] == "x"
    assert [m.value for m in client.get_metric_history(a.info.run_id, "loss")] == \
        [1.0, 0.5, 1 / 3, 0.25, 0.2]
    found = client.search_runs([exp.experiment_id], "metrics.loss < 1 and params.kind = 'ridge'")
    assert [r.info.run_id for r in found] == [a.info.run_id]
    assert client.sql("SELECT run_id FROM latest_metrics WHERE key = 'loss' AND value > 1"
                      ).fetchall() == [(b.info.run_id,)]


def test_registry_models_and_artifacts(any_store: str, tmp_path: Path):
    from sklearn.linear_model import LinearRegression

    note = tmp_path / "note.txt"
    note.write_text("hello")
    with lakeml.start_run() as run:
        lakeml.log_artifact(str(note), "docs")
        lakeml.sklearn.log_model(LinearRegression().fit([[1.0], [2.0]], [2.0, 4.0]),
                                 name="model", registered_model_name="doubler")
    client = cold_client(any_store)
    client.set_registered_model_alias("doubler", "champion", 1)
    client.transition_model_version_stage("doubler", 1, "Staging")
    assert client.get_model_version_by_alias("doubler", "champion").current_stage == "Staging"
    model = lakeml.pyfunc.load_model("models:/doubler@champion")
    assert model.predict(pd.DataFrame({"x": [3.0]})).tolist() == pytest.approx([6.0])
    assert [f.path for f in client.list_artifacts(run.info.run_id, "docs")] == ["docs/note.txt"]
    out = client.download_artifacts(run.info.run_id, "docs/note.txt", str(tmp_path / "out"))
    assert Path(out).read_text() == "hello"


def test_cold_reads_of_s3_fetch_each_file_once(s3_env: dict[str, str]):
    uri = fresh_prefix()
    lakeml.set_store(uri)
    for i in range(3):
        with lakeml.start_run():
            lakeml.log_metric("m", i)
    from lakeml.store.file_cache import store_folder

    folder = store_folder(uri)  # one folder per store, inside LAKEML_FILE_CACHE
    assert folder.parent == Path(s3_env["LAKEML_FILE_CACHE"])
    assert cold_client(uri).sql("SELECT count(*) FROM runs").fetchall() == [(3,)]
    copies = sorted(p.name for p in folder.iterdir() if p.is_file())
    assert copies and all(name.endswith(".parquet") for name in copies)
    assert cold_client(uri).sql("SELECT count(*) FROM runs").fetchall() == [(3,)]
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == copies  # fetched once


def test_a_sandboxed_query_reads_only_its_own_stores_copies(s3_env: dict[str, str]):
    from lakeml.errors import InvalidArgument
    from lakeml.store.file_cache import store_folder

    first, second = fresh_prefix(), fresh_prefix()
    for uri in (first, second):
        lakeml.set_store(uri)
        with lakeml.start_run():
            lakeml.log_param("p", uri)
    reader = cold_client(first)
    assert reader.sql("SELECT value FROM params").fetchall() == [(first,)]
    cold_client(second).sql("SELECT count(*) FROM params").fetchall()  # its copies exist
    other = store_folder(second)
    with pytest.raises(InvalidArgument):
        reader.sql(f"SELECT * FROM read_parquet('{other}/*.parquet')").fetchall()


def test_unsafe_rename_is_refused(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_S3_ALLOW_UNSAFE_RENAME", "true")
    with pytest.raises(StoreUnavailable, match="AWS_S3_ALLOW_UNSAFE_RENAME"):
        lakeml.Client(fresh_prefix())


RACER = r"""
import sys, lakeml
store, worker, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = lakeml.Client(store)
exp = client.get_experiment_by_name("race")
for i in range(runs):
    run_id = client.create_run(exp.experiment_id, run_name=f"w{worker}-{i}").info.run_id
    client.log_batch(run_id, metrics={f"m{k}": worker * 1000 + i for k in range(3)},
                     params={f"p{k}": f"{worker}-{i}-{k}" for k in range(3)})
    client.set_terminated(run_id)
client.flush()
"""

REGISTRAR = r"""
import sys, lakeml
store, count, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = lakeml.Client(store)
print(",".join(str(client.create_model_version("raced", source).version)
               for i in range(count)))
"""


def race(script: str, env: dict[str, str], *argv_per_process: list[str]) -> list[str]:
    procs = [subprocess.Popen([sys.executable, "-c", script, *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
             for argv in argv_per_process]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    return [out for out, _ in outs]


@pytest.mark.slow
def test_racing_processes_on_s3_lose_nothing(s3_env: dict[str, str], tmp_path: Path):
    from sklearn.linear_model import LinearRegression

    source = str(tmp_path / "saved-model")
    lakeml.sklearn.save_model(LinearRegression().fit([[1.0], [2.0]], [1.0, 2.0]), source)
    uri = fresh_prefix()
    client = lakeml.Client(uri)
    exp_id = client.create_experiment("race")
    client.create_registered_model("raced")
    client.flush()
    env = {**os.environ, "LAKEML_FLUSH_INTERVAL": "0.05"}
    race(RACER, env, *[[uri, str(w), "50"] for w in range(6)])
    versions = race(REGISTRAR, env, *[[uri, "5", source] for _ in range(4)])

    reader = cold_client(uri)
    assert reader.sql("SELECT count(*), count(DISTINCT run_id) FROM runs WHERE "
                      "experiment_id = ? AND status = 'FINISHED'", [exp_id]
                      ).fetchall() == [(300, 300)]
    assert reader.sql("SELECT count(*) FROM params").fetchall() == [(900,)]
    assert reader.sql("SELECT count(*) FROM latest_metrics").fetchall() == [(900,)]
    got = sorted(int(v) for out in versions for v in out.strip().split(","))
    assert got == list(range(1, 21))
    assert sorted(v.version for v in reader.search_model_versions("name = 'raced'")) == \
        list(range(1, 21))
