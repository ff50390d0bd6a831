"""PyTorch autologging: PyTorch Lightning's ``Trainer.fit``, and a hook for plain loops.

Lightning (``lightning.pytorch`` or ``pytorch_lightning``): ``autolog()``
patches ``Trainer.fit`` to add a callback that logs the optimizers' settings
as params (``optimizer_name``, ``lr``, ``momentum``… of the first param group;
``optimizer<i>.``/``group<j>.`` prefixes for more), ``epochs`` (max_epochs),
every value of ``trainer.callback_metrics`` at the end of each training and
validation epoch as metric history (step = epoch), and the LightningModule at
the end (``model``).

A plain training loop has no method to patch, so it says where epochs end::

    with lakeml.pytorch.log_training(model, optimizer) as log:
        for epoch in range(10):
            ...
            log.epoch(loss=loss.item(), val_loss=val_loss)

which logs the same things: optimizer settings when it starts, the given
values per epoch (step = epoch number, counted from 0), ``epochs`` and the
model when the block ends. The block ends the run it opened FAILED if the
loop raised. As everywhere, a failure of the logging is one warning, never an
exception in the loop.
"""

from __future__ import annotations

from typing import Any, Mapping

from lakeml.autolog import runs
from lakeml.autolog.patching import (
    AutologConfig,
    Failures,
    get_config,
    patch_method,
    switch,
)
from lakeml.entities import RunStatus

INTEGRATION = "pytorch"
LIGHTNING_MODULES = ("lightning.pytorch", "pytorch_lightning")


def autolog(log_models: bool = True, disable: bool = False, exclusive: bool = False,
            silent: bool = False) -> None:
    """Log every PyTorch Lightning ``Trainer.fit`` (see :func:`log_training` for plain loops).

    Example:
        >>> lakeml.pytorch.autolog()                          # doctest: +SKIP
        >>> lightning.Trainer(max_epochs=5).fit(module, data)  # doctest: +SKIP
    """
    switch(INTEGRATION, AutologConfig(log_models=log_models, disable=disable,
                                      exclusive=exclusive, silent=silent),
           *LIGHTNING_MODULES, hook=_patch)


def _patch(module_name: str) -> None:
    if get_config(INTEGRATION) is None:
        return
    import importlib

    trainer = importlib.import_module(module_name).Trainer
    patch_method(INTEGRATION, trainer, "fit",
                 runs.training_wrapper(INTEGRATION, _LightningHandler(module_name)))


def optimizer_params(optimizers: Any) -> dict[str, Any]:
    """The settings of one optimizer or a list of them, without the tensors."""
    if not isinstance(optimizers, (list, tuple)):
        optimizers = [optimizers]
    out: dict[str, Any] = {}
    for i, opt in enumerate(optimizers):
        prefix = "" if len(optimizers) == 1 else f"optimizer{i}."
        out[f"{prefix}optimizer_name"] = type(opt).__name__
        groups = getattr(opt, "param_groups", [])
        for j, group in enumerate(groups):
            group_prefix = prefix + ("" if j == 0 else f"group{j}.")
            for key, value in group.items():
                if key != "params":
                    out[f"{group_prefix}{key}"] = value
    return out


def _floats(values: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in values.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError, RuntimeError):
            pass  # a tensor of several values, a string: not a metric
    return out


def _save(*args: Any, **kwargs: Any) -> Any:
    from lakeml.models.flavors.pytorch import save_model

    return save_model(*args, **kwargs)


class _LightningHandler:
    def __init__(self, module_name: str) -> None:
        self.module_name = module_name

    def before(self, call: runs.Call) -> None:
        trainer = call.args[0]
        callback = _lightning_callback(self.module_name)(call)
        trainer.callbacks.append(callback)
        call.state["callback"] = callback

    def cleanup(self, call: runs.Call) -> None:
        callback = call.state.pop("callback", None)
        trainer = call.args[0]
        if callback is not None and callback in trainer.callbacks:
            trainer.callbacks.remove(callback)

    def after(self, call: runs.Call, result: Any) -> None:
        trainer = call.args[0]
        rid = call.run_id
        call.attempt("epochs", runs.log_params, rid, {"epochs": trainer.max_epochs})
        for cb in trainer.callbacks:
            if type(cb).__name__ == "EarlyStopping":
                call.attempt("early stopping", runs.log_metrics, rid, {
                    "stopped_epoch": cb.stopped_epoch,
                    "best_score": float(cb.best_score)})
        if call.config.log_models:
            model = trainer.lightning_module
            call.attempt("model", runs.log_model, rid, _save, model)


_callback_classes: dict[str, type] = {}


def _lightning_callback(module_name: str) -> type:
    """A Lightning Callback class (made once per Lightning package) logging one fit."""
    if module_name in _callback_classes:
        return _callback_classes[module_name]
    import importlib

    base = importlib.import_module(module_name).Callback

    class LakemlCallback(base):  # type: ignore[misc, valid-type]
        def __init__(self, call: runs.Call) -> None:
            super().__init__()
            self.call = call

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.call.attempt("optimizer params", runs.log_params, self.call.run_id,
                              optimizer_params(trainer.optimizers))

        def _metrics(self, trainer: Any) -> None:
            if getattr(trainer, "sanity_checking", False):
                return
            self.call.attempt("epoch metrics", runs.log_metrics, self.call.run_id,
                              _floats(trainer.callback_metrics), trainer.current_epoch)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            self._metrics(trainer)

        def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            self._metrics(trainer)

    _callback_classes[module_name] = LakemlCallback
    return LakemlCallback


class TrainingLog:
    """What :func:`log_training` returns: call :meth:`epoch` at the end of each epoch."""

    def __init__(self, model: Any, optimizer: Any = None, *, log_models: bool = True,
                 silent: bool = False) -> None:
        self.model = model
        self.optimizer = optimizer
        self.config = AutologConfig(log_models=log_models, silent=silent)
        self.failures = Failures(INTEGRATION, self.config)
        self.run_id = ""
        self.epochs = 0
        self._owned = False

    def __enter__(self) -> TrainingLog:
        opened = self.failures.attempt("starting a run", runs.open_run, INTEGRATION)
        if opened is not None:
            self.run_id, _, self._owned = opened
            if self.optimizer is not None:
                self.failures.attempt("optimizer params", runs.log_params, self.run_id,
                                      optimizer_params(self.optimizer))
        return self

    def epoch(self, epoch: int | None = None, **metrics: Any) -> None:
        """Log this epoch's values (``loss=…``) at step ``epoch`` (default: the count so far)."""
        step = self.epochs if epoch is None else epoch
        self.epochs = max(self.epochs, step + 1)
        if self.run_id:
            self.failures.attempt("epoch metrics", runs.log_metrics, self.run_id,
                                  _floats(metrics), step)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.run_id:
            self.failures.attempt("epochs", runs.log_params, self.run_id,
                                  {"epochs": self.epochs})
            if self.config.log_models and exc_type is None:
                self.failures.attempt("model", runs.log_model, self.run_id, _save, self.model)
            if self._owned:
                status = RunStatus.FINISHED if exc_type is None else \
                    RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) \
                    else RunStatus.FAILED
                self.failures.attempt("ending the run", runs.close_run, self.run_id, status)
        self.failures.report()


def log_training(model: Any, optimizer: Any = None, *, log_models: bool = True,
                 silent: bool = False) -> TrainingLog:
    """Autologging for a plain PyTorch loop: a context manager, see the module's text.

    Example:
        >>> with lakeml.pytorch.log_training(model, optimizer) as log:   # doctest: +SKIP
        ...     for epoch in range(10):
        ...         log.epoch(loss=train_one_epoch())
    """
    return TrainingLog(model, optimizer, log_models=log_models, silent=silent)
