"""Spark ML autologging: ``Estimator.fit`` of every pyspark.ml estimator.

Per fit, into one run: the estimator's params (a ``Pipeline``'s as
``<Stage>.<param>`` for each stage, the stage's uid standing in for its class
when two stages share a class), tag ``estimator_class``, and the fitted model
(``model``). ``CrossValidator`` and ``TrainValidationSplit`` also log their own
params and their inner estimator's, ``best_<param>`` for the winning param
map, ``best_<metric>`` (``avg_`` for cross-validation), the fitted
``bestModel`` as the model, and a child run per param map (the best
``max_tuning_runs`` of them) with its params and metric. Fits inside a fit (a
Pipeline's stages, the tuner's candidates, also in the tuner's worker
threads) log nothing. ``fit(df, [paramMaps…])``
(several models at once) is not autologged.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from lakeml.autolog import runs
from lakeml.autolog.patching import (
    AutologConfig,
    get_config,
    patch,
    switch,
)

INTEGRATION = "spark_ml"

# uids of the estimators a tuner is fitting right now: its worker threads fit copies
# (same uid) that must not log, and the thread-local guard does not reach them.
_busy_uids: Counter[str] = Counter()
_busy_lock = threading.Lock()


def autolog(log_models: bool = True, disable: bool = False, exclusive: bool = False,
            silent: bool = False, max_tuning_runs: int | None = 5) -> None:
    """Log every pyspark.ml fit: params, tuning child runs, the fitted model.

    Example:
        >>> lakeml.spark_ml.autolog()                                           # doctest: +SKIP
        >>> Pipeline(stages=[assembler, LogisticRegression()]).fit(train_df)   # doctest: +SKIP
    """
    from lakeml.autolog.sklearn import check_max_tuning_runs

    check_max_tuning_runs(max_tuning_runs)
    switch(INTEGRATION, AutologConfig(log_models=log_models, disable=disable,
                                      exclusive=exclusive, silent=silent,
                                      max_tuning_runs=max_tuning_runs),
           "pyspark.ml", hook=lambda library: _patch())


def _patch() -> None:
    if get_config(INTEGRATION) is None:
        return
    from pyspark.ml.base import Estimator

    patch(INTEGRATION, Estimator, "fit",
          runs.training_wrapper(INTEGRATION, _FitHandler(), skip=_skip))


def _skip(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    params = args[2] if len(args) > 2 else kwargs.get("params")
    if isinstance(params, (list, tuple)):
        return True
    return bool(_busy_uids) and getattr(args[0], "uid", None) in _busy_uids


def _stage_uids(estimator: Any) -> list[str]:
    from pyspark.ml import Pipeline

    uids = [estimator.uid]
    if isinstance(estimator, Pipeline):
        for stage in estimator.getStages():
            uids += _stage_uids(stage)
    return uids


def _is_tuner(estimator: Any) -> bool:
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    return isinstance(estimator, (CrossValidator, TrainValidationSplit))


def _own_params(estimator: Any, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}{param.name}": value
            for param, value in estimator.extractParamMap().items()
            if param.name not in ("estimator", "estimatorParamMaps", "evaluator", "stages")}


def estimator_params(estimator: Any) -> dict[str, Any]:
    """An estimator's params; a Pipeline's flattened per stage."""
    from pyspark.ml import Pipeline

    if not isinstance(estimator, Pipeline):
        return _own_params(estimator)
    stages = estimator.getStages()
    counts = Counter(type(s).__name__ for s in stages)
    out: dict[str, Any] = {"stages": [type(s).__name__ for s in stages]}
    for stage in stages:
        name = type(stage).__name__ if counts[type(stage).__name__] == 1 else stage.uid
        for key, value in estimator_params(stage).items():
            out[f"{name}.{key}"] = value
    return out


def _map_params(param_map: dict[Any, Any]) -> dict[str, Any]:
    """A param map by param name (``<uid>.<name>`` where two stages share a name)."""
    names = Counter(p.name for p in param_map)
    return {p.name if names[p.name] == 1 else f"{p.parent}.{p.name}": v
            for p, v in param_map.items()}


class _FitHandler:
    def before(self, call: runs.Call) -> None:
        estimator = call.args[0]
        if _is_tuner(estimator):
            uids = _stage_uids(estimator.getEstimator())
            with _busy_lock:
                _busy_uids.update(uids)
            call.state["busy"] = uids

    def cleanup(self, call: runs.Call) -> None:
        uids = call.state.pop("busy", None)
        if uids:
            with _busy_lock:
                _busy_uids.subtract(uids)
                for uid in [u for u, n in _busy_uids.items() if n <= 0]:
                    del _busy_uids[uid]

    def after(self, call: runs.Call, model: Any) -> None:
        estimator = call.args[0]
        rid = call.run_id
        cls = type(estimator)
        call.attempt("tags", runs.log_tags, rid, {
            "estimator_name": cls.__name__,
            "estimator_class": f"{cls.__module__}.{cls.__qualname__}"})
        if _is_tuner(estimator):
            call.attempt("tuning", _log_tuning, call, estimator, model)
            fitted = getattr(model, "bestModel", model)
        else:
            call.attempt("params", lambda: runs.log_params(rid, estimator_params(estimator)))
            fitted = model
        if call.config.log_models:
            call.attempt("model", runs.log_model, rid, _save, fitted)


def _save(*args: Any, **kwargs: Any) -> Any:
    from lakeml.models.flavors.spark import save_model

    return save_model(*args, **kwargs)


def _log_tuning(call: runs.Call, tuner: Any, model: Any) -> None:
    from pyspark.ml.tuning import CrossValidatorModel

    rid = call.run_id
    inner = tuner.getEstimator()
    params = _own_params(tuner)
    params["estimator"] = type(inner).__name__
    params["evaluator"] = type(tuner.getEvaluator()).__name__
    params.update({f"estimator.{k}": v for k, v in estimator_params(inner).items()})
    runs.log_params(rid, params)
    maps = tuner.getEstimatorParamMaps()
    cross = isinstance(model, CrossValidatorModel)
    figures = list(model.avgMetrics if cross else model.validationMetrics)
    evaluator = tuner.getEvaluator()
    metric = ("avg_" if cross else "") + evaluator.getMetricName()
    larger = evaluator.isLargerBetter()
    best = max(range(len(figures)), key=lambda i: figures[i] if larger else -figures[i])
    runs.log_params(rid, {f"best_{k}": v for k, v in _map_params(maps[best]).items()})
    runs.log_metrics(rid, {f"best_{metric}": figures[best]})
    parent_name = runs.run_name(rid)
    order = sorted(range(len(figures)), key=lambda i: -figures[i] if larger else figures[i])
    limit = call.config.max_tuning_runs
    for rank, i in enumerate(order[:limit] if limit is not None else order, 1):
        runs.child_run(call, f"{parent_name}-rank-{rank}-{i}", _map_params(maps[i]),
                       {metric: figures[i]})
