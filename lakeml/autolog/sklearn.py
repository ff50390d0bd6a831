"""scikit-learn autologging: ``fit``, ``fit_transform`` and ``fit_predict`` of every
estimator scikit-learn ships (``sklearn.utils.all_estimators``: pipelines and
meta-estimators included).

Per fit, into one run: every param (``get_params(deep=True)``), tags
``estimator_name`` / ``estimator_class``, the training metrics (see
:mod:`lakeml.autolog.sklearn_metrics`), the training data as an input with
its digest (context ``train``), and the fitted model (``model``) with its
signature. A ``GridSearchCV`` / ``RandomizedSearchCV`` also logs
``best_<param>`` params and ``best_cv_score``, the full ``cv_results_`` as
``cv_results.csv``, the refitted best estimator as ``best_estimator``, and a
child run for each of the best ``max_tuning_runs`` candidates (params and its
``mean_*``/``std_*``/``rank_*`` figures).
"""

from __future__ import annotations

import warnings
from typing import Any

from lakeml.autolog import runs, sklearn_metrics, tabular
from lakeml.autolog.patching import (
    AutologConfig,
    get_config,
    patch,
    patch_method,
    switch,
)

INTEGRATION = "sklearn"
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
# Encoders of targets: scikit-learn fits them inside its own functions (metrics,
# classifiers), where a run each would be noise.
EXCLUDED = frozenset({"LabelEncoder", "LabelBinarizer", "MultiLabelBinarizer"})


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True,
            log_models: bool = True, log_datasets: bool = True, disable: bool = False,
            exclusive: bool = False, silent: bool = False,
            max_tuning_runs: int | None = 5) -> None:
    """Log every scikit-learn fit: params, training metrics, dataset, model.

    ``disable=True`` restores scikit-learn's own methods. ``max_tuning_runs``
    bounds the child runs of a hyperparameter search (None: every candidate).

    Example:
        >>> lakeml.sklearn.autolog()                                       # doctest: +SKIP
        >>> LogisticRegression().fit(X, y)   # one run: params, metrics, model  # doctest: +SKIP
    """
    check_max_tuning_runs(max_tuning_runs)
    switch(INTEGRATION, AutologConfig(
        log_models=log_models, log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures, log_datasets=log_datasets,
        max_tuning_runs=max_tuning_runs, disable=disable, exclusive=exclusive,
        silent=silent), "sklearn", hook=lambda library: _patch())


def check_max_tuning_runs(value: object) -> None:
    """InvalidArgument unless ``value`` is None or an int >= 0."""
    from lakeml.errors import InvalidArgument

    if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                              or value < 0):
        raise InvalidArgument(f"max_tuning_runs must be None or an int >= 0, got {value!r}")


def _estimator_classes() -> list[type]:
    from sklearn.utils import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # importing every module may warn about deprecations
        return [cls for name, cls in all_estimators() if name not in EXCLUDED]


def _patch() -> None:
    if get_config(INTEGRATION) is None:
        return
    import sklearn.metrics

    fit = runs.training_wrapper(INTEGRATION, _FitHandler())
    for cls in _estimator_classes():
        for name in FIT_METHODS:
            patch_method(INTEGRATION, cls, name, fit)
        for name in sklearn_metrics.PREDICT_METHODS:
            patch_method(INTEGRATION, cls, name, sklearn_metrics.predict_wrapper)
        patch_method(INTEGRATION, cls, "score", sklearn_metrics.score_wrapper)
    for name in sklearn_metrics.METRIC_FUNCTIONS:
        if hasattr(sklearn.metrics, name):
            patch(INTEGRATION, sklearn.metrics, name, sklearn_metrics.metric_wrapper)


def _is_search(model: Any) -> bool:
    from sklearn.model_selection._search import BaseSearchCV

    return isinstance(model, BaseSearchCV) and hasattr(model, "cv_results_")


class _FitHandler:
    def before(self, call: runs.Call) -> None:
        pass

    def after(self, call: runs.Call, result: Any) -> None:
        model = call.args[0]
        X, y, sample_weight = tabular.training_data(call.state["fn"], call.args, call.kwargs)
        rid = call.run_id
        call.attempt("params", lambda: runs.log_params(rid, model.get_params(deep=True)))
        search = _is_search(model)
        if search:
            call.attempt("search results", _log_search, call, model)
        if not search or getattr(model, "refit", False):
            sklearn_metrics.log_estimator(call, model, X, y, sample_weight)
        else:
            sklearn_metrics.log_tags(call, model)
        if call.config.log_datasets and X is not None:
            call.attempt("dataset", runs.log_dataset, rid, X, y)
        if call.config.log_models:
            call.attempt("model", _log_model, call, model, X, "model")
            if search and hasattr(model, "best_estimator_"):
                call.attempt("best estimator", _log_model, call, model.best_estimator_, X,
                             "best_estimator")



def _log_model(call: runs.Call, model: Any, X: Any, name: str) -> None:
    from lakeml.models.flavors.sklearn import save_model

    predict_fn = "predict" if hasattr(model, "predict") else \
        "transform" if hasattr(model, "transform") else None
    if predict_fn is None:
        return  # nothing pyfunc could call (a bare clusterer without predict)
    options = tabular.model_options(call.config, model, X, getattr(model, predict_fn))
    runs.log_model(call.run_id, save_model, model, name, pyfunc_predict_fn=predict_fn,
                   **options)


def _log_search(call: runs.Call, search: Any) -> None:
    import pandas as pd

    rid = call.run_id
    results = search.cv_results_
    if hasattr(search, "best_params_"):
        runs.log_params(rid, {f"best_{k}": v for k, v in search.best_params_.items()})
    if hasattr(search, "best_score_"):
        runs.log_metrics(rid, {"best_cv_score": search.best_score_})
    runs.client().log_text(rid, pd.DataFrame(results).to_csv(index=False), "cv_results.csv")
    limit = call.config.max_tuning_runs
    if limit == 0:
        return
    refit = search.refit if isinstance(search.refit, str) else "score"
    rank_key = f"rank_test_{refit}"
    if rank_key not in results:  # several scorers and refit=False: rank by the first
        rank_key = next(k for k in results if k.startswith("rank_test_"))
    ranks = list(results[rank_key])
    order = sorted(range(len(ranks)), key=lambda i: (ranks[i], i))
    figures = [k for k in results if k.startswith(("mean_", "std_", "rank_"))]
    parent_name = runs.run_name(rid)
    for i in order[:limit] if limit is not None else order:
        runs.child_run(call, f"{parent_name}-rank-{ranks[i]}-{i}", results["params"][i],
                       {k: results[k][i] for k in figures})
