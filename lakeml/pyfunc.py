"""The generic model interface (MLflow's ``mlflow.pyfunc``).

Any lakeml or MLflow-format model loads as a :class:`PyFuncModel` whose
``predict`` takes a pandas DataFrame, numpy array, dict of columns or list of
records, checked against the model's signature. Custom models subclass
:class:`PythonModel` and are saved with their extra ``artifacts`` and
``code_paths``.

Example:
    >>> import lakeml.pyfunc
    >>> class Doubler(lakeml.pyfunc.PythonModel):
    ...     def predict(self, context, model_input, params=None):
    ...         return model_input * 2
    >>> info = lakeml.pyfunc.log_model("doubler", python_model=Doubler())   # doctest: +SKIP
    >>> lakeml.pyfunc.load_model(info.model_uri).predict(df)              # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable

from lakeml.models.pyfunc_model import PyFuncModel, load_model
from lakeml.models.python_model import PythonModel, PythonModelContext
from lakeml.models.python_model import load_python_model as _load_python_model

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql._typing import UserDefinedFunctionLike
    from pyspark.sql.types import DataType

    from lakeml.models.descriptor import Model
    from lakeml.models.lineage import ModelInfo
    from lakeml.models.signature import ModelSignature

__all__ = ["PyFuncModel", "PythonModel", "PythonModelContext", "load_model", "log_model",
           "save_model", "spark_udf"]


def save_model(path: str | os.PathLike[str], python_model: PythonModel | None = None, *,
               artifacts: dict[str, str] | None = None,
               code_paths: Iterable[str | os.PathLike[str]] | None = None,
               signature: ModelSignature | None = None, input_example: Any = None,
               model_config: dict[str, Any] | None = None,
               pip_requirements: Iterable[str] | None = None,
               extra_pip_requirements: Iterable[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Save a custom :class:`PythonModel` (with its artifacts and code) at ``path``.

    Args:
        path: the model folder to create (must not exist or be empty).
        python_model: the instance to save (pickled with cloudpickle).
        artifacts: name -> local path or URI of files/folders the model needs;
            ``load_context`` sees them as ``context.artifacts[name]`` (local paths).
        code_paths: Python files or packages copied into the model and put on
            ``sys.path`` when it loads.
    """
    from lakeml.errors import InvalidArgument
    from lakeml.models.python_model import flavor_spec
    from lakeml.models.saving import save_model_folder

    if python_model is None:
        raise InvalidArgument("give python_model=<a PythonModel instance>")
    return save_model_folder(path, flavor_spec(python_model, artifacts, model_config),
                             signature=signature, input_example=input_example,
                             code_paths=code_paths, pip_requirements=pip_requirements,
                             extra_pip_requirements=extra_pip_requirements, metadata=metadata)


def log_model(name: str = "model", python_model: PythonModel | None = None, *,
              registered_model_name: str | None = None, **save_kwargs: Any) -> ModelInfo:
    """Log a custom :class:`PythonModel` into the active run (started if none).

    ``save_kwargs`` are :func:`save_model`'s options (``artifacts``,
    ``code_paths``, ``signature``, ``input_example``…).
    """
    from lakeml.models.lineage import log_model_with

    def save(model: PythonModel | None, path: str, **kwargs: Any) -> Model:
        return save_model(path, model, **kwargs)

    return log_model_with(save, python_model, name,
                          registered_model_name=registered_model_name, **save_kwargs)


def spark_udf(spark: SparkSession, model_uri: str, result_type: str | DataType = "double",
              env_manager: str = "local", *, params: dict[str, Any] | None = None
              ) -> UserDefinedFunctionLike:
    """A Spark UDF that scores rows with the model at ``model_uri``, in parallel.

    The model loads once per Spark Python worker (the UDF ships its folder path,
    not the model) and scores Arrow batches as pandas DataFrames through
    :meth:`PyFuncModel.predict`, so the signature is enforced as anywhere else.
    Call it with columns, ``udf("a", "b")``, which become the signature's input
    columns in order (positional columns 0, 1… without a signature), or with
    one struct, ``udf(struct("a", "b"))``, whose field names are the columns.

    Args:
        spark: the session whose DataFrames will be scored.
        model_uri: any model URI (``runs:/…``, ``models:/…``, a path, ``s3://…``).
            The workers read the driver's local copy (local mode or a shared file
            system); a remote model is downloaded by each worker machine once.
        result_type: ``"double"``, ``"float"``, ``"long"``, ``"int"``, ``"string"``,
            ``"boolean"``, an array of these (``"array<double>"``: one array per row
            for multi-output models such as ``predict_proba``), or a pyspark DataType.
        env_manager: only ``"local"``: the workers' own Python environment.
        params: passed to the model's ``predict`` with every batch.

    Example:
        >>> predict = lakeml.pyfunc.spark_udf(spark, "runs:/<run_id>/model")  # doctest: +SKIP
        >>> df.withColumn("prediction", predict("x1", "x2"))                  # doctest: +SKIP
    """
    from lakeml.models.spark_udf import spark_udf as build

    return build(spark, model_uri, result_type, env_manager, params=params)


def _load_pyfunc(path: str) -> Any:
    """Loader of custom models (the ``loader_module`` their MLmodel names)."""
    return _load_python_model(path)
