"""The same views and queries answer the same rows in DuckDB and in Spark."""

from __future__ import annotations

import pytest

import lakeml
import lakeml.spark
from lakeml.query import sqlfiles

from .conftest import build_store, normalized, rounded

VIEWS = [name for name, _ in sqlfiles.view_definitions()]
# Views the sample store fills; the others (logged models, workflows) must agree too, if empty.
FILLED = {"experiments", "experiment_tags", "runs", "params", "metrics", "latest_metrics",
          "tags", "inputs", "registered_models", "model_versions", "model_aliases",
          "registered_model_tags", "model_version_tags", "transition_requests",
          "model_version_comments", "registry_events"}


def duckdb_rows(client: lakeml.Client, query: str, params: dict | None = None) -> list:
    return normalized(client.sql(query, params).fetchall())


def spark_rows(frame) -> list:
    return normalized([tuple(row) for row in frame.collect()])


def test_every_view_has_the_same_rows_in_both_engines(spark, sample_store):
    uri, _ = sample_store
    client = lakeml.Client(uri)
    assert lakeml.spark.register_views(spark, uri) == VIEWS
    for view in VIEWS:
        expected = duckdb_rows(client, f"SELECT * FROM {view}")
        assert expected or view not in FILLED, f"view {view} is empty in the sample store"
        assert spark_rows(spark.table(view)) == expected, view
    # the DataFrame helpers are the same views
    assert spark_rows(lakeml.spark.runs(spark, uri)) == duckdb_rows(client, "SELECT * FROM runs")
    assert lakeml.spark.latest_metrics(spark, uri).columns == [
        "run_id", "key", "value", "step", "timestamp"]


@pytest.mark.parametrize("name, params", [
    ("leaderboard", {"metric": "loss", "ascending": True, "limit": 5}),
    ("leaderboard", {"metric": "accuracy", "ascending": False, "limit": 20}),
    ("best_per_group", {"metric": "accuracy", "param": "depth", "ascending": False}),
    ("metric_by_param", {"metric": "loss", "param": "lr"}),
    ("experiment_keys", {}),
])
def test_sql_queries_agree(spark, sample_store, name, params):
    uri, experiments = sample_store
    client = lakeml.Client(uri)
    args = {"experiment_id": experiments["grid"], **params}
    expected = client.sql(sqlfiles.query(name), args).fetchall()
    got = [tuple(r) for r in lakeml.spark.query(spark, name, uri, **args).collect()]
    assert expected, name
    if name == "metric_by_param":  # sums in another order may differ in the last bit
        got, expected = rounded(got), rounded(expected)
    # same rows in the same order (these queries order fully)
    assert normalized(got) == normalized(expected)
    assert [r[0] for r in got] == [r[0] for r in expected]


def test_views_follow_new_commits(spark, tmp_path):
    uri = str(tmp_path / "lake")
    experiments = build_store(uri)
    lakeml.spark.register_views(spark, uri)
    before = spark.table("runs").count()
    client = lakeml.Client(uri)
    client.create_run(experiments["other"], run_name="late")
    client.flush()
    assert spark.table("runs").count() == before + 1


def test_unknown_view_is_named(spark, sample_store):
    uri, _ = sample_store
    with pytest.raises(lakeml.errors.InvalidArgument, match="'nope'"):
        lakeml.spark.view(spark, "nope", uri)


def test_session_adopts_the_active_one_without_touching_its_settings(spark):
    adopted = lakeml.spark.session(conf={"spark.sql.shuffle.partitions": "99"})
    assert adopted is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"  # the fixture's, kept
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
