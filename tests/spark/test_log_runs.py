"""lakeml.spark.log_runs: a DataFrame of trials becomes runs identical to the pandas path's."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pytest

import lakeml
import lakeml.spark
from lakeml.errors import InvalidArgument

COLUMNS = {
    "params.lr": [0.1, 1e-5, 1.0, float("nan")],
    "params.kind": ["a", "b", None, "d"],
    "params.ratio": [0.1, 0.2, 0.3, 1e-7],  # float32 below: its own shortest text, "0.1"
    "metrics.loss": [0.5, float("nan"), 0.25, None],
    "metrics.acc": [0.9, 0.8, 0.7, 0.6],
    "tags.sweep": ["s1", "s1", "s1", "s2"],
    "status": ["FINISHED", "FINISHED", "FAILED", "FINISHED"],
    "start_time": [1_790_000_000_000 + i for i in range(4)],
    "end_time": [1_790_000_100_000 + i for i in range(4)],
}
# Arrow keeps None (no value) apart from NaN, as Spark does
TRIALS = pa.table(COLUMNS).set_column(
    2, "params.ratio", pa.array(COLUMNS["params.ratio"], pa.float32()))
SPARK_SCHEMA = ("`params.lr` double, `params.kind` string, `params.ratio` float, "
                "`metrics.loss` double, "
                "`metrics.acc` double, `tags.sweep` string, status string, start_time long, "
                "end_time long")


def contents(client: lakeml.Client, experiment_id: str) -> list[tuple]:
    """Each run's data without its id: (status, times, params, metrics, user tags)."""
    out = []
    for run in client.search_runs([experiment_id], max_results=1000):
        tags = {k: v for k, v in run.data.tags.items()
                if not k.startswith(("mlflow.", "lakeml."))}
        metrics = {k: repr(v) for k, v in run.data.metrics.items()}
        out.append((run.info.status, run.info.start_time, run.info.end_time,
                    sorted(run.data.params.items()), sorted(metrics.items()),
                    sorted(tags.items())))
    return sorted(out, key=repr)


def test_spark_and_pandas_log_the_same_runs(spark, tmp_path):
    uri = str(tmp_path / "lake")
    client = lakeml.Client(uri)
    from_pandas = client.create_experiment("pandas")
    client.log_runs(from_pandas, TRIALS, tags={"origin": "x"})
    client.flush()

    frame = spark.createDataFrame(list(zip(*COLUMNS.values())), SPARK_SCHEMA)
    assert frame.where("`params.kind` IS NULL").count() == 1
    logged = lakeml.spark.log_runs(frame, "spark", store=uri, tags={"origin": "x"})
    ids = [r["run_id"] for r in logged.collect()]
    assert len(set(ids)) == 4 and all(len(i) == 32 and i[12] == "7" for i in ids)
    assert [r["run_id"] for r in logged.collect()] == ids  # materialised: stable ids

    fresh = lakeml.Client(uri)
    spark_exp = fresh.get_experiment_by_name("spark").experiment_id
    assert contents(fresh, spark_exp) == contents(fresh, from_pandas)
    assert sorted(r.info.run_id for r in fresh.search_runs([spark_exp])) == sorted(ids)
    by_lr = {r.data.params.get("lr"): r for r in fresh.search_runs([spark_exp])}
    assert set(by_lr) == {"0.1", "0.00001", "1.0", "nan"}  # as the pandas path writes them
    assert by_lr["0.1"].data.params["ratio"] == "0.1"
    assert math.isnan(by_lr["0.00001"].data.metrics["loss"])
    assert "loss" not in by_lr["nan"].data.metrics  # a null metric is no metric
    # the SQL views see them as well, latest_metrics included
    best = fresh.sql("SELECT r.run_id FROM runs r JOIN latest_metrics m USING (run_id) "
                     "WHERE r.experiment_id = ? AND m.key = 'acc' ORDER BY m.value DESC "
                     "LIMIT 1", [spark_exp]).fetchall()
    assert best == [(by_lr["0.1"].info.run_id,)]


def test_bad_trials_are_refused_before_anything_is_written(spark, tmp_path):
    uri = str(tmp_path / "lake")
    with pytest.raises(InvalidArgument, match="'loss'"):
        lakeml.spark.log_runs(spark.createDataFrame(pd.DataFrame({"loss": [1.0]})), "e",
                              store=uri)
    with pytest.raises(InvalidArgument, match="'DONE'"):
        lakeml.spark.log_runs(spark.createDataFrame(
            pd.DataFrame({"metrics.m": [1.0], "status": ["DONE"]})), "e", store=uri)
    with pytest.raises(InvalidArgument, match="exactly one"):
        lakeml.spark.log_runs(spark.createDataFrame(pd.DataFrame({"metrics.m": [1.0]})),
                              store=uri)
    client = lakeml.Client(uri)
    assert client.get_experiment_by_name("e") is None  # not even the experiment
    assert client.sql("SELECT count(*) FROM lake_runs").fetchall() == [(0,)]
    assert client.sql("SELECT count(*) FROM lake_metrics").fetchall() == [(0,)]
