"""Spark and lakeml on one S3 store (moto's server on loopback): Spark reads through
``s3a://`` what lakeml's Python side wrote to ``s3://``, and what Spark writes there
reads back in a new lakeml reader (DuckDB over the local file cache)."""

from __future__ import annotations

import os

import pytest

import lakeml
import lakeml.spark
from lakeml.errors import InvalidState
from lakeml.spark import jars
from lakeml.spark.s3a import hadoop_settings
from lakeml.spark.session import SINGLE_WRITER_ENV, unsafe_s3_commit
from lakeml.tracking import backend
from tests.object_store import fresh_prefix


@pytest.fixture
def s3_spark(spark, s3_env: dict[str, str]):
    """The shared session, pointed at moto through lakeml's own settings (it started
    before moto's address was known)."""
    if not jars.has_s3a():
        pytest.fail(f"the s3a jars are not in {jars.jar_dir()}: run `lakeml spark-jars` "
                    "(make setup does)")
    lakeml.spark.configure_s3a(spark)
    return spark


def test_hadoop_settings_follow_lakeml_s3_settings():
    env = {"AWS_ENDPOINT_URL": "https://minio.local:9000", "AWS_REGION": "eu-west-1",
           "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
           "AWS_SESSION_TOKEN": "t"}
    assert hadoop_settings({}, env) == {
        "fs.s3a.endpoint": "https://minio.local:9000", "fs.s3a.path.style.access": "true",
        "fs.s3a.connection.ssl.enabled": "true", "fs.s3a.endpoint.region": "eu-west-1",
        "fs.s3a.access.key": "k", "fs.s3a.secret.key": "s", "fs.s3a.session.token": "t",
        "fs.s3a.aws.credentials.provider":
            "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"}
    # conf/lakeml.yaml's storage options win over the environment; virtual-hosted asked
    options = {"aws_endpoint_url": "http://127.0.0.1:1", "AWS_VIRTUAL_HOSTED_STYLE_REQUEST":
               "true"}
    settings = hadoop_settings(options, env)
    assert settings["fs.s3a.endpoint"] == "http://127.0.0.1:1"
    assert settings["fs.s3a.path.style.access"] == "false"
    assert settings["fs.s3a.connection.ssl.enabled"] == "false"
    assert hadoop_settings({}, {}) == {}  # AWS itself: s3a's defaults and credential chain


def test_spark_commits_to_s3_only_when_nothing_can_race_them():
    assert unsafe_s3_commit("/tmp/lake", None, False) is None
    assert unsafe_s3_commit("s3://b/lake", "io.delta.storage.S3DynamoDBLogStore", False) is None
    assert unsafe_s3_commit("s3://b/lake", None, True) is None
    reason = unsafe_s3_commit("s3://b/lake", None, False)
    assert reason is not None and "'s3://b/lake'" in reason and SINGLE_WRITER_ENV in reason


def test_spark_reads_and_writes_an_s3_store(s3_spark, tmp_path, monkeypatch):
    uri = fresh_prefix()
    client = lakeml.Client(uri)
    exp = client.create_experiment("from-python")
    logged = {}
    for i in range(3):
        run = client.create_run(exp, run_name=f"py-{i}")
        client.log_batch(run.info.run_id, metrics={"loss": i / 4}, params={"depth": str(i)})
        client.set_terminated(run.info.run_id)
        logged[run.info.run_id] = i
    client.flush()

    # Spark reads the Python side's commits through s3a:// (the raw tables: the views over
    # them are the same SQL on any path, tested on local stores; each view registration
    # resolves every table, which moto under load makes slow)
    rows = lakeml.spark.table(s3_spark, "runs", uri).select("run_id", "run_name", "status")
    assert sorted((tuple(r) for r in rows.collect()), key=repr) == sorted(
        [(rid, f"py-{i}", "RUNNING") for rid, i in logged.items()]  # created, then finished
        + [(rid, None, "FINISHED") for rid in logged], key=repr)
    points = lakeml.spark.table(s3_spark, "metrics", uri).select("run_id", "key", "value")
    assert sorted(tuple(r) for r in points.collect()) == \
        sorted((rid, "loss", i / 4) for rid, i in logged.items())

    # Spark writes runs to the same store; a new lakeml reader sees them with their data
    trials = s3_spark.createDataFrame(
        [(0.1, 0.9), (0.01, 0.7)], "`params.lr` double, `metrics.acc` double")
    with pytest.raises(InvalidState, match="spark.delta.logStore.s3a.impl"):
        lakeml.spark.log_runs(trials, "from-spark", store=uri)  # not while others write
    monkeypatch.setenv(SINGLE_WRITER_ENV, "true")  # nothing else writes now
    written = lakeml.spark.log_runs(trials, "from-spark", store=uri)
    spark_ids = {r.run_id for r in written.select("run_id").collect()}
    backend.close_all()
    cold = lakeml.Client(uri)
    found = cold.search_runs([cold.get_experiment_by_name("from-spark").experiment_id],
                             order_by=["metrics.acc DESC"])
    assert [(r.info.run_id in spark_ids, r.data.params, r.data.metrics) for r in found] == [
        (True, {"lr": "0.1"}, {"acc": 0.9}), (True, {"lr": "0.01"}, {"acc": 0.7})]
    assert len(cold.search_runs([exp])) == 3  # the Python side's runs are intact
    # the reader read the data files from its local copies, not through Spark
    assert os.listdir(os.environ["LAKEML_FILE_CACHE"])
