"""scikit-learn autologging on real models trained on scikit-learn's bundled data."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pytest

import lakeml
import lakeml.sklearn
from lakeml.autolog import AutologgingWarning
from lakeml.errors import InvalidArgument
from tests.autolog.conftest import all_runs
from tests.conftest import run_python


def _run(run_id: str) -> Any:
    lakeml.flush()
    return lakeml.get_run(run_id)


def test_classifier_fit_logs_params_metrics_dataset_and_model(iris: tuple[Any, Any]) -> None:
    from sklearn import metrics
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    lakeml.sklearn.autolog()
    model = LogisticRegression(C=0.5, max_iter=500).fit(X, y)
    (run,) = all_runs()
    lakeml.sklearn.autolog(disable=True)  # expected values computed without autologging

    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["C"] == "0.5"
    assert params["max_iter"] == "500"
    assert params["solver"] == "lbfgs"
    assert params["class_weight"] == "None"
    assert set(params) == set(model.get_params(deep=True))
    tags = run.data.tags
    assert tags["estimator_name"] == "LogisticRegression"
    assert tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert tags["mlflow.autologging"] == "sklearn"

    pred, proba = model.predict(X), model.predict_proba(X)
    expected = {
        "training_score": model.score(X, y),
        "training_accuracy_score": metrics.accuracy_score(y, pred),
        "training_precision_score": metrics.precision_score(y, pred, average="weighted"),
        "training_recall_score": metrics.recall_score(y, pred, average="weighted"),
        "training_f1_score": metrics.f1_score(y, pred, average="weighted"),
        "training_log_loss": metrics.log_loss(y, proba),
        "training_roc_auc": metrics.roc_auc_score(y, proba, multi_class="ovr",
                                                  average="weighted"),
    }
    assert run.data.metrics == pytest.approx(expected, rel=1e-12)

    (item,) = lakeml.Client().get_run(run.info.run_id).inputs.dataset_inputs
    assert item.context == "train"
    assert item.dataset.digest == lakeml.data.from_pandas(X.assign(target=y),
                                                          targets="target").digest
    assert json.loads(item.dataset.profile)["num_rows"] == 150

    loaded = lakeml.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (loaded.predict(X) == pred).all()
    info = lakeml.pyfunc.load_model(f"runs:/{run.info.run_id}/model").metadata
    assert [c["name"] for c in json.loads(info.signature.to_dict()["inputs"])] == list(X.columns)


def test_regressor_metrics_with_sample_weight() -> None:
    import numpy as np
    from sklearn import metrics
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)  # numpy arrays
    weights = np.linspace(0.5, 1.5, len(y))
    lakeml.sklearn.autolog(log_models=False)
    model = Ridge(alpha=0.3).fit(X, y, sample_weight=weights)
    (run,) = all_runs()
    lakeml.sklearn.autolog(disable=True)
    pred = model.predict(X)
    sw = {"sample_weight": weights}
    assert run.data.metrics == pytest.approx({
        "training_score": model.score(X, y, **sw),
        "training_mean_squared_error": metrics.mean_squared_error(y, pred, **sw),
        "training_root_mean_squared_error": metrics.root_mean_squared_error(y, pred, **sw),
        "training_mean_absolute_error": metrics.mean_absolute_error(y, pred, **sw),
        "training_r2_score": metrics.r2_score(y, pred, **sw),
    }, rel=1e-12)
    assert run.data.params["alpha"] == "0.3"
    assert lakeml.Client().list_artifacts(run.info.run_id) == []  # log_models=False
    (item,) = lakeml.Client().get_run(run.info.run_id).inputs.dataset_inputs
    assert item.dataset.digest == lakeml.data.from_numpy(X, targets=y).digest


def test_fit_logs_into_the_active_run_and_leaves_it_open(iris: tuple[Any, Any]) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    lakeml.sklearn.autolog(log_models=False, log_datasets=False)
    with lakeml.start_run() as active:
        lakeml.log_param("mine", "yes")
        DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)
        assert lakeml.active_run().info.run_id == active.info.run_id
        assert _run(active.info.run_id).info.status == "RUNNING"
    (run,) = all_runs()
    assert run.info.run_id == active.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["mine"] == "yes"
    assert run.data.params["max_depth"] == "2"
    assert "mlflow.autologging" not in run.data.tags  # a run the user made
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(0.96)


def test_exclusive_keeps_out_of_user_runs(iris: tuple[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    lakeml.sklearn.autolog(exclusive=True, log_models=False)
    with lakeml.start_run():
        LogisticRegression(max_iter=500).fit(X, y)
    (run,) = all_runs()
    assert run.data.params == {} and run.data.metrics == {}
    LogisticRegression(max_iter=500).fit(X, y)  # no user run: autolog's own
    assert len(all_runs()) == 2


def test_grid_search_of_a_pipeline_logs_parent_and_best_children(
        iris: tuple[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris
    lakeml.sklearn.autolog(max_tuning_runs=2)
    grid = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
                          grid, cv=3).fit(X, y)
    runs = all_runs()
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2  # the inner pipeline fits logged nothing

    assert parent.data.params["best_logisticregression__C"] == \
        str(search.best_params_["logisticregression__C"])
    assert parent.data.params["estimator__logisticregression__max_iter"] == "500"
    assert parent.data.params["cv"] == "3"
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert parent.data.tags["estimator_name"] == "GridSearchCV"

    results = search.cv_results_
    best_two = sorted(range(4), key=lambda i: (results["rank_test_score"][i], i))[:2]
    by_c = {r.data.params["logisticregression__C"]: r for r in children}
    assert set(by_c) == {str(results["params"][i]["logisticregression__C"]) for i in best_two}
    for i in best_two:
        child = by_c[str(results["params"][i]["logisticregression__C"])]
        assert child.data.metrics["mean_test_score"] == pytest.approx(
            results["mean_test_score"][i])
        assert child.data.metrics["rank_test_score"] == results["rank_test_score"][i]
        assert child.data.metrics["std_test_score"] == pytest.approx(
            results["std_test_score"][i])

    client = lakeml.Client()
    csv = client.download_artifacts(parent.info.run_id, "cv_results.csv")
    table = pd.read_csv(csv)
    assert len(table) == 4
    assert list(table["mean_test_score"]) == pytest.approx(list(results["mean_test_score"]))
    names = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert names == {"best_estimator", "cv_results.csv", "model"}
    best = lakeml.sklearn.load_model(f"runs:/{parent.info.run_id}/best_estimator")
    assert (best.predict(X) == search.predict(X)).all()


def test_meta_estimator_and_fit_transform_log_once(iris: tuple[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import StandardScaler

    X, y = iris
    lakeml.sklearn.autolog(log_datasets=False)
    OneVsRestClassifier(LogisticRegression(C=2.0, max_iter=500)).fit(X, y)
    (run,) = all_runs()
    assert run.data.params["estimator__C"] == "2.0"
    assert run.data.tags["estimator_name"] == "OneVsRestClassifier"

    scaled = StandardScaler(with_std=False).fit_transform(X)
    runs = all_runs()
    assert len(runs) == 2
    (scaler_run,) = [r for r in runs if r.info.run_id != run.info.run_id]
    assert scaler_run.data.params == {"copy": "True", "with_mean": "True",
                                      "with_std": "False"}
    pyfunc = lakeml.pyfunc.load_model(f"runs:/{scaler_run.info.run_id}/model")
    assert pyfunc.predict(X) == pytest.approx(scaled)  # saved with transform as predict


def test_post_training_metrics_land_in_the_training_run(iris: tuple[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    X, y = iris
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=3)
    lakeml.sklearn.autolog(log_models=False)
    from sklearn.metrics import accuracy_score, f1_score  # the patched functions
    model = LogisticRegression(max_iter=500).fit(X_train, y_train)
    y_pred = model.predict(X_test)
    acc = accuracy_score(y_test, y_pred)
    f1 = f1_score(y_test, y_pred, average="macro")
    score = model.score(X_test, y_test)
    (run,) = all_runs()
    assert run.info.status == "FINISHED"
    assert run.data.metrics["accuracy_score_X_test"] == acc
    assert run.data.metrics["f1_score_X_test"] == f1
    assert run.data.metrics["LogisticRegression_score_X_test"] == score
    assert score == acc
    # an array the model did not produce logs nothing
    accuracy_score(y_test, y_test)
    assert len(all_runs()[0].data.metrics) == len(run.data.metrics)


def test_disable_restores_the_original_methods(iris: tuple[Any, Any]) -> None:
    import sklearn.metrics
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    fit, score = LogisticRegression.fit, LogisticRegression.score
    accuracy = sklearn.metrics.accuracy_score
    proba = Pipeline.__dict__["predict_proba"].fn
    lakeml.sklearn.autolog()
    assert LogisticRegression.fit is not fit
    assert sklearn.metrics.accuracy_score is not accuracy
    assert Pipeline.__dict__["predict_proba"].fn is not proba
    lakeml.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is fit and LogisticRegression.score is score
    assert sklearn.metrics.accuracy_score is accuracy
    assert Pipeline.__dict__["predict_proba"].fn is proba
    assert "fit" not in vars(LogisticRegression) or vars(LogisticRegression)["fit"] is fit
    LogisticRegression(max_iter=500).fit(*iris)
    assert all_runs() == []


def test_a_logging_failure_is_one_warning_and_training_goes_on(iris: tuple[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    lakeml.sklearn.autolog(log_models=False)
    with lakeml.start_run():
        lakeml.log_param("C", "other")  # params are immutable: autolog's C=1.0 is refused
        with pytest.warns(AutologgingWarning) as caught:
            model = LogisticRegression(max_iter=500).fit(X, y)
    assert len(caught) == 1
    assert "params" in str(caught[0].message) and "'other'" in str(caught[0].message)
    assert model.score(X, y) > 0.9  # fitted
    (run,) = all_runs()
    assert run.data.params == {"C": "other"}  # the failed batch logged nothing
    assert run.data.metrics["training_accuracy_score"] == model.score(X, y)  # the rest did

    lakeml.sklearn.autolog(log_models=False, silent=True)
    with lakeml.start_run():
        lakeml.log_param("C", "other")
        LogisticRegression(max_iter=500).fit(X, y)  # silent: no warning (it would fail here)


def test_training_error_propagates_and_fails_the_run(iris: tuple[Any, Any]) -> None:
    from sklearn.linear_model import LogisticRegression

    X, _ = iris
    lakeml.sklearn.autolog()
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(X, [math.nan] * len(X))
    (run,) = all_runs()
    assert run.info.status == "FAILED"
    assert lakeml.active_run() is None


def test_fits_in_threads_get_their_own_runs(iris: tuple[Any, Any]) -> None:
    import threading

    from sklearn.linear_model import LogisticRegression

    X, y = iris
    lakeml.sklearn.autolog(log_models=False, log_datasets=False)
    errors: list[BaseException] = []

    def fit(c: float) -> None:
        try:
            LogisticRegression(C=c, max_iter=500).fit(X, y)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def fit_all() -> None:
        threads = [threading.Thread(target=fit, args=(c,)) for c in (0.1, 0.2, 0.3, 0.4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    fit_all()
    assert errors == []
    runs = all_runs()
    assert sorted(r.data.params["C"] for r in runs) == ["0.1", "0.2", "0.3", "0.4"]
    assert all(r.info.status == "FINISHED" for r in runs)

    with lakeml.start_run() as parent:
        fit_all()
    assert errors == []
    children = [r for r in all_runs()
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.data.params["C"] for r in children) == ["0.1", "0.2", "0.3", "0.4"]
    assert all(r.data.metrics["training_score"] > 0.7 for r in children)


def test_options_are_checked_and_autolog_is_callable() -> None:
    with pytest.raises(InvalidArgument, match="-1"):
        lakeml.sklearn.autolog(max_tuning_runs=-1)
    assert callable(lakeml.autolog)
    switched = lakeml.autolog(log_models=False)
    assert {"sklearn", "xgboost", "lightgbm", "spark_ml"} <= set(switched)
    assert lakeml.autolog(disable=True) == switched


def test_autolog_imports_nothing_and_patches_on_import(tmp_path: Any) -> None:
    code = (
        "import sys, io, lakeml\n"
        f"lakeml.set_store({str(tmp_path / 'lake')!r})\n"
        "lakeml.autolog(log_models=False)\n"
        "heavy = [m for m in ('sklearn', 'xgboost', 'lightgbm', 'pyspark') if m in sys.modules]\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "LogisticRegression(max_iter=500).fit(*load_iris(return_X_y=True))\n"
        "lakeml.flush()\n"
        "print(heavy, len(lakeml.search_runs(search_all_experiments=True)))\n")
    proc = run_python(code)
    assert proc.stdout.strip() == "[] 1"



def test_clusterer_fit_predict_with_input_example_and_no_signature(
        iris: tuple[Any, Any]) -> None:
    from sklearn.cluster import KMeans

    X, _ = iris
    lakeml.sklearn.autolog(log_input_examples=True, log_model_signatures=False)
    labels = KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(X)
    (run,) = all_runs()
    lakeml.sklearn.autolog(disable=True)
    assert run.data.params["n_clusters"] == "3"
    assert run.data.tags["estimator_name"] == "KMeans"
    model = lakeml.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert (model.labels_ == labels).all()
    assert run.data.metrics == {"training_score": pytest.approx(model.score(X), rel=1e-12)}
    files = {f.path for f in lakeml.Client().list_artifacts(run.info.run_id, "model")}
    assert "model/input_example.json" in files
    assert lakeml.pyfunc.load_model(f"runs:/{run.info.run_id}/model").metadata.signature \
        is None


def test_sparse_training_data_logs_no_dataset_but_everything_else(
        iris: tuple[Any, Any]) -> None:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    lakeml.sklearn.autolog()
    model = LogisticRegression(max_iter=500).fit(sparse.csr_matrix(X.to_numpy()), y)
    (run,) = all_runs()
    assert lakeml.Client().get_run(run.info.run_id).inputs.dataset_inputs == ()
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(
        (model.predict(X.to_numpy()) == y).mean())
    assert {f.path for f in lakeml.Client().list_artifacts(run.info.run_id)} == {"model"}
