"""scikit-learn metrics for autologging: the training metrics of a fit, and the
post-training metrics logged when the user scores an autologged model on other data.

Training metrics (prefix ``training_``), computed on the fit's own data with
its ``sample_weight``:
- classifiers: ``score``, ``accuracy_score``, ``precision_score``,
  ``recall_score``, ``f1_score`` (weighted averages, so binary and multiclass
  read alike), and with ``predict_proba`` ``log_loss`` and ``roc_auc``
  (one-vs-rest, weighted, for more than two classes);
- regressors: ``score``, ``mean_squared_error``, ``root_mean_squared_error``,
  ``mean_absolute_error``, ``r2_score``;
- anything else with a ``score`` method: ``score``.

Post-training metrics: the output of ``predict``/``predict_proba``/… of an
autologged model is remembered with the name of the variable the input was
passed as (``X_test``); a later ``sklearn.metrics.<fn>(y_true, that_output)``
logs ``<fn>_<name>`` and ``model.score(X_test, y_test)`` logs
``<Estimator>_score_<name>`` into the model's run (reopened for the moment if
it has ended). The functions are patched in ``sklearn.metrics``: a name
imported from there before ``autolog()`` is the unpatched function.
"""

from __future__ import annotations

import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

from lakeml.autolog import runs
from lakeml.autolog.patching import Failures, depth, get_config, inside

if TYPE_CHECKING:
    from lakeml.autolog.patching import AutologConfig

PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
METRIC_FUNCTIONS = (
    "accuracy_score", "balanced_accuracy_score", "precision_score", "recall_score",
    "f1_score", "fbeta_score", "log_loss", "roc_auc_score", "average_precision_score",
    "matthews_corrcoef", "mean_squared_error", "root_mean_squared_error",
    "mean_absolute_error", "median_absolute_error", "mean_absolute_percentage_error",
    "r2_score", "explained_variance_score", "max_error",
)
_PRED_ARGS = ("y_pred", "y_score", "y_prob", "y_proba", "probas_pred")


def _default_score(model: Any, mixin: type) -> bool:
    """Whether ``model.score`` is the mixin's (accuracy / R²), not the estimator's own."""
    fn = getattr(type(model), "score", None)
    return getattr(fn, "__lakeml_original__", fn) is mixin.score  # type: ignore[attr-defined]


def training_metrics(model: Any, X: Any, y: Any, sample_weight: Any,
                     attempt: Callable[..., Any]) -> dict[str, float]:
    """The ``training_*`` metrics of a fitted model on its training data.

    Each prediction is made once; ``score`` is not recomputed when it is the
    mixin's default (it is then exactly the accuracy or R² logged beside it).
    """
    from sklearn import metrics
    from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier, is_regressor

    out: dict[str, float] = {}
    sw = {} if sample_weight is None else {"sample_weight": sample_weight}

    def put(name: str, fn: Callable[[], Any]) -> None:
        value = attempt(f"training metric {name}", fn)
        if value is not None:
            out[f"training_{name}"] = float(value)

    classifier = is_classifier(model) and hasattr(model, "predict") and y is not None
    regressor = is_regressor(model) and hasattr(model, "predict") and y is not None
    if hasattr(model, "score"):
        if y is not None and not (classifier and _default_score(model, ClassifierMixin)
                                  or regressor and _default_score(model, RegressorMixin)):
            put("score", lambda: model.score(X, y, **sw))
        elif y is None and not (is_classifier(model) or is_regressor(model)):
            put("score", lambda: model.score(X))
    if classifier:
        y_pred = model.predict(X)
        put("accuracy_score", lambda: metrics.accuracy_score(y, y_pred, **sw))
        if _default_score(model, ClassifierMixin) and "training_accuracy_score" in out:
            out["training_score"] = out["training_accuracy_score"]
        prf = attempt("training metrics precision, recall, f1",
                      lambda: metrics.precision_recall_fscore_support(
                          y, y_pred, average="weighted", zero_division=0, **sw))
        if prf is not None:
            for name, value in zip(("precision_score", "recall_score", "f1_score"), prf):
                out[f"training_{name}"] = float(value)
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(X)
            labels = getattr(model, "classes_", None)
            put("log_loss", lambda: metrics.log_loss(y, proba, labels=labels, **sw))
            if proba.shape[1] == 2:
                put("roc_auc", lambda: metrics.roc_auc_score(y, proba[:, 1], **sw))
            else:
                put("roc_auc", lambda: metrics.roc_auc_score(
                    y, proba, multi_class="ovr", average="weighted", labels=labels, **sw))
    elif regressor:
        y_pred = model.predict(X)
        put("mean_squared_error", lambda: metrics.mean_squared_error(y, y_pred, **sw))
        if "training_mean_squared_error" in out and getattr(y_pred, "ndim", 1) == 1:
            out["training_root_mean_squared_error"] = \
                out["training_mean_squared_error"] ** 0.5
        else:  # several outputs: the mean of the outputs' RMSEs is no root of the mean
            put("root_mean_squared_error",
                lambda: metrics.root_mean_squared_error(y, y_pred, **sw))
        put("mean_absolute_error", lambda: metrics.mean_absolute_error(y, y_pred, **sw))
        put("r2_score", lambda: metrics.r2_score(y, y_pred, **sw))
        if _default_score(model, RegressorMixin) and "training_r2_score" in out:
            out["training_score"] = out["training_r2_score"]
    return out


# ---- post-training ---------------------------------------------------------------------------
_trained: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_outputs: dict[int, tuple[Any, str, str]] = {}  # id(output) -> (weakref, run id, dataset)
_lock = threading.Lock()


def remember_model(model: Any, run_id: str, integration: str = "sklearn") -> None:
    """Post-training metrics of ``model`` go to run ``run_id`` while ``integration`` is on."""
    try:
        _trained[model] = (run_id, integration)
    except TypeError:
        pass  # an estimator that cannot be weakly referenced: no post-training metrics


def _trained_run(model: Any) -> tuple[str, str] | None:
    """(run id, integration) of the autologged training of ``model``, if any."""
    try:
        return _trained.get(model)
    except TypeError:
        return None


def _live_run(model: Any) -> tuple[str, str, AutologConfig] | None:
    """(run id, integration, config) when ``model`` was autologged and its integration
    is still on."""
    if depth():
        return None
    found = _trained_run(model)
    if found is None:
        return None
    config = get_config(found[1])
    return None if config is None else (found[0], found[1], config)


def log_estimator(call: Any, model: Any, X: Any, y: Any, sample_weight: Any = None) -> None:
    """What every scikit-learn-style fit logs alike (scikit-learn's own, and the XGBoost
    and LightGBM wrappers): the estimator tags, the ``training_*`` metrics, and the
    model remembered for post-training metrics."""
    log_tags(call, model)
    call.attempt("training metrics", lambda: runs.log_metrics(
        call.run_id, training_metrics(model, X, y, sample_weight, call.attempt)))


def log_tags(call: Any, model: Any) -> None:
    """The ``estimator_name``/``estimator_class`` tags; ``model`` remembered for
    post-training metrics."""
    cls = type(model)
    call.attempt("tags", runs.log_tags, call.run_id, {
        "estimator_name": cls.__name__,
        "estimator_class": f"{cls.__module__}.{cls.__qualname__}"})
    remember_model(model, call.run_id, call.integration)


def patch_post_training(integration: str, classes: list[type]) -> None:
    """Patch ``classes``' predict and score methods so post-training metrics find their run."""
    from lakeml.autolog.patching import patch_method

    for cls in classes:
        for name in PREDICT_METHODS:
            patch_method(integration, cls, name, predict_wrapper)
        patch_method(integration, cls, "score", score_wrapper)


def _dataset_name(X: Any, frame: Any) -> str:
    """The caller's variable name for ``X`` (``X_test``), else ``eval_dataset``."""
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
            ("lakeml.autolog", "sklearn.")):
        frame = frame.f_back
    if frame is not None:
        for name, value in frame.f_locals.items():
            if value is X and name.isidentifier() and name != "self":
                return name
    return "eval_dataset"


def _remember_output(output: Any, run_id: str, name: str) -> None:
    try:
        ref = weakref.ref(output)
    except TypeError:
        return  # a plain list: cannot tell it apart later
    with _lock:
        if len(_outputs) > 1000:
            for key in [k for k, (r, _, _) in _outputs.items() if r() is None]:
                del _outputs[key]
        _outputs[id(output)] = (ref, run_id, name)


def _lookup(output: Any) -> tuple[str, str] | None:
    entry = _outputs.get(id(output))
    if entry is None or entry[0]() is not output:
        return None
    return entry[1], entry[2]


def predict_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def predicting(self: Any, *args: Any, **kwargs: Any) -> Any:
        live = _live_run(self)
        if live is None:
            return original(self, *args, **kwargs)
        run_id = live[0]
        with inside():
            output = original(self, *args, **kwargs)
        try:
            X = args[0] if args else kwargs.get("X")
            _remember_output(output, run_id, _dataset_name(X, sys._getframe(1)))
        except Exception:  # noqa: BLE001, S110 - bookkeeping must never break predict
            pass
        return output
    return predicting


def score_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def scoring(self: Any, *args: Any, **kwargs: Any) -> Any:
        live = _live_run(self)
        if live is None:
            return original(self, *args, **kwargs)
        run_id, integration, config = live
        with inside():
            value = original(self, *args, **kwargs)
            X = args[0] if args else kwargs.get("X")
            name = _dataset_name(X, sys._getframe(1))
            failures = Failures(integration, config)
            failures.attempt("post-training score", log_post_training, run_id,
                             f"{type(self).__name__}_score_{name}", value)
        failures.report()
        return value
    return scoring


def metric_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def metric(*args: Any, **kwargs: Any) -> Any:
        with inside():
            value = original(*args, **kwargs)
        config = get_config("sklearn")
        if config is None or depth() or not _outputs:
            return value
        y_pred = next((kwargs[k] for k in _PRED_ARGS if k in kwargs),
                      args[1] if len(args) > 1 else None)
        found = _lookup(y_pred)
        if found is not None:
            failures = Failures("sklearn", config)
            failures.attempt("post-training metric", log_post_training, found[0],
                             f"{original.__name__}_{found[1]}", value)
            failures.report()
        return value
    return metric


def log_post_training(run_id: str, key: str, value: Any) -> None:
    """Log into the model's run, reopening it for the moment when it has ended."""
    from lakeml.entities import RunStatus
    from lakeml.errors import InvalidState

    if not runs.valid_key(key) or not runs._number(value):
        return
    client = runs.client()
    try:
        client.log_metric(run_id, key, float(value))
        return
    except InvalidState:
        run = client.get_run(run_id)
        if run.info.status not in RunStatus.TERMINAL or run.info.lifecycle_stage != "active":
            raise
    client.update_run(run_id, status=RunStatus.RUNNING)
    try:
        client.log_metric(run_id, key, float(value))
    finally:
        client.set_terminated(run_id, run.info.status)
