"""One autologged call: where it logs (the active run, or a run it opens and
closes), and the wrapper every integration's patched training method runs.

Where a call logs:
- this thread's active run, when there is one (unless ``exclusive=True``,
  then nothing is logged: autologging stays out of runs the user made);
- in a thread other than the main one, while the main thread has an active
  run: a new child run of that run (each thread's fit gets its own run, so
  concurrent fits never mix params, and all of them hang under the main run);
- else a new run, ended when the call returns (FINISHED) or raises (FAILED).
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from lakeml.autolog.patching import (
    AutologConfig,
    Failures,
    depth,
    get_config,
    inside,
)
from lakeml.entities import RunStatus
from lakeml.times import now_ms

AUTOLOGGING_TAG = "mlflow.autologging"
MAX_PARAM_LENGTH = 6000


@dataclass
class Call:
    """One autologged training call: its arguments, its run, what failed."""

    integration: str
    config: AutologConfig
    failures: Failures
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    run_id: str = ""
    experiment_id: str = ""
    state: dict[str, Any] = field(default_factory=dict)

    def attempt(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one piece of logging; a failure is reported (once per call), not raised."""
        return self.failures.attempt(what, fn, *args, **kwargs)


class Handler(Protocol):
    """What an integration does around the library's training call."""

    def before(self, call: Call) -> None: ...

    def after(self, call: Call, result: Any) -> None: ...

    # optional: ``cleanup(call)``, run once the library call returned or raised


def _fluent() -> Any:
    from lakeml import fluent

    return fluent


def open_run(integration: str) -> tuple[str, str, bool]:
    """(run id, experiment id, opened here) of the run this call logs into."""
    fluent = _fluent()
    stack = fluent.state.stack()
    if stack:
        info = stack[-1].info
        return info.run_id, info.experiment_id, False
    tags = {AUTOLOGGING_TAG: integration}
    main = fluent.state.main_stack
    if threading.current_thread() is not threading.main_thread() and main:
        run = fluent.start_run(nested=True, parent_run_id=main[-1].info.run_id,
                               experiment_id=main[-1].info.experiment_id, tags=tags)
    else:
        run = fluent.start_run(tags=tags)
    return run.info.run_id, run.info.experiment_id, True


def close_run(run_id: str, status: str) -> None:
    _fluent().end_run(status, run_id=run_id)


def training_wrapper(integration: str, handler: Handler,
                     skip: Callable[[tuple[Any, ...], dict[str, Any]], bool] | None = None
                     ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A factory for :func:`lakeml.autolog.patching.patch`: wraps a training method."""
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def autologged(*args: Any, **kwargs: Any) -> Any:
            config = get_config(integration)
            if config is None or depth() or (skip is not None and skip(args, kwargs)):
                return original(*args, **kwargs)
            return run_autologged(integration, config, handler, original, args, kwargs)
        return autologged
    return make


def patch_boosting(integration: str, trains: list[tuple[Any, str]], wrappers: Any,
                   wrapper_names: tuple[str, ...], train_handler: Handler,
                   fit_handler: Handler) -> None:
    """Patch a boosting library: its ``train`` functions and its scikit-learn wrappers' fit."""
    from lakeml.autolog.patching import patch, patch_method

    train = training_wrapper(integration, train_handler)
    for owner, name in trains:
        patch(integration, owner, name, train)
    fit = training_wrapper(integration, fit_handler)
    for name in wrapper_names:
        cls = getattr(wrappers, name, None)
        if cls is not None:
            patch_method(integration, cls, "fit", fit)


def run_autologged(integration: str, config: AutologConfig, handler: Handler,
                   original: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
    """Call ``original`` with autologging around it, keeping the contract."""
    with inside():
        failures = Failures(integration, config)
        if config.exclusive and _fluent().active_run() is not None:
            return original(*args, **kwargs)
        opened = failures.attempt("starting a run", open_run, integration)
        if opened is None:
            failures.report()
            return original(*args, **kwargs)
        call = Call(integration, config, failures, args, dict(kwargs),
                    state={"fn": original})
        call.run_id, call.experiment_id, owned = opened
        failed_before = len(failures.errors)
        failures.attempt("before training", handler.before, call)
        if len(failures.errors) > failed_before:
            call.args, call.kwargs = args, dict(kwargs)  # untouched arguments on failure
        try:
            result = original(*call.args, **call.kwargs)
        except BaseException as exc:
            _cleanup(handler, call)
            if owned:
                status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) \
                    else RunStatus.FAILED
                failures.attempt("ending the run", close_run, call.run_id, status)
            with contextlib.suppress(Exception):  # warnings as errors: keep the library's
                failures.report()
            raise
        _cleanup(handler, call)
        failures.attempt("after training", handler.after, call, result)
        if owned:
            failures.attempt("ending the run", close_run, call.run_id, RunStatus.FINISHED)
        failures.report()
        return result


def _cleanup(handler: Handler, call: Call) -> None:
    cleanup = getattr(handler, "cleanup", None)
    if cleanup is not None:
        call.attempt("cleaning up", cleanup, call)


# ---- logging helpers shared by the integrations --------------------------------------------
def client() -> Any:
    return _fluent().state.client()


def param_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value) if not _plain(value) else str(value)
    return text if len(text) <= MAX_PARAM_LENGTH else text[:MAX_PARAM_LENGTH - 3] + "..."


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def valid_key(key: Any) -> bool:
    from lakeml.errors import InvalidArgument
    from lakeml.validation import check_key

    try:
        check_key(key)
    except InvalidArgument:
        return False
    return True


def log_params(run_id: str, params: Mapping[str, Any]) -> None:
    """Log params as text (long values cut to 6,000 characters; bad keys left out)."""
    clean = {str(k): param_text(v) for k, v in params.items() if valid_key(str(k))}
    if clean:
        client().log_batch(run_id, params=clean)


def log_metrics(run_id: str, metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Log metrics that are finite-or-not numbers (others left out)."""
    clean = {metric_key(k): float(v) for k, v in metrics.items()
             if valid_key(metric_key(k)) and _number(v)}
    if clean:
        client().log_batch(run_id, metrics=clean, step=step)


def _number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes))


def metric_key(name: str) -> str:
    """A library's metric name as a valid key (``ndcg@5`` becomes ``ndcg_5``)."""
    return _KEY_CHARS.sub("_", name)


_KEY_CHARS = re.compile(r"[^\w\-. /]")


def log_histories(run_id: str, histories: Mapping[str, list[Any]]) -> None:
    """Log each key's list of values as its metric history, step = position."""
    from lakeml.entities import Metric

    now = now_ms()
    points = [Metric(metric_key(key), float(value), now, step)
              for key, values in histories.items() if valid_key(metric_key(key))
              for step, value in enumerate(values)]
    if points:
        client().log_batch(run_id, metrics=points)


def log_tags(run_id: str, tags: Mapping[str, Any]) -> None:
    client().log_batch(run_id, tags={k: str(v) for k, v in tags.items()})


def log_dataset(run_id: str, X: Any, y: Any) -> None:
    """Record the training data (features and targets) as an input, context ``train``."""
    from lakeml.autolog.tabular import dataset
    from lakeml.entities import DatasetInput

    described = dataset(X, y)
    if described is not None:
        client().log_inputs(run_id, [DatasetInput(described, "train")])


def log_model(run_id: str, save_model: Callable[..., Any], model: Any, name: str = "model",
              **save_kwargs: Any) -> Any:
    """Log ``model`` with a flavor's ``save_model`` into run ``run_id``."""
    from lakeml.models.lineage import log_model_with

    return log_model_with(save_model, model, name, run_id=run_id, **save_kwargs)


def child_run(call: Call, run_name: str, params: Mapping[str, Any],
              metrics: Mapping[str, Any]) -> str:
    """A finished child run of the call's run holding one tuning candidate."""
    c = client()
    run = c.create_run(call.experiment_id, run_name=run_name, parent_run_id=call.run_id,
                       tags={AUTOLOGGING_TAG: call.integration})
    rid = run.info.run_id
    log_params(rid, params)
    log_metrics(rid, metrics)
    c.set_terminated(rid, RunStatus.FINISHED)
    return rid


def run_name(run_id: str) -> str:
    return client().get_run(run_id).info.run_name
