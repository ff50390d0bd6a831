"""Spark ML models: save, log and load pyspark.ml pipelines (MLflow's ``mlflow.spark``).

The flavor is named ``spark`` in MLmodel, as in MLflow; its module is
``lakeml.spark_ml`` because ``lakeml.spark`` holds lakeml's Spark integration
(sessions, the tables as DataFrames, bulk logging). Needs pyspark.

Example:
    >>> import lakeml.spark_ml
    >>> model = Pipeline(stages=[assembler, LogisticRegression()]).fit(train)   # doctest: +SKIP
    >>> info = lakeml.spark_ml.log_model(model, "model")                       # doctest: +SKIP
    >>> lakeml.spark_ml.load_model(info.model_uri).transform(test)             # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.autolog.spark_ml import autolog
from lakeml.models.flavors.spark import (
    FLAVOR_NAME,
    _load_pyfunc,
    load_model,
    save_model,
    use_session,
)

if TYPE_CHECKING:
    from lakeml.models.lineage import ModelInfo
    from lakeml.models.signature import ModelSignature

__all__ = ["FLAVOR_NAME", "_load_pyfunc", "autolog", "load_model", "log_model", "save_model"]


def log_model(spark_model: Any, name: str = "model", signature: ModelSignature | None = None,
              input_example: Any = None, registered_model_name: str | None = None,
              **save_kwargs: Any) -> ModelInfo:
    """Log a fitted ``PipelineModel`` into the active run (started if none) under ``name``."""
    from lakeml.models.lineage import log_model_with

    return log_model_with(save_model, spark_model, name, signature=signature,
                          input_example=input_example,
                          registered_model_name=registered_model_name, **save_kwargs)


def _session() -> Any:
    """lakeml's Spark session, imported on first use (``import lakeml.spark_ml`` loads no
    Spark): the active session, else a new local one with Delta Lake."""
    import lakeml.spark

    return lakeml.spark.session()


use_session(_session)  # the flavor, below lakeml.spark, reads and scores through it
