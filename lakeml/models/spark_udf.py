"""Scoring a Spark DataFrame with any pyfunc model (``lakeml.pyfunc.spark_udf``).

The driver resolves the model URI to a local folder and reads only its
MLmodel (the signature); the UDF's closure carries the folder path, and each
Python worker loads the model from it once (``load_cached``: Spark reuses
its Python workers, so every later task and Arrow batch on that worker
scores with the same loaded model). Batches arrive as pandas Series through
Arrow, are named after the signature's input columns and go through
``PyFuncModel.predict``, so signature enforcement is the same as anywhere
else. This module imports pyspark and pandas: only ``spark_udf()`` loads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Tuple, Union

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import types as T
from pyspark.sql.functions import pandas_udf

from lakeml.errors import InvalidArgument, NotFound
from lakeml.models.descriptor import MLMODEL, PYFUNC, Model
from lakeml.models.uri import artifact_uri_of, local_model_path

ENV_MANAGERS = ("local",)
_PRIMITIVES = (T.DoubleType, T.FloatType, T.LongType, T.IntegerType, T.ShortType, T.ByteType,
               T.StringType, T.BooleanType)
_NUMPY = {T.DoubleType: "float64", T.FloatType: "float32", T.LongType: "int64",
          T.IntegerType: "int32", T.ShortType: "int16", T.ByteType: "int8"}
# Names parsed here; any other string goes to Spark's DDL parser (its first use costs the
# JVM ~0.8 s of class loading).
_NAMED = {"double": T.DoubleType, "float": T.FloatType, "long": T.LongType, "bigint": T.LongType,
          "int": T.IntegerType, "integer": T.IntegerType, "short": T.ShortType,
          "smallint": T.ShortType, "byte": T.ByteType, "tinyint": T.ByteType,
          "string": T.StringType, "boolean": T.BooleanType}
VALID_TYPES = ("double", "float", "long", "int", "short", "byte", "string", "boolean",
               "array<double>", "array<long>", "… or a pyspark DataType of these")


def result_data_type(spark: SparkSession, result_type: Any) -> T.DataType:
    """``result_type`` (a DDL string or a DataType) as a DataType spark_udf can return."""
    name = result_type.strip().lower() if isinstance(result_type, str) else None
    element = name[6:-1].strip() if name and name.startswith("array<") and name.endswith(">") \
        else None
    if name in _NAMED:
        parsed: T.DataType = _NAMED[name]()
    elif element in _NAMED:
        parsed = T.ArrayType(_NAMED[element]())
    elif isinstance(result_type, str):
        try:
            parsed = T.DataType.fromDDL(result_type)
        except Exception:  # Spark's ParseException, through py4j
            raise InvalidArgument(f"result_type {result_type!r} is not a Spark type; valid: "
                                  f"{', '.join(VALID_TYPES)}") from None
    elif isinstance(result_type, T.DataType):
        parsed = result_type
    else:
        raise InvalidArgument(f"result_type must be a type name or a pyspark DataType, got "
                              f"{type(result_type).__name__}")
    inner = parsed.elementType if isinstance(parsed, T.ArrayType) else parsed
    if not isinstance(inner, _PRIMITIVES):
        raise InvalidArgument(f"result_type {parsed.simpleString()!r} is not supported; valid: "
                              f"{', '.join(VALID_TYPES)}")
    return parsed


def spark_udf(spark: SparkSession, model_uri: str, result_type: Any = "double",
              env_manager: str = "local", *, params: dict[str, Any] | None = None) -> Any:
    """See :func:`lakeml.pyfunc.spark_udf`."""
    if env_manager not in ENV_MANAGERS:
        raise InvalidArgument(
            f"env_manager {env_manager!r} is not supported: lakeml scores in the Spark "
            f"workers' own Python environment; valid: {list(ENV_MANAGERS)}")
    out_type = result_data_type(spark, result_type)
    folder = local_model_path(model_uri)
    meta = Model.load(folder)
    if PYFUNC not in meta.flavors:
        raise NotFound(f"the model at {model_uri!r} has no {PYFUNC} flavor, so spark_udf "
                       f"cannot score it; its flavors: {sorted(meta.flavors)}")
    if "spark" in meta.flavors:
        raise InvalidArgument(f"the model at {model_uri!r} is a Spark ML model: score a "
                              "DataFrame with lakeml.spark_ml.load_model(uri).transform(df)")
    schema = meta.input_schema
    names = schema.names() if schema is not None and schema.has_names else None
    # Where the workers find the model: the driver's folder (local mode or a shared file
    # system), else the storage URI when it is remote, which each worker downloads once.
    source = artifact_uri_of(str(model_uri))
    remote = source if "://" in source else None
    scorer = _Scorer(folder, remote, names, out_type, params)

    # pyspark reads these hints (typing.Union, which it recognises) to pick the
    # iterator-of-batches UDF type: the model loads before the first batch, once.
    def predict(batches: Iterator[Tuple[Union[pd.Series, pd.DataFrame], ...]]  # noqa: UP006,UP007
                ) -> Iterator[pd.Series]:
        return scorer(batches)

    return pandas_udf(predict, returnType=out_type)  # type: ignore[call-overload]


class _Scorer:
    """What a worker runs: load the model once, then score batch after batch."""

    def __init__(self, folder: str, remote: str | None, names: list[str | None] | None,
                 out_type: T.DataType, params: dict[str, Any] | None) -> None:
        self.folder, self.remote, self.names = folder, remote, names
        self.out_type, self.params = out_type, params
        self.struct = False

    def model(self) -> Any:
        from lakeml.models.pyfunc_model import load_cached

        folder = self.folder
        if not Path(folder, MLMODEL).is_file() and self.remote is not None:
            folder = local_model_path(self.remote)  # into this machine's model cache
        return load_cached(folder)

    def __call__(self, batches: Iterator[Any]) -> Iterator[pd.Series]:
        model = self.model()
        for batch in batches:
            frame = self.frame(batch)
            try:
                out = model.predict(frame, self.params)
            except InvalidArgument as exc:
                if self.names is not None and not self.struct:
                    raise InvalidArgument(f"{exc} (spark_udf gives its arguments to the model "
                                          f"as the signature's columns, in order: "
                                          f"{self.names})") from None
                raise
            yield to_result(out, self.out_type, len(frame))

    def frame(self, batch: Any) -> pd.DataFrame:
        """One Arrow batch as the model's input frame (columns named as the model takes)."""
        self.struct = isinstance(batch, pd.DataFrame)
        if self.struct:  # udf(struct(...)): the struct's field names are the column names
            return batch
        cols = list(batch) if isinstance(batch, tuple) else [batch]
        if any(isinstance(c, pd.DataFrame) for c in cols):
            raise InvalidArgument("give spark_udf either columns or one struct of columns, "
                                  "not a struct among other columns")
        if self.names is None:
            return pd.DataFrame({i: c.reset_index(drop=True) for i, c in enumerate(cols)})
        if len(cols) > len(self.names):
            raise InvalidArgument(f"spark_udf was given {len(cols)} columns, but the model's "
                                  f"signature takes {len(self.names)}: {self.names}")
        return pd.DataFrame({name: c.reset_index(drop=True)
                             for name, c in zip(self.names, cols)})


def to_result(out: Any, out_type: T.DataType, rows: int) -> pd.Series:
    """A model's output for one batch as a Series Spark reads as ``out_type``."""
    if isinstance(out, pd.DataFrame):
        out = out.to_numpy()
    elif isinstance(out, pd.Series):
        out = out.to_numpy()
    array = np.asarray(out)
    if array.ndim == 0 or len(array) != rows:
        raise InvalidArgument(f"the model returned {array.shape if array.ndim else 'a scalar'} "
                              f"for {rows} rows; spark_udf needs one result per row")
    if isinstance(out_type, T.ArrayType):
        values = _cast(array.reshape(rows, -1), out_type.elementType)  # 1-D: one per row
        return pd.Series(list(values))
    if array.ndim > 1:
        if array.shape[1:] != (1,) * (array.ndim - 1):
            raise InvalidArgument(f"the model returns {array.shape[1:]} values per row, which "
                                  f"does not fit result_type {out_type.simpleString()!r}; use "
                                  f"result_type='array<double>'")
        array = array.reshape(rows)
    values = _cast(array, out_type)
    # object, so that pandas keeps None (Spark's null) rather than inferring a str dtype
    return pd.Series(values, dtype=object if values.dtype == object else None)


def _cast(array: np.ndarray, out_type: T.DataType) -> np.ndarray:
    """``array`` as the numpy type Spark reads as ``out_type``; never wraps, nulls stay null."""
    want = type(out_type)
    name = out_type.simpleString()
    if want is T.StringType:
        missing = pd.isna(array)  # None and NaN: null, not the strings "None" and "nan"
        text = array.astype(str).astype(object)
        if np.any(missing):
            text[missing] = None
        return text
    if want is T.BooleanType:
        if array.dtype.kind != "b":
            raise InvalidArgument(f"result_type is boolean, but the model returns "
                                  f"{array.dtype} values")
        return array
    target = np.dtype(_NUMPY[want])
    if array.dtype.kind not in "biuf":
        raise InvalidArgument(f"result_type is {name}, but the model returns "
                              f"{array.dtype} values")
    if target.kind == "i" and array.dtype.kind == "f":
        if not (np.isfinite(array).all() and (array == np.round(array)).all()):
            raise InvalidArgument(f"result_type is {name}, but the model "
                                  "returns fractional or missing values; use 'double'")
    if target.kind == "i" and array.size and array.dtype.kind in "iuf":
        info = np.iinfo(target)
        # float(info.max) may round up to 2**63: out of range means >= it for int64
        high = array >= float(info.max) + 1 if array.dtype.kind == "f" else array > info.max
        outside = high | (array < info.min)
        if outside.any():
            value = array[outside].flat[0]
            wider = "'double'" if target.itemsize == 8 else "'long' or 'double'"
            raise InvalidArgument(f"result_type is {name}, but the model returns "
                                  f"{value.item()!r}, outside its range [{info.min}, "
                                  f"{info.max}]; use {wider}")
    if target.kind == "f" and array.dtype.kind == "f" and target.itemsize < array.itemsize:
        with np.errstate(over="ignore"):
            narrowed = array.astype(target)
        if (np.isfinite(narrowed) != np.isfinite(array)).any():
            raise InvalidArgument(f"result_type is {name}, but the model returns values "
                                  f"beyond its range; use 'double'")
        return narrowed
    return array.astype(target, copy=False)
