"""Spark ML autologging on a local Spark: a Pipeline fit and a CrossValidator."""

from __future__ import annotations

from typing import Any

import pytest

import lakeml
import lakeml.spark_ml

pytestmark = pytest.mark.usefixtures("autolog_off")


@pytest.fixture(scope="module")
def iris_df(spark: Any) -> Any:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sl", "sw", "pl", "pw"]
    pdf = X.assign(label=(y == 2).astype(float))
    return spark.createDataFrame(pdf)


def _runs() -> list[Any]:
    lakeml.flush()
    return lakeml.search_runs(search_all_experiments=True, output_format="list")


def test_pipeline_fit_logs_stage_params_and_the_model(iris_df: Any) -> None:
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    lakeml.spark_ml.autolog()
    pipeline = Pipeline(stages=[VectorAssembler(inputCols=["sl", "sw", "pl", "pw"],
                                                outputCol="features"),
                                LogisticRegression(maxIter=7, regParam=0.05)])
    model = pipeline.fit(iris_df)
    (run,) = _runs()  # the stages' own fits logged nothing
    params = run.data.params
    assert params["stages"] == "['VectorAssembler', 'LogisticRegression']"
    assert params["LogisticRegression.maxIter"] == "7"
    assert params["LogisticRegression.regParam"] == "0.05"
    assert params["VectorAssembler.outputCol"] == "features"
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.tags["mlflow.autologging"] == "spark_ml"
    loaded = lakeml.spark_ml.load_model(f"runs:/{run.info.run_id}/model")
    expected = [r.prediction for r in model.transform(iris_df).select("prediction").collect()]
    assert [r.prediction for r in loaded.transform(iris_df).select("prediction").collect()] \
        == expected


# pyspark's tuners leave their ThreadPool to the garbage collector, which reports it
@pytest.mark.filterwarnings("ignore:Exception ignored in. <function Pool.__del__"
                            ":pytest.PytestUnraisableExceptionWarning")
def test_cross_validator_logs_children_and_the_best_model(iris_df: Any) -> None:
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    data = VectorAssembler(inputCols=["sl", "sw", "pl", "pw"],
                           outputCol="features").transform(iris_df)
    lr = LogisticRegression(maxIter=5)
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.5, 2.0]).build()
    lakeml.spark_ml.autolog(max_tuning_runs=2)
    cv = CrossValidator(estimator=lr, estimatorParamMaps=grid,
                        evaluator=BinaryClassificationEvaluator(), numFolds=2, seed=3,
                        parallelism=2)  # candidates fit in worker threads
    model = cv.fit(data)
    runs = _runs()
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2  # no run for any fold or candidate fit

    metrics = model.avgMetrics
    best = max(range(3), key=lambda i: metrics[i])
    assert parent.data.params["numFolds"] == "2"
    assert parent.data.params["estimator"] == "LogisticRegression"
    assert parent.data.params["evaluator"] == "BinaryClassificationEvaluator"
    assert parent.data.params["estimator.maxIter"] == "5"
    assert parent.data.params["best_regParam"] == str(grid[best][lr.regParam])
    assert parent.data.metrics["best_avg_areaUnderROC"] == pytest.approx(metrics[best])
    top_two = sorted(range(3), key=lambda i: -metrics[i])[:2]
    got = {r.data.params["regParam"]: r.data.metrics["avg_areaUnderROC"] for r in children}
    assert got == pytest.approx({str(grid[i][lr.regParam]): metrics[i] for i in top_two})
    loaded = lakeml.spark_ml.load_model(f"runs:/{parent.info.run_id}/model")
    assert loaded.stages[0].getRegParam() == model.bestModel.getRegParam()


@pytest.mark.filterwarnings("ignore:Exception ignored in. <function Pool.__del__"
                            ":pytest.PytestUnraisableExceptionWarning")
def test_train_validation_split_logs_every_candidate_with_max_tuning_runs_none(
        iris_df: Any) -> None:
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression
    from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

    data = VectorAssembler(inputCols=["sl", "sw", "pl"], outputCol="features") \
        .transform(iris_df).withColumnRenamed("pw", "target")
    lin = LinearRegression(labelCol="target")
    grid = ParamGridBuilder().addGrid(lin.regParam, [0.0, 1.0]).build()
    lakeml.spark_ml.autolog(max_tuning_runs=None, log_models=False)
    tvs = TrainValidationSplit(estimator=lin, estimatorParamMaps=grid, trainRatio=0.7,
                               evaluator=RegressionEvaluator(labelCol="target"), seed=5)
    model = tvs.fit(data)
    runs = _runs()
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(runs) == 3  # parent + both candidates
    rmse = model.validationMetrics
    best = min(range(2), key=lambda i: rmse[i])  # RMSE: smaller is better
    assert parent.data.metrics == {"best_rmse": pytest.approx(rmse[best])}
    assert parent.data.params["best_regParam"] == str(grid[best][lin.regParam])
    assert parent.data.params["trainRatio"] == "0.7"
    children = {r.data.params["regParam"]: r.data.metrics["rmse"] for r in runs
                if r.info.run_id != parent.info.run_id}
    assert children == pytest.approx({"0.0": rmse[0], "1.0": rmse[1]})
    assert lakeml.Client().list_artifacts(parent.info.run_id) == []
