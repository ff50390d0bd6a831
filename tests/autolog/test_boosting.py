"""XGBoost and LightGBM autologging: native training and the scikit-learn wrappers."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import lakeml
import lakeml.lightgbm
import lakeml.xgboost
from tests.autolog.conftest import all_runs


def _split(cancer: tuple[Any, Any]) -> tuple[Any, Any, Any, Any]:
    X, y = cancer
    return X.iloc[:400], y.iloc[:400], X.iloc[400:], y.iloc[400:]


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in lakeml.Client().get_metric_history(run_id, key)]


def _artifact_json(run_id: str, path: str) -> Any:
    with open(lakeml.Client().download_artifacts(run_id, path)) as fh:
        return json.load(fh)


def test_xgboost_train_logs_params_histories_early_stopping_importance_model(
        cancer: tuple[Any, Any]) -> None:
    import xgboost as xgb

    X_tr, y_tr, X_va, y_va = _split(cancer)
    dtrain, dvalid = xgb.DMatrix(X_tr, y_tr), xgb.DMatrix(X_va, y_va)
    lakeml.xgboost.autolog()
    mine: dict[str, Any] = {}
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"],
              "max_depth": 3, "eta": 0.3, "seed": 0}
    booster = xgb.train(params, dtrain, num_boost_round=100,
                        evals=[(dtrain, "train"), (dvalid, "valid")],
                        early_stopping_rounds=5, evals_result=mine, verbose_eval=False)
    (run,) = all_runs()
    rid = run.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "xgboost"
    assert run.data.params == {"objective": "binary:logistic",
                               "eval_metric": "['logloss', 'auc']", "max_depth": "3",
                               "eta": "0.3", "seed": "0", "num_boost_round": "100",
                               "early_stopping_rounds": "5", "verbose_eval": "False"}
    rounds = booster.num_boosted_rounds()
    assert rounds < 100  # early stopping stopped it
    for data in ("train", "valid"):
        for metric in ("logloss", "auc"):
            assert _history(rid, f"{data}-{metric}") == \
                list(enumerate(mine[data][metric]))  # the user's dict was filled as well
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["best_score"] == pytest.approx(booster.best_score)
    assert run.data.metrics["stopped_iteration"] == rounds - 1
    for kind in ("weight", "gain", "cover"):
        assert _artifact_json(rid, f"feature_importance_{kind}.json") == \
            pytest.approx(booster.get_score(importance_type=kind))
    loaded = lakeml.xgboost.load_model(f"runs:/{rid}/model")
    assert np.array_equal(loaded.predict(dvalid), booster.predict(dvalid))


def test_xgboost_classifier_logs_its_params_dataset_and_signature(
        cancer: tuple[Any, Any]) -> None:
    import xgboost as xgb

    X_tr, y_tr, X_va, y_va = _split(cancer)
    lakeml.xgboost.autolog(log_input_examples=True)
    model = xgb.XGBClassifier(n_estimators=15, max_depth=2, learning_rate=0.5,
                              eval_metric="logloss")
    model.fit(X_tr, y_tr, eval_set=[(X_va, y_va)], verbose=False)
    (run,) = all_runs()  # the inner xgboost.train logged no second run
    rid = run.info.run_id
    assert run.data.params["n_estimators"] == "15"
    assert run.data.params["max_depth"] == "2"
    assert run.data.params["learning_rate"] == "0.5"
    assert _history(rid, "validation_0-logloss") == \
        list(enumerate(model.evals_result()["validation_0"]["logloss"]))
    assert "best_iteration" not in run.data.metrics  # no early stopping
    (item,) = lakeml.Client().get_run(rid).inputs.dataset_inputs
    assert item.dataset.digest == lakeml.data.from_pandas(
        X_tr.assign(target=y_tr), targets="target").digest
    pyfunc = lakeml.pyfunc.load_model(f"runs:/{rid}/model")
    inputs = json.loads(pyfunc.metadata.signature.to_dict()["inputs"])
    assert [c["name"] for c in inputs] == list(X_tr.columns)
    assert np.array_equal(pyfunc.predict(X_va), model.predict(X_va))
    files = {f.path for f in lakeml.Client().list_artifacts(rid, "model")}
    assert "model/input_example.json" in files  # log_input_examples=True
    # the same tags and metric names as scikit-learn's autolog
    assert run.data.tags["estimator_name"] == "XGBClassifier"
    assert run.data.tags["estimator_class"] == "xgboost.sklearn.XGBClassifier"
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(
        (model.predict(X_tr) == y_tr).mean())
    assert {"training_f1_score", "training_log_loss", "training_roc_auc",
            "training_score"} <= set(run.data.metrics)
    accuracy = model.score(X_va, y_va)  # post-training, on data the caller names X_va
    assert lakeml.Client().get_run(rid).data.metrics["XGBClassifier_score_X_va"] == \
        pytest.approx(accuracy)


def test_lightgbm_train_logs_histories_best_scores_importance_model(
        cancer: tuple[Any, Any]) -> None:
    import lightgbm as lgb

    X_tr, y_tr, X_va, y_va = _split(cancer)
    train = lgb.Dataset(X_tr, y_tr)
    valid = lgb.Dataset(X_va, y_va, reference=train)
    lakeml.lightgbm.autolog()
    mine: dict[str, Any] = {}
    params = {"objective": "binary", "metric": ["binary_logloss", "auc"], "verbose": -1,
              "num_leaves": 7, "seed": 1}
    booster = lgb.train(params, train, num_boost_round=60, valid_sets=[valid],
                        valid_names=["valid"],
                        callbacks=[lgb.early_stopping(4, verbose=False),
                                   lgb.record_evaluation(mine)])
    (run,) = all_runs()
    rid = run.info.run_id
    assert run.data.params == {"objective": "binary", "metric": "['binary_logloss', 'auc']",
                               "verbose": "-1", "num_leaves": "7", "seed": "1",
                               "num_boost_round": "60"}
    for metric in ("binary_logloss", "auc"):
        assert _history(rid, f"valid-{metric}") == list(enumerate(mine["valid"][metric]))
        assert run.data.metrics[f"best_valid-{metric}"] == \
            pytest.approx(booster.best_score["valid"][metric])
    assert 0 < booster.best_iteration < 60
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == len(mine["valid"]["auc"]) - 1
    for kind in ("split", "gain"):
        expected = dict(zip(booster.feature_name(),
                            booster.feature_importance(importance_type=kind).tolist()))
        assert _artifact_json(rid, f"feature_importance_{kind}.json") == \
            pytest.approx(expected)
    loaded = lakeml.lightgbm.load_model(f"runs:/{rid}/model")
    assert np.allclose(loaded.predict(X_va), booster.predict(X_va))


def test_lightgbm_regressor_in_a_user_run(cancer: tuple[Any, Any]) -> None:
    import lightgbm as lgb

    X_tr, y_tr, X_va, y_va = _split(cancer)
    lakeml.lightgbm.autolog(log_models=False)
    with lakeml.start_run() as active:
        model = lgb.LGBMRegressor(n_estimators=12, num_leaves=5, verbose=-1)
        model.fit(X_tr, y_tr, eval_X=(X_va,), eval_y=(y_va,), eval_metric="l1")
    (run,) = all_runs()
    assert run.info.run_id == active.info.run_id
    assert run.data.params["n_estimators"] == "12"
    assert run.data.params["num_leaves"] == "5"
    history = model.evals_result_["valid_0"]
    assert _history(run.info.run_id, "valid_0-l1") == list(enumerate(history["l1"]))
    assert _history(run.info.run_id, "valid_0-l2") == list(enumerate(history["l2"]))
    assert lakeml.Client().list_artifacts(run.info.run_id, "model") == []
    assert run.data.tags["estimator_name"] == "LGBMRegressor"
    assert run.data.tags["estimator_class"] == "lightgbm.sklearn.LGBMRegressor"
    rmse = float(np.sqrt(((model.predict(X_tr) - y_tr) ** 2).mean()))
    assert run.data.metrics["training_root_mean_squared_error"] == pytest.approx(rmse)
    assert {"training_r2_score", "training_mean_absolute_error",
            "training_score"} <= set(run.data.metrics)


def test_disable_restores_training_functions() -> None:
    import lightgbm
    import xgboost

    originals = (xgboost.train, xgboost.XGBClassifier.fit, lightgbm.train,
                 lightgbm.LGBMClassifier.fit)
    lakeml.autolog()
    assert xgboost.train is not originals[0] and lightgbm.train is not originals[2]
    lakeml.autolog(disable=True)
    assert (xgboost.train, xgboost.XGBClassifier.fit, lightgbm.train,
            lightgbm.LGBMClassifier.fit) == originals
