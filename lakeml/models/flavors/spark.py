"""The ``spark`` flavor: a fitted pyspark.ml ``PipelineModel`` (MLflow's ``mlflow.spark``).

Saved with Spark ML's own writer into ``sparkml/`` of the model folder, so
any Spark of a compatible version reads it back with ``PipelineModel.load``;
a single fitted stage (a ``LogisticRegressionModel``…) is saved as a
one-stage pipeline. The public module is ``lakeml.spark_ml`` (``lakeml.spark``
is the Spark integration: sessions, views, bulk logging). As pyfunc, predict
turns the pandas input into a DataFrame of the active Spark session (or of
``lakeml.spark.session()``), runs the pipeline and returns its ``prediction``
column. Saving and loading go through the driver's file system (``file://``):
local mode, or a cluster whose nodes share that path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable

from lakeml.errors import InvalidArgument, InvalidState
from lakeml.models.descriptor import Model
from lakeml.models.saving import FlavorSpec, save_model_folder
from lakeml.models.signature import ModelSignature

FLAVOR_NAME = "spark"
MODEL_DATA = "sparkml"
PREDICTION = "prediction"


def _active_session() -> Any:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is None:
        raise InvalidState("no active Spark session: start one (lakeml.spark.session() "
                           "starts a local one with Delta) or save and load Spark ML models "
                           "through lakeml.spark_ml, which starts it when needed")
    return active


# The session Spark ML reads and scores with. lakeml.spark_ml sets it to
# lakeml.spark.session (the active session, else a new local one with Delta):
# models sit below lakeml.spark in the layers, so they do not import it.
_session: Callable[[], Any] = _active_session


def use_session(factory: Callable[[], Any]) -> None:
    """Make ``factory()`` the Spark session models are read and scored with."""
    global _session
    _session = factory


def _as_pipeline(spark_model: Any) -> Any:
    from pyspark.ml import Model as SparkModel
    from pyspark.ml import PipelineModel

    if isinstance(spark_model, PipelineModel):
        return spark_model
    if isinstance(spark_model, SparkModel):
        return PipelineModel([spark_model])
    raise InvalidArgument(f"spark_model must be a fitted pyspark.ml PipelineModel or Model, "
                          f"got {type(spark_model).__name__} (fit the Pipeline first)")


def save_model(spark_model: Any, path: str | os.PathLike[str],
               signature: ModelSignature | None = None, input_example: Any = None, *,
               code_paths: Iterable[str] | None = None,
               pip_requirements: Iterable[str] | None = None,
               extra_pip_requirements: Iterable[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Save a fitted ``PipelineModel`` (or one fitted stage) at ``path``.

    Example:
        >>> lakeml.spark_ml.save_model(Pipeline(stages=[...]).fit(df), "/tmp/m")  # doctest: +SKIP
    """
    import pyspark

    pipeline = _as_pipeline(spark_model)

    def write(folder: Path) -> dict[str, Any]:
        pipeline.write().overwrite().save((folder / MODEL_DATA).resolve().as_uri())
        return {"pyspark_version": str(pyspark.__version__), "model_data": MODEL_DATA,
                "model_class": f"{type(spark_model).__module__}.{type(spark_model).__name__}"}

    spec = FlavorSpec(FLAVOR_NAME, "lakeml.spark_ml", write, ["pyspark"],
                      _SparkWrapper(pipeline).predict, MODEL_DATA)
    return save_model_folder(path, spec, signature=signature, input_example=input_example,
                             code_paths=code_paths, pip_requirements=pip_requirements,
                             extra_pip_requirements=extra_pip_requirements, metadata=metadata)


def _read(data: Path) -> Any:
    from pyspark.ml import PipelineModel

    _session()  # Spark ML reads through the active session (started if none)
    return PipelineModel.load(data.resolve().as_uri())


def load_model(model_uri: str | os.PathLike[str]) -> Any:
    """The ``PipelineModel`` saved at ``model_uri``.

    Example:
        >>> model = lakeml.spark_ml.load_model("runs:/<run_id>/model")   # doctest: +SKIP
        >>> model.transform(df).select("prediction")                     # doctest: +SKIP
    """
    from lakeml.models.uri import local_model_path

    folder = local_model_path(model_uri)
    conf = Model.load(folder).flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidArgument(f"the model at {os.fspath(model_uri)!r} is not a Spark ML "
                              f"model; its flavors: {sorted(Model.load(folder).flavors)}")
    return _read(Path(folder, conf.get("model_data", MODEL_DATA)))


class _SparkWrapper:
    def __init__(self, pipeline: Any) -> None:
        self.raw_model = pipeline

    def predict(self, data: Any) -> Any:
        """The pipeline's ``prediction`` column for a pandas DataFrame (row order kept)."""
        import numpy as np
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            data = pd.DataFrame(data)
        frame = _session().createDataFrame(data)
        out = self.raw_model.transform(frame)
        if PREDICTION not in out.columns:
            raise InvalidArgument(f"the Spark pipeline's output has no {PREDICTION!r} column "
                                  f"(it has {out.columns}); its last stage must predict")
        # collect(), not toPandas(): pyspark 4.0's toPandas warns under pandas 3
        return np.array([row[0] for row in out.select(PREDICTION).collect()])


def _load_pyfunc(path: str) -> _SparkWrapper:
    """The pyfunc of the pipeline saved in folder ``path`` (the model's ``sparkml/``)."""
    return _SparkWrapper(_read(Path(path)))
