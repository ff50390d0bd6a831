"""Models in Spark: batch scoring through spark_udf, and the Spark ML flavor round trip."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import lakeml
import lakeml.pyfunc
import lakeml.sklearn
import lakeml.spark_ml
from lakeml.errors import InvalidArgument

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = COLUMNS
    return X, y


@pytest.fixture
def logged(store_uri: str, iris: tuple[pd.DataFrame, pd.Series]) -> tuple[Any, str, str]:
    """A LogisticRegression logged twice in one run: as predict and as predict_proba."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    with lakeml.start_run():
        labels = lakeml.sklearn.log_model(model, "model", input_example=X.head(3))
        proba = lakeml.sklearn.log_model(model, "proba", input_example=X.head(3),
                                         pyfunc_predict_fn="predict_proba")
    return model, labels.model_uri, proba.model_uri


def test_spark_udf_gives_the_native_predictions(spark: Any, logged: tuple[Any, str, str],
                                                iris: tuple[pd.DataFrame, pd.Series]) -> None:
    from pyspark.sql.functions import struct

    model, labels_uri, proba_uri = logged
    X, _ = iris
    assert labels_uri.startswith("runs:/")
    # Columns in another order and under other names than the signature's: udf(*cols)
    # maps by position, udf(struct) by field name.
    renamed = X.rename(columns={c: f"f{i}" for i, c in enumerate(COLUMNS)})
    frame = pd.concat([renamed, X[COLUMNS[::-1]]], axis=1).assign(row=range(len(X)))
    df = spark.createDataFrame(frame)
    labels = lakeml.pyfunc.spark_udf(spark, labels_uri, result_type="long")
    proba = lakeml.pyfunc.spark_udf(spark, proba_uri, result_type="array<double>")
    rows = sorted(df.select(
        "row",
        labels("f0", "f1", "f2", "f3").alias("by_position"),
        labels(struct(*COLUMNS)).alias("by_name"),
        proba("f0", "f1", "f2", "f3").alias("proba"),
    ).collect())
    assert [r.row for r in rows] == list(range(len(X)))
    expected = model.predict(X)
    np.testing.assert_array_equal([r.by_position for r in rows], expected)
    np.testing.assert_array_equal([r.by_name for r in rows], expected)
    np.testing.assert_allclose([r.proba for r in rows], model.predict_proba(X), rtol=1e-12)


def test_spark_udf_signature_violation_names_the_column(
        spark: Any, logged: tuple[Any, str, str], iris: tuple[pd.DataFrame, pd.Series]) -> None:
    from pyspark.errors import PythonException

    _, labels_uri, _ = logged
    X, _ = iris
    df = spark.createDataFrame(X.head(4).astype({"petal_width": str}))
    udf = lakeml.pyfunc.spark_udf(spark, labels_uri, result_type="long")
    with pytest.raises(PythonException, match="column 'petal_width' has type string, which "
                                              "cannot be converted to the signature's type "
                                              "double"):
        df.select(udf(*COLUMNS)).collect()
    for bad in ("tensor<double>", "map<string,double>"):
        with pytest.raises(InvalidArgument, match=f"result_type {bad!r} is not"):
            lakeml.pyfunc.spark_udf(spark, labels_uri, result_type=bad)
    with pytest.raises(InvalidArgument, match="env_manager 'conda' is not supported"):
        lakeml.pyfunc.spark_udf(spark, labels_uri, env_manager="conda")


class LoadRecorder(lakeml.pyfunc.PythonModel):
    """Appends its process id to a file each time it is loaded; predicts twice the input."""

    def load_context(self, context: Any) -> None:
        with open(context.model_config["loads"], "a") as out:
            out.write(f"{os.getpid()}\n")

    def predict(self, context: Any, model_input: pd.DataFrame) -> Any:
        return model_input.iloc[:, 0] * 2.0


def test_spark_udf_loads_the_model_once_per_worker(spark: Any, tmp_path: Path) -> None:
    loads = tmp_path / "loads.txt"
    lakeml.pyfunc.save_model(tmp_path / "m", python_model=LoadRecorder(),
                             model_config={"loads": str(loads)})
    loads.unlink(missing_ok=True)
    udf = lakeml.pyfunc.spark_udf(spark, str(tmp_path / "m"))
    partitions, batch = 8, 50
    previous = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
    try:  # 8 tasks of 5 Arrow batches each
        rows = spark.range(0, partitions * 5 * batch, numPartitions=partitions) \
            .selectExpr("cast(id as double) as x").select(udf("x").alias("y")).collect()
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous)
    assert sorted(r.y for r in rows) == [2.0 * i for i in range(partitions * 5 * batch)]
    pids = loads.read_text().split()
    assert len(pids) == len(set(pids)), pids  # no worker process loaded it twice
    assert 1 <= len(pids) < partitions  # so some tasks found it loaded


class Echo(lakeml.pyfunc.PythonModel):
    """Returns its first column as it is."""

    def predict(self, context: Any, model_input: pd.DataFrame) -> Any:
        return model_input.iloc[:, 0]


def test_spark_udf_results_never_wrap_and_nulls_stay_null(spark: Any, tmp_path: Path) -> None:
    lakeml.pyfunc.save_model(tmp_path / "m", python_model=Echo())
    df = spark.createDataFrame([(1.5,), (float("nan"),), (3e9,)], "x double").coalesce(1)
    as_text = lakeml.pyfunc.spark_udf(spark, str(tmp_path / "m"), result_type="string")
    assert [r.y for r in df.select(as_text("x").alias("y")).collect()] == \
        ["1.5", None, "3000000000.0"]  # NaN was the string "nan"
    as_int = lakeml.pyfunc.spark_udf(spark, str(tmp_path / "m"), result_type="int")
    with pytest.raises(Exception, match=r"result_type is int, but the model returns "
                                        r"3000000000.0, outside its range"):
        df.where("x = 3e9").select(as_int("x")).collect()  # was -1294967296


@pytest.mark.parametrize(("values", "result_type", "message"), [
    ([300.0], "byte", r"returns 300.0, outside its range \[-128, 127\]"),  # was 44
    ([2**40], "int", r"returns 1099511627776, outside its range"),
    ([2.0**63], "long", r"returns 9.223372036854776e\+18, outside its range.*use 'double'"),
])
def test_to_result_refuses_integers_out_of_range(values: list[Any], result_type: str,
                                                 message: str) -> None:
    from pyspark.sql import types as T

    from lakeml.models.spark_udf import to_result

    out_type = {"byte": T.ByteType(), "int": T.IntegerType(), "long": T.LongType()}[result_type]
    with pytest.raises(InvalidArgument, match=message):
        to_result(np.array(values), out_type, len(values))
    assert to_result(np.array([-128.0, 127.0]), T.ByteType(), 2).tolist() == [-128, 127]


def _predictions(model: Any, df: Any) -> list[float]:
    return [r.prediction for r in model.transform(df).select("prediction").collect()]


def test_spark_ml_pipeline_round_trip(spark: Any, tmp_path: Path, store_uri: str,
                                      iris: tuple[pd.DataFrame, pd.Series]) -> None:
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    X, y = iris
    train = spark.createDataFrame(X.assign(label=y.astype(float)))
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=COLUMNS, outputCol="features"),
                                LogisticRegression(maxIter=20)]).fit(train)
    expected = _predictions(pipeline, spark.createDataFrame(X))

    lakeml.spark_ml.save_model(pipeline, tmp_path / "m", input_example=X.head(3))
    assert (tmp_path / "m" / "sparkml" / "stages").is_dir()
    native = lakeml.spark_ml.load_model(str(tmp_path / "m"))
    assert isinstance(native, PipelineModel) and len(native.stages) == 2
    np.testing.assert_array_equal(_predictions(native, spark.createDataFrame(X)), expected)

    pyfunc = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    assert pyfunc.metadata.flavors["python_function"]["loader_module"] == "lakeml.spark_ml"
    assert [s.name for s in pyfunc.metadata.signature.inputs.specs] == COLUMNS
    np.testing.assert_array_equal(pyfunc.predict(X), expected)
    with pytest.raises(InvalidArgument, match="missing column 'petal_width'"):
        pyfunc.predict(X.drop(columns="petal_width"))
    with pytest.raises(InvalidArgument, match="is a Spark ML model"):
        lakeml.pyfunc.spark_udf(spark, str(tmp_path / "m"))
    info = lakeml.spark_ml.log_model(pipeline, "model")  # copied into the run's artifacts
    lakeml.end_run()
    by_run = lakeml.spark_ml.load_model(info.model_uri)
    assert [type(s) for s in by_run.stages] == [type(s) for s in pipeline.stages]
    assert by_run.stages[1].coefficientMatrix == pipeline.stages[1].coefficientMatrix
    with pytest.raises(InvalidArgument, match="fitted pyspark.ml PipelineModel or Model, "
                                              "got Pipeline"):
        lakeml.spark_ml.save_model(Pipeline(stages=[]), tmp_path / "n")
