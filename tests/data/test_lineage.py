"""Lineage end to end: Delta version -> run -> logged model -> registered version -> alias,
walked upstream and downstream through Client.get_lineage and `lakeml lineage`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from deltalake import write_deltalake

import lakeml
import lakeml.sklearn
from lakeml.errors import InvalidArgument
from tests.conftest import ROOT


@pytest.fixture
def trained(store_uri: str, tmp_path: Path):
    """Two versions of a table; run A trains on v0 and registers churn v1 (@champion),
    run B reads v1 and logs nothing."""
    from sklearn.linear_model import LinearRegression

    table = str(tmp_path / "customers")
    write_deltalake(table, pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]}))
    v0 = lakeml.data.from_delta(table, profile=False)
    write_deltalake(table, pd.DataFrame({"x": [4.0], "y": [8.0]}), mode="append")
    v1 = lakeml.data.from_delta(table, profile=False)
    with lakeml.start_run() as a:
        lakeml.log_input(v0, context="training")
        lakeml.sklearn.log_model(LinearRegression().fit([[1.0], [2.0]], [2.0, 4.0]),
                                 name="model", registered_model_name="churn")
    with lakeml.start_run() as b:
        lakeml.log_input(v1, context="eval")
    client = lakeml.Client(store_uri)
    client.set_registered_model_alias("churn", "champion", 1)
    return client, table, a.info.run_id, b.info.run_id


def test_a_model_traces_back_to_its_data_version(trained):
    client, table, a, _ = trained
    edges = client.get_lineage("models:/churn@champion")
    assert [(e.depth, e.src, e.kind, e.dst) for e in edges] == [
        (1, "models:/churn/1", "alias", "models:/churn@champion"),
        (2, f"runs:/{a}/model", "registered", "models:/churn/1"),
        (3, f"runs:/{a}", "logged_model", f"runs:/{a}/model"),
        (4, f"{table}@v0", "input", f"runs:/{a}"),
    ]
    assert edges[-1].detail == "training" and edges[-1].time is not None
    assert [e.kind for e in client.get_lineage("models:/churn@champion", depth=2)] == [
        "alias", "registered"]


def test_a_data_version_leads_to_its_runs_and_models(trained):
    client, table, a, b = trained
    down = client.get_lineage(f"{table}@v0", "downstream")
    assert [e.dst for e in down] == [f"runs:/{a}", f"runs:/{a}/model", "models:/churn/1",
                                     "models:/churn@champion"]
    assert [e.dst for e in client.get_lineage(f"{table}@v1", "downstream")] == [f"runs:/{b}"]
    # the table without a version: every version of it
    assert {e.dst for e in client.get_lineage(table, "downstream", depth=1)} == {
        f"runs:/{a}", f"runs:/{b}"}


def test_both_ways_from_a_run(trained):
    client, table, a, _ = trained
    both = client.get_lineage(f"runs:/{a}", "both", depth=1)
    assert {(e.src, e.dst) for e in both} == {(f"{table}@v0", f"runs:/{a}"),
                                              (f"runs:/{a}", f"runs:/{a}/model")}
    assert client.get_lineage("models:/nobody/1") == []


@pytest.mark.parametrize("kwargs, words", [
    ({"direction": "sideways"}, "sideways"), ({"depth": 0}, "depth"),
    ({"depth": True}, "depth"), ({"uri": "  "}, "URI")])
def test_bad_arguments_are_named(trained, kwargs: dict, words: str):
    client = trained[0]
    with pytest.raises(InvalidArgument, match=words):
        client.get_lineage(**{"uri": "models:/churn/1", **kwargs})


def test_lineage_command(trained, store_uri: str):
    _, table, a, _ = trained
    lakeml.fluent.reset()  # the command is another process: let it see every row

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lakeml", "lineage", *argv,
                               "--store", store_uri], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)

    up = run("models:/churn@champion", "--format", "csv")
    assert up.returncode == 0, up.stderr
    assert f"{table}@v0,input,runs:/{a}" in up.stdout
    down = run("data", f"{table}@v0")
    assert down.returncode == 0, down.stderr
    assert "models:/churn@champion" in down.stdout
    none = run("data", f"{table}@v9")
    assert none.returncode == 0 and "no lineage recorded" in none.stdout
    bad = run("data")
    assert bad.returncode != 0 and "needs the dataset" in bad.stderr


def test_what_a_model_scored_since_it_was_deployed(trained, store_uri: str, tmp_path: Path):
    """Logged traffic and batch-scoring outputs are downstream of the version (and of an
    alias pointing to it): the model's lineage both ways reaches data -> model -> scores."""
    import numpy as np

    from lakeml.models.inference_log import InferenceLogger, new_request_id
    from lakeml.spark.scoring import record_scoring

    client, table, a, _ = trained
    for source, rows in (("serving", 3), ("serving", 2), ("batch", 4)):
        log = InferenceLogger(store_uri, model_name="churn", model_version=1,
                              model_uuid="u", model_uri="models:/churn@champion",
                              flush_interval=60, source=source)
        log.record(new_request_id(), pd.DataFrame({"x": np.arange(float(rows))}),
                   np.zeros(rows), 1.0, 200)
        log.close()
    scores = str(tmp_path / "scores")
    record_scoring("models:/churn/1", f"{table}@v1", f"{scores}@v0", 4)
    down = client.get_lineage("models:/churn@champion", "downstream")
    found = {(e.src, e.kind, e.dst): e.detail for e in down}
    assert found[("models:/churn/1", "inference_log", "inference_log:serving/churn/1")
                 ].startswith("5 rows since ")
    assert found[("models:/churn/1", "inference_log", "inference_log:batch/churn/1")
                 ].startswith("4 rows since ")
    assert found[("models:/churn/1", "scored", f"{scores}@v0")] == f"4 rows from {table}@v1"
    assert all(e.depth == 1 for e in down)
    # the scores' version traces back to the model, its run and its training data
    up = client.get_lineage(f"{scores}@v0")
    assert {(e.src, e.kind) for e in up} >= {
        ("models:/churn/1", "scored"), (f"{table}@v1", "scored_input"),
        (f"runs:/{a}/model", "registered"), (f"{table}@v0", "input")}
    rows = lakeml.sql("SELECT model_name, model_version, output FROM scoring_outputs"
                      ).fetchall()
    assert rows == [("churn", 1, f"{scores}@v0")]
