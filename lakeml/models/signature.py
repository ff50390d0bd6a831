"""Model signatures: the columns or tensors a model takes and what it returns.

A signature is stored in the MLmodel descriptor as JSON strings, in the same
shape MLflow uses (``[{"type": "double", "name": "x", "required": true}]`` for
columns, ``[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape":
[-1, 4]}}]`` for tensors), so an MLflow user reads it at a glance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

from lakeml.errors import InvalidArgument

# Column types a signature can name, and the numpy dtype each is held in.
COLUMN_TYPES: dict[str, str] = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}


@dataclass(frozen=True)
class ColSpec:
    """One named (or positional) column of a given type."""

    type: str
    name: str | None = None
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise InvalidArgument(f"unknown column type {self.type!r}; "
                                  f"valid: {sorted(COLUMN_TYPES)}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out


@dataclass(frozen=True)
class TensorSpec:
    """A tensor of a numpy dtype and shape; ``-1`` marks a free dimension (the batch)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tensor",
                               "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)}}
        if self.name is not None:
            out["name"] = self.name
        return out


Spec = Union[ColSpec, TensorSpec]  # noqa: UP007 - a runtime alias on Python 3.10


@dataclass(frozen=True)
class Schema:
    """An ordered list of column specs, or of tensor specs (never a mix)."""

    specs: tuple[Spec, ...]

    def __post_init__(self) -> None:
        kinds = {type(s) for s in self.specs}
        if len(kinds) > 1:
            raise InvalidArgument("a schema holds either columns or tensors, not both")

    @property
    def is_tensor(self) -> bool:
        return bool(self.specs) and isinstance(self.specs[0], TensorSpec)

    @property
    def has_names(self) -> bool:
        return bool(self.specs) and all(s.name is not None for s in self.specs)

    def names(self) -> list[str | None]:
        return [s.name for s in self.specs]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.specs])

    @classmethod
    def from_json(cls, text: str) -> Schema:
        specs: list[Spec] = []
        for item in json.loads(text):
            if item.get("type") == "tensor":
                ts = item["tensor-spec"]
                specs.append(TensorSpec(ts["dtype"], tuple(ts["shape"]), item.get("name")))
            else:
                specs.append(ColSpec(item["type"], item.get("name"), item.get("required", True)))
        return cls(tuple(specs))


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes (``inputs``) and returns (``outputs``).

    Example:
        >>> sig = infer_signature(X_train.head(), model.predict(X_train.head()))  # doctest: +SKIP
        >>> lakeml.sklearn.log_model(model, "model", signature=sig)               # doctest: +SKIP
    """

    inputs: Schema | None
    outputs: Schema | None = None
    params: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": self.inputs.to_json() if self.inputs else None,
                "outputs": self.outputs.to_json() if self.outputs else None,
                "params": json.dumps(self.params) if self.params else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        def schema(key: str) -> Schema | None:
            text = data.get(key)
            return Schema.from_json(text) if text else None

        params = data.get("params")
        return cls(schema("inputs"), schema("outputs"), json.loads(params) if params else None)

    def to_json(self) -> str:
        """One JSON document (what the lineage table stores)."""
        return json.dumps({"inputs": json.loads(self.inputs.to_json()) if self.inputs else None,
                           "outputs": json.loads(self.outputs.to_json())
                           if self.outputs else None})


# ---- inference ---------------------------------------------------------------
def _column_type(name: Any, series: Any) -> str:
    """The signature type of a pandas column, or InvalidArgument naming it."""
    import pandas as pd

    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer" if dtype.itemsize < 4 or (kind == "i" and dtype.itemsize == 4) \
            else "long"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if kind == "O":
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        by_inferred = {"string": "string", "empty": "string", "bytes": "binary",
                       "integer": "long", "floating": "double", "mixed-integer-float": "double",
                       "boolean": "boolean", "datetime64": "datetime", "datetime": "datetime"}
        if inferred in by_inferred:
            return by_inferred[inferred]
        raise InvalidArgument(f"column {name!r} holds values of mixed or unsupported kind "
                              f"({inferred}); a signature column must be one of "
                              f"{sorted(COLUMN_TYPES)}")
    raise InvalidArgument(f"column {name!r} has dtype {dtype}, which a signature cannot "
                          f"describe; convert it to one of {sorted(COLUMN_TYPES)}")


def as_frame_if_tabular(data: Any) -> Any:
    """A dict of columns / list of records as a DataFrame; anything else unchanged."""
    import pandas as pd

    if isinstance(data, dict):
        if all(not hasattr(v, "__len__") or isinstance(v, (str, bytes)) for v in data.values()):
            return pd.DataFrame([data])
        return pd.DataFrame(data)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame(data)
    return data


def infer_schema(data: Any) -> Schema:
    """The schema of a DataFrame, Series, numpy array, dict of columns or list of records."""
    import numpy as np
    import pandas as pd

    data = as_frame_if_tabular(data)
    if isinstance(data, pd.DataFrame):
        return Schema(tuple(ColSpec(_column_type(c, data[c]), str(c)) for c in data.columns))
    if isinstance(data, pd.Series):
        name = str(data.name) if data.name is not None else None
        return Schema((ColSpec(_column_type(name, data), name),))
    if isinstance(data, list):
        data = np.asarray(data)
    if hasattr(data, "detach") and hasattr(data, "numpy"):  # a torch tensor
        data = data.detach().cpu().numpy()
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biufM":
            raise InvalidArgument(f"cannot describe a numpy array of dtype {data.dtype} as a "
                                  "tensor; use a DataFrame for string columns")
        shape = (-1, *data.shape[1:]) if data.ndim else ()
        return Schema((TensorSpec(data.dtype.name, tuple(int(s) for s in shape)),))
    raise InvalidArgument(f"cannot infer a schema from a {type(data).__name__}; give a pandas "
                          "DataFrame, a numpy array, a dict of columns or a list of records")


def infer_signature(model_input: Any, model_output: Any = None,
                    params: dict[str, Any] | None = None) -> ModelSignature:
    """A signature from an example input and (optionally) the model's output on it.

    Example:
        >>> import pandas as pd
        >>> sig = infer_signature(pd.DataFrame({"x": [1.0]}), [2])
        >>> sig.inputs.to_json()
        '[{"type": "double", "name": "x", "required": true}]'
    """
    outputs = infer_schema(model_output) if model_output is not None else None
    return ModelSignature(infer_schema(model_input), outputs, dict(params) if params else None)
