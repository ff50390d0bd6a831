"""Handing tabular input to estimators in the form they were fitted on.

An estimator fitted on a DataFrame knows its feature names; one fitted on an
array does not, and scikit-learn warns when given the other kind. The pyfunc
wrappers pass a DataFrame to the first and a plain array to the second.
"""

from __future__ import annotations

from typing import Any


def as_fitted(model: Any, data: Any) -> Any:
    """``data`` as a DataFrame with the model's feature names, or as a numpy array."""
    import numpy as np
    import pandas as pd

    names = getattr(model, "feature_names_in_", None)
    if isinstance(data, pd.DataFrame):
        return data if names is not None else data.to_numpy()
    if names is not None and isinstance(data, np.ndarray) and data.ndim == 2 \
            and data.shape[1] == len(names):
        return pd.DataFrame(data, columns=list(names))
    return data


class EstimatorWrapper:
    """The pyfunc of a fitted scikit-learn style estimator: its ``predict_fn`` method
    (``predict``, ``predict_proba``…) on input shaped as it was fitted."""

    def __init__(self, model: Any, predict_fn: str = "predict") -> None:
        self.raw_model = model
        self._predict = getattr(model, predict_fn)

    def predict(self, data: Any) -> Any:
        return self._predict(as_fitted(self.raw_model, data))
