"""scikit-learn models: save, log and load them (MLflow's ``mlflow.sklearn``).

Example:
    >>> import lakeml.sklearn
    >>> with lakeml.start_run():                                               # doctest: +SKIP
    ...     info = lakeml.sklearn.log_model(model, "model", input_example=X[:5])
    >>> lakeml.sklearn.load_model(info.model_uri).predict(X)                  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.autolog.sklearn import autolog
from lakeml.models.flavors.sklearn import FLAVOR_NAME, _load_pyfunc, load_model, save_model

if TYPE_CHECKING:
    from lakeml.models.lineage import ModelInfo
    from lakeml.models.signature import ModelSignature

__all__ = ["FLAVOR_NAME", "_load_pyfunc", "autolog", "load_model", "log_model", "save_model"]


def log_model(sk_model: Any, name: str = "model", signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              **save_kwargs: Any) -> ModelInfo:
    """Log a fitted estimator into the active run (started if none) under ``name``.

    ``save_kwargs`` are :func:`save_model`'s options (``serialization_format``,
    ``pyfunc_predict_fn``, ``code_paths``, ``pip_requirements``…).
    """
    from lakeml.models.lineage import log_model_with

    return log_model_with(save_model, sk_model, name, signature=signature,
                          input_example=input_example,
                          registered_model_name=registered_model_name, **save_kwargs)

