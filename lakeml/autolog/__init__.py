"""Autologging: one call instruments the training libraries that are installed.

``lakeml.autolog()`` turns on every integration below whose library can be
imported; each also has its own switch with the same options
(``lakeml.sklearn.autolog(...)``, ``lakeml.xgboost.autolog(...)``…). Patching
waits for the library's import, so ``lakeml.autolog()`` itself imports none.
The contract every integration keeps (never break training, log once for
nested fits, restore on ``disable=True``) is in :mod:`lakeml.autolog.patching`.

``lakeml.autolog`` is this package and is also callable (``lakeml.autolog()``
calls :func:`autolog`): Python binds a package to its parent's attribute once
a submodule is imported, so a plain function of that name would be replaced.

Adding an integration: its module here with an ``autolog(**options)``, and one
entry in :data:`INTEGRATIONS`.

Example:
    >>> import lakeml
    >>> lakeml.autolog()                                       # doctest: +SKIP
    >>> LogisticRegression().fit(X, y)   # logged as a run    # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import types

from lakeml.autolog.patching import AutologgingWarning

# integration -> (its module, the library it needs)
INTEGRATIONS: dict[str, tuple[str, str]] = {
    "sklearn": ("lakeml.autolog.sklearn", "sklearn"),
    "xgboost": ("lakeml.autolog.xgboost", "xgboost"),
    "lightgbm": ("lakeml.autolog.lightgbm", "lightgbm"),
    "pytorch": ("lakeml.autolog.pytorch", "torch"),
    "spark_ml": ("lakeml.autolog.spark_ml", "pyspark"),
}

__all__ = ["INTEGRATIONS", "AutologgingWarning", "autolog", "installed"]


def installed() -> list[str]:
    """The integrations whose library is installed here."""
    return [name for name, (_, library) in INTEGRATIONS.items()
            if importlib.util.find_spec(library) is not None]


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True,
            log_models: bool = True, log_datasets: bool = True, disable: bool = False,
            exclusive: bool = False, silent: bool = False,
            max_tuning_runs: int | None = 5) -> list[str]:
    """Turn autologging on (or off with ``disable=True``) for every installed library.

    Returns the integrations switched. An option an integration has no use
    for (``max_tuning_runs`` for XGBoost) is not passed to it.

    Example:
        >>> lakeml.autolog(log_models=False)   # ['sklearn', 'xgboost', ...]   # doctest: +SKIP
    """
    options = {"log_input_examples": log_input_examples,
               "log_model_signatures": log_model_signatures, "log_models": log_models,
               "log_datasets": log_datasets, "disable": disable, "exclusive": exclusive,
               "silent": silent, "max_tuning_runs": max_tuning_runs}
    switched = []
    for name in installed():
        module = importlib.import_module(INTEGRATIONS[name][0])
        accepted = inspect.signature(module.autolog).parameters
        module.autolog(**{k: v for k, v in options.items() if k in accepted})
        switched.append(name)
    return switched


class _CallableModule(types.ModuleType):
    """``lakeml.autolog(...)`` calls :func:`autolog`; the package stays a package."""

    def __call__(self, *args: object, **kwargs: object) -> list[str]:
        return autolog(*args, **kwargs)  # type: ignore[arg-type]


sys.modules[__name__].__class__ = _CallableModule
