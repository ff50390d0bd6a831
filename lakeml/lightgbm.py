"""LightGBM models: save, log and load them (MLflow's ``mlflow.lightgbm``).

Example:
    >>> import lakeml.lightgbm
    >>> info = lakeml.lightgbm.log_model(model, "model", input_example=X[:5])   # doctest: +SKIP
    >>> lakeml.lightgbm.load_model(info.model_uri)                              # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.autolog.lightgbm import autolog
from lakeml.models.flavors.lightgbm import FLAVOR_NAME, _load_pyfunc, load_model, save_model

if TYPE_CHECKING:
    from lakeml.models.lineage import ModelInfo
    from lakeml.models.signature import ModelSignature

__all__ = ["FLAVOR_NAME", "_load_pyfunc", "autolog", "load_model", "log_model", "save_model"]


def log_model(lgb_model: Any, name: str = "model", signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              **save_kwargs: Any) -> ModelInfo:
    """Log a Booster or LGBMModel into the active run (started if none) under ``name``."""
    from lakeml.models.lineage import log_model_with

    return log_model_with(save_model, lgb_model, name, signature=signature,
                          input_example=input_example,
                          registered_model_name=registered_model_name, **save_kwargs)
