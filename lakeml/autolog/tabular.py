"""Training data of tabular fits (scikit-learn style ``fit(X, y, sample_weight=…)``):
finding it in the call, describing it as a dataset, sampling it for a signature."""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any, Callable

EXAMPLE_ROWS = 5


@lru_cache(maxsize=1024)
def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def fit_arguments(fn: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by name (``self`` included), as the method declares them."""
    sig = _signature(fn)
    if sig is not None:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            pass
        else:
            named = dict(bound.arguments)
            for key in list(named):
                if sig.parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
                    named.update(named.pop(key))
            return named
    names = ["self", "X", "y"]
    return {**dict(zip(names, args)), **kwargs}


def training_data(fn: Callable[..., Any], args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(X, y, sample_weight) of a ``fit(X, y=None, sample_weight=None, …)`` call."""
    named = fit_arguments(fn, args, kwargs)
    values = [v for k, v in named.items() if k != "self"]
    X = named.get("X", values[0] if values else None)
    y = named.get("y", named.get("Y"))
    return X, y, named.get("sample_weight")


def head(X: Any, n: int = EXAMPLE_ROWS) -> Any:
    """The first ``n`` rows of a DataFrame or array, or None for other inputs."""
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        return X.iloc[:n]
    if type(X).__module__ == "numpy" and getattr(X, "ndim", 0) >= 1:
        return X[:n]
    return None


def dataset(X: Any, y: Any) -> Any:
    """A :class:`lakeml.entities.Dataset` (with its content digest) of ``X`` and ``y``;
    None for a sparse matrix."""
    from lakeml.tracking.datasets import from_numpy, from_pandas

    if hasattr(X, "iloc") and hasattr(X, "columns"):
        import pandas as pd

        if y is None:
            return from_pandas(X)
        target = str(getattr(y, "name", None) or "target")
        if target in {str(c) for c in X.columns}:
            target = f"{target}_target"
        targets = pd.Series(getattr(y, "to_numpy", lambda: y)(), name=target, index=X.index) \
            if getattr(y, "ndim", 1) == 1 else None
        if targets is None:
            return from_pandas(X)
        return from_pandas(pd.concat([X, targets], axis=1), targets=target)
    import numpy as np

    if hasattr(X, "toarray"):
        return None  # a sparse matrix: densifying it to hash it could exhaust memory
    return from_numpy(np.asarray(X), targets=None if y is None else np.asarray(y))


def signature(X_head: Any, output: Any) -> Any:
    """The model signature of an input sample and the model's output on it."""
    from lakeml.models.signature import infer_signature

    return infer_signature(X_head, output)


def model_options(config: Any, model: Any, X: Any,
                  predict: Callable[[Any], Any] | None) -> dict[str, Any]:
    """``signature``/``input_example`` keyword arguments for a flavor's ``save_model``."""
    sample = head(X)
    if sample is None:
        return {}
    options: dict[str, Any] = {}
    if config.log_input_examples:
        options["input_example"] = sample
    if config.log_model_signatures and predict is not None:
        options["signature"] = signature(sample, predict(sample))
    elif not config.log_model_signatures:
        options["signature"] = False  # not even inferred from the input example
    return options
