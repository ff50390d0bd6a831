"""XGBoost autologging: native ``xgboost.train`` and the scikit-learn wrappers
(``XGBClassifier``, ``XGBRegressor``, ``XGBRanker``, ``XGBRF*``).

Per training, into one run: the params (``num_boost_round`` and
``early_stopping_rounds`` too for ``train``; ``get_params()`` for the
wrappers), every evaluation metric of every eval set as a metric history
(``<set>-<metric>``, step = iteration), with early stopping
``best_iteration``, ``best_score`` and ``stopped_iteration``, the feature
importance by ``weight``, ``gain`` and ``cover`` as
``feature_importance_<type>.json``, and the model. A wrapper's fit also logs
its training data as an input and the model's signature; ``train`` takes a
``DMatrix``, whose rows are not at hand, so it logs neither.
"""

from __future__ import annotations

from typing import Any

from lakeml.autolog import runs, sklearn_metrics, tabular
from lakeml.autolog.patching import AutologConfig, get_config, switch

INTEGRATION = "xgboost"
IMPORTANCE_TYPES = ("weight", "gain", "cover")
WRAPPERS = ("XGBModel", "XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier",
            "XGBRFRegressor")


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True,
            log_models: bool = True, log_datasets: bool = True, disable: bool = False,
            exclusive: bool = False, silent: bool = False) -> None:
    """Log every XGBoost training: params, metric histories, importance, model.

    Example:
        >>> lakeml.xgboost.autolog()                                        # doctest: +SKIP
        >>> xgboost.train(params, dtrain, 100, evals=[(dvalid, "valid")])   # doctest: +SKIP
    """
    switch(INTEGRATION, AutologConfig(
        log_models=log_models, log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures, log_datasets=log_datasets,
        disable=disable, exclusive=exclusive, silent=silent), "xgboost", hook=_patch)


def _patch(library: str) -> None:
    if get_config(INTEGRATION) is None:
        return
    import xgboost
    import xgboost.training

    runs.patch_boosting(INTEGRATION, [(xgboost, "train"), (xgboost.training, "train")], xgboost,
                        WRAPPERS, _TrainHandler(), _FitHandler())
    sklearn_metrics.patch_post_training(
        INTEGRATION, [c for c in (getattr(xgboost, n, None) for n in WRAPPERS) if c is not None])


def _log_importance(run_id: str, booster: Any) -> None:
    client = runs.client()
    for kind in IMPORTANCE_TYPES:
        scores = booster.get_score(importance_type=kind)
        client.log_dict(run_id, {str(k): float(v) for k, v in scores.items()},
                        f"feature_importance_{kind}.json")


def _histories(evals: dict[str, dict[str, list[Any]]]) -> dict[str, list[Any]]:
    return {f"{data}-{metric}": values
            for data, by_metric in evals.items() for metric, values in by_metric.items()}


def _early_stopping(source: Any, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("best_iteration", "best_score"):
        try:
            out[name] = getattr(source, name)
        except AttributeError:  # no early stopping: XGBoost raises instead of None
            pass
    if out:
        out["stopped_iteration"] = rounds - 1
    return out


def _save(*args: Any, **kwargs: Any) -> Any:
    from lakeml.models.flavors.xgboost import save_model

    return save_model(*args, **kwargs)


class _TrainHandler:
    def before(self, call: runs.Call) -> None:
        named = tabular.fit_arguments(call.state["fn"], call.args, call.kwargs)
        if named.get("evals_result") is None:
            named["evals_result"] = {}
        call.state["named"] = named
        call.args, call.kwargs = (), named

    def after(self, call: runs.Call, booster: Any) -> None:
        named = call.state["named"]
        rid = call.run_id
        params = dict(named.get("params") or {})
        params["num_boost_round"] = named.get("num_boost_round", 10)
        for key in ("early_stopping_rounds", "maximize", "verbose_eval"):
            if named.get(key) is not None:
                params[key] = named[key]
        call.attempt("params", runs.log_params, rid, params)
        call.attempt("metric histories", runs.log_histories, rid,
                     _histories(named["evals_result"]))
        call.attempt("early stopping", lambda: runs.log_metrics(
            rid, _early_stopping(booster, booster.num_boosted_rounds())))
        call.attempt("feature importance", _log_importance, rid, booster)
        if call.config.log_models:
            call.attempt("model", runs.log_model, rid, _save, booster)


class _FitHandler:
    def before(self, call: runs.Call) -> None:
        pass

    def after(self, call: runs.Call, result: Any) -> None:
        model = call.args[0]
        X, y, sample_weight = tabular.training_data(call.state["fn"], call.args, call.kwargs)
        rid = call.run_id
        call.attempt("params", lambda: runs.log_params(rid, model.get_params()))
        if y is not None:  # as scikit-learn's autolog: tags and training_* metrics
            sklearn_metrics.log_estimator(call, model, X, y, sample_weight)
        else:
            sklearn_metrics.log_tags(call, model)
        if hasattr(model, "evals_result_"):
            call.attempt("metric histories", runs.log_histories, rid,
                         _histories(model.evals_result()))
        call.attempt("early stopping", lambda: runs.log_metrics(
            rid, _early_stopping(model, model.get_booster().num_boosted_rounds())))
        call.attempt("feature importance", _log_importance, rid, model.get_booster())
        if call.config.log_datasets and X is not None:
            call.attempt("dataset", runs.log_dataset, rid, X, y)
        if call.config.log_models:
            call.attempt("model", lambda: runs.log_model(
                rid, _save, model, **tabular.model_options(call.config, model, X,
                                                            model.predict)))
