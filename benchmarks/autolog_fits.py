"""The fits bench_autolog.py times, shared by lakeml's side and MLflow's worker
(which runs in MLflow's own venv and finds this file beside it)."""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

XGB_ROUNDS = 100


def sklearn_fit() -> Callable[[], Any]:
    """LogisticRegression on scikit-learn's iris (150 rows, 4 columns)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return lambda: LogisticRegression(max_iter=1000).fit(X, y)


def xgboost_train() -> Callable[[], Any]:
    """xgboost.train, 100 rounds, on breast_cancer (455 rows train, 114 eval, 30 columns),
    with train and eval sets evaluated every round (logloss and AUC)."""
    import xgboost as xgb
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    dtrain = xgb.DMatrix(X.iloc[:455], y.iloc[:455])
    dvalid = xgb.DMatrix(X.iloc[455:], y.iloc[455:])
    params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"],
              "max_depth": 3, "nthread": 1, "seed": 0}
    return lambda: xgb.train(params, dtrain, XGB_ROUNDS, evals=[(dtrain, "train"),
                                                                 (dvalid, "valid")],
                             verbose_eval=False)


def one_thread() -> None:
    """One BLAS/OpenMP thread: these fits are tiny, and on a shared 2-core machine
    spinning worker threads made the same fit vary 20-fold between runs."""
    import threadpoolctl

    threadpoolctl.threadpool_limits(1)


def times(fit: Callable[[], Any], enable: Callable[[], Any], disable: Callable[[], Any],
          repeat: int) -> dict[str, Any]:
    """Medians of ``repeat`` fits without and with autolog, taken alternately (so a
    change in the machine's load hits both alike), and the first autologged fit."""
    off, on = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit()  # warm: first-call costs of the library itself
        enable()
        t0 = time.perf_counter()
        fit()
        first = time.perf_counter() - t0
        for _ in range(repeat):
            disable()
            t0 = time.perf_counter()
            fit()
            off.append(time.perf_counter() - t0)
            enable()
            t0 = time.perf_counter()
            fit()
            on.append(time.perf_counter() - t0)
        disable()
    return {"off": {"median_s": statistics.median(off)},
            "on": {"median_s": statistics.median(on), "first_s": first}, "calls": repeat}
