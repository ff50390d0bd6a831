"""LightGBM autologging: native ``lightgbm.train`` and the scikit-learn wrappers
(``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``).

Per training, into one run: the params (and ``num_boost_round`` for
``train``), every metric of every validation set as a metric history
(``<set>-<metric>``, step = iteration), ``best_iteration`` and
``stopped_iteration`` when early stopping picked an iteration, the best
scores as ``best_<set>-<metric>``, the feature importance by ``split`` and
``gain`` as ``feature_importance_<type>.json``, and the model. A wrapper's fit
also logs its training data and the model's signature; ``train`` takes a
``lightgbm.Dataset`` and logs neither.
"""

from __future__ import annotations

from typing import Any

from lakeml.autolog import runs, sklearn_metrics, tabular
from lakeml.autolog.patching import AutologConfig, get_config, switch

INTEGRATION = "lightgbm"
IMPORTANCE_TYPES = ("split", "gain")
WRAPPERS = ("LGBMModel", "LGBMClassifier", "LGBMRegressor", "LGBMRanker")


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True,
            log_models: bool = True, log_datasets: bool = True, disable: bool = False,
            exclusive: bool = False, silent: bool = False) -> None:
    """Log every LightGBM training: params, metric histories, importance, model.

    Example:
        >>> lakeml.lightgbm.autolog()                                          # doctest: +SKIP
        >>> lightgbm.train(params, train_set, 100, valid_sets=[valid_set])     # doctest: +SKIP
    """
    switch(INTEGRATION, AutologConfig(
        log_models=log_models, log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures, log_datasets=log_datasets,
        disable=disable, exclusive=exclusive, silent=silent), "lightgbm", hook=_patch)


def _patch(library: str) -> None:
    if get_config(INTEGRATION) is None:
        return
    import lightgbm
    import lightgbm.engine

    runs.patch_boosting(INTEGRATION, [(lightgbm, "train"), (lightgbm.engine, "train")], lightgbm,
                        WRAPPERS, _TrainHandler(), _FitHandler())
    sklearn_metrics.patch_post_training(
        INTEGRATION, [c for c in (getattr(lightgbm, n, None) for n in WRAPPERS) if c is not None])


def _log_importance(run_id: str, booster: Any) -> None:
    client = runs.client()
    names = booster.feature_name()
    for kind in IMPORTANCE_TYPES:
        values = booster.feature_importance(importance_type=kind)
        client.log_dict(run_id, {str(n): float(v) for n, v in zip(names, values)},
                        f"feature_importance_{kind}.json")


def _log_results(run_id: str, evals: dict[str, dict[str, list[Any]]], best_iteration: Any,
                 best_score: Any) -> None:
    runs.log_histories(run_id, {f"{data}-{metric}": values for data, by_metric in evals.items()
                                for metric, values in by_metric.items()})
    metrics: dict[str, Any] = {}
    if best_iteration:  # LightGBM says 0 when no early stopping chose one
        metrics["best_iteration"] = best_iteration
        rounds = max((len(v) for by in evals.values() for v in by.values()), default=0)
        metrics["stopped_iteration"] = rounds - 1  # 0-based, as the history steps
    for data, by_metric in (best_score or {}).items():
        for metric, value in by_metric.items():
            metrics[f"best_{data}-{metric}"] = value
    runs.log_metrics(run_id, metrics)


def _save(*args: Any, **kwargs: Any) -> Any:
    from lakeml.models.flavors.lightgbm import save_model

    return save_model(*args, **kwargs)


class _TrainHandler:
    def before(self, call: runs.Call) -> None:
        import lightgbm

        named = tabular.fit_arguments(call.state["fn"], call.args, call.kwargs)
        evals: dict[str, Any] = {}
        named["callbacks"] = [*(named.get("callbacks") or []),
                              lightgbm.record_evaluation(evals)]
        call.state.update(named=named, evals=evals)
        call.args, call.kwargs = (), named

    def after(self, call: runs.Call, booster: Any) -> None:
        named = call.state["named"]
        rid = call.run_id
        params = dict(named.get("params") or {})
        params.setdefault("num_boost_round", named.get("num_boost_round", 100))
        call.attempt("params", runs.log_params, rid, params)
        call.attempt("metric histories", _log_results, rid, call.state["evals"],
                     booster.best_iteration, booster.best_score)
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
        call.attempt("metric histories", lambda: _log_results(
            rid, dict(model.evals_result_ or {}), model.best_iteration_, model.best_score_))
        call.attempt("feature importance", _log_importance, rid, model.booster_)
        if call.config.log_datasets and X is not None:
            call.attempt("dataset", runs.log_dataset, rid, X, y)
        if call.config.log_models:
            call.attempt("model", lambda: runs.log_model(
                rid, _save, model, **tabular.model_options(call.config, model, X,
                                                            model.predict)))
