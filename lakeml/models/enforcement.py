"""Checking and converting a model's input against its signature before predict.

Rules (the same for every flavor):
- a required column missing from the input is an error naming it;
- a value of a type that cannot become the signature's type is an error
  naming the column, the input's type and the required type;
- safe widening happens: int8/16/32 -> int64, float32 -> float64, and int ->
  float where every integer of that width has an exact float value (int8/16
  -> float32, int8/16/32 -> double); other integers become floats only when
  each value is exactly representable;
- missing values (None, NaN) are an error for a type that cannot hold them
  (booleans, integers);
- extra columns are dropped, and columns are passed in the signature's order.

Input parsed from text (a JSON or CSV request) carries no integer or float
width, so with ``from_text=True`` narrowing to the signature's width is also
allowed where the values fit (a float narrowed to float32 must stay finite),
and anything may become a string column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.models.signature import COLUMN_TYPES, ColSpec, Schema, TensorSpec, as_frame_if_tabular

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def enforce(data: Any, schema: Schema, *, from_text: bool = False) -> Any:
    """``data`` converted to what ``schema`` describes, or InvalidArgument saying why not."""
    if schema.is_tensor:
        return _enforce_tensors(data, schema, from_text)
    return _enforce_columns(data, schema, from_text)


# ---- columns ---------------------------------------------------------------------
def _to_frame(data: Any, schema: Schema) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    data = as_frame_if_tabular(data)
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    names = [s.name if s.name is not None else i for i, s in enumerate(schema.specs)]
    if isinstance(data, list):
        data = np.asarray(data, dtype=object if any(isinstance(v, str) for v in data) else None)
    if isinstance(data, np.ndarray):
        if data.ndim == 1 and len(names) == 1:
            return pd.DataFrame({names[0]: data})
        if data.ndim == 2 and data.shape[1] == len(names):
            return pd.DataFrame(data, columns=names)
        raise InvalidArgument(f"the model's signature has {len(names)} column(s) {names}, but "
                              f"the input is an array of shape {data.shape}")
    raise InvalidArgument(f"cannot score a {type(data).__name__}; give a pandas DataFrame, "
                          "a dict of columns, a list of records or a numpy array")


def _enforce_columns(data: Any, schema: Schema, from_text: bool) -> pd.DataFrame:
    frame = _to_frame(data, schema)
    if frame.columns.has_duplicates:
        dups = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise InvalidArgument(f"the input has duplicate column name(s) {dups}; each column "
                              "must appear once")
    if not schema.has_names:  # positional columns
        if frame.shape[1] < len(schema.specs):
            raise InvalidArgument(f"the model takes {len(schema.specs)} column(s), the input "
                                  f"has {frame.shape[1]}")
        frame = frame.iloc[:, :len(schema.specs)]
        specs = list(zip(frame.columns, schema.specs))
    else:
        present = set(frame.columns)
        missing = [s.name for s in schema.specs if s.required and s.name not in present]
        if missing:
            which = "column" if len(missing) == 1 else "columns"
            raise InvalidArgument(
                f"input is missing {which} {', '.join(repr(m) for m in missing)} required by "
                f"the model's signature (it takes {schema.names()}; the input has "
                f"{[str(c) for c in frame.columns]})")
        specs = [(s.name, s) for s in schema.specs if s.name in present]
    cols = [c for c, _ in specs]
    if list(frame.columns) != cols:
        frame = frame[cols]
    converted = {}
    for col, spec in specs:
        series = frame[col]
        new = _convert_column(col, series, spec, from_text)  # type: ignore[arg-type]
        if new is not series:
            converted[col] = new
    if converted:
        frame = frame.assign(**{str(k): v for k, v in converted.items()}) \
            if all(isinstance(k, str) for k in converted) else _replace(frame, converted)
    return frame


def _replace(frame: pd.DataFrame, converted: dict[Any, Any]) -> pd.DataFrame:
    frame = frame.copy()
    for col, values in converted.items():
        frame[col] = values
    return frame


def _incompatible(col: Any, have: str, want: str, why: str = "") -> InvalidArgument:
    return InvalidArgument(f"column {col!r} has type {have}, which cannot be converted to the "
                           f"signature's type {want}{why}")


def _convert_column(col: Any, series: pd.Series, spec: ColSpec, from_text: bool) -> pd.Series:
    import numpy as np
    import pandas as pd

    want = spec.type
    target = np.dtype(COLUMN_TYPES[want])
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if isinstance(dtype, pd.StringDtype) or (kind == "O" and want not in ("string", "binary")):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        kind = {"integer": "i", "floating": "f", "mixed-integer-float": "f", "boolean": "b",
                "string": "U", "empty": "f", "bytes": "S", "datetime": "M",
                "datetime64": "M"}.get(inferred, "?")
        have = {"U": "string", "S": "binary"}.get(kind, inferred)
        if kind in "ib" and series.isna().any():  # JSON null among ints or booleans
            if kind == "b" or target.kind != "f":
                raise _incompatible(col, have, want, " (it has missing values)")
            kind = "f"  # ints with nulls into a float column: the nulls become NaN
        if kind in "ifbM" and kind != "?":
            try:
                series = series.astype({"i": "int64", "f": "float64", "b": "bool",
                                        "M": "datetime64[ns]"}[kind])
            except OverflowError:
                raise _incompatible(col, have, want, " (a value is beyond the range of "
                                    "64-bit integers)") from None
            except (TypeError, ValueError) as exc:
                raise _incompatible(col, have, want, f" ({exc})") from None
            dtype = series.dtype
    else:
        have = str(dtype)
    if want == "string":
        if kind in ("O", "U") or isinstance(dtype, pd.StringDtype):
            if from_text or pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
                return series.astype(object) if kind != "O" else series
        if from_text:
            return series.astype(str).astype(object)
        raise _incompatible(col, have, want)
    if want == "binary":
        if kind in ("O", "S"):
            return series
        raise _incompatible(col, have, want)
    if want == "boolean":
        if kind == "b":
            return series
        raise _incompatible(col, have, want)
    if want == "datetime":
        if kind == "M":
            return series if dtype == target else series.astype(target)
        if from_text and kind in ("U", "O"):
            try:
                return pd.to_datetime(series)
            except (TypeError, ValueError) as exc:
                raise _incompatible(col, have, want, f" ({exc})") from None
        raise _incompatible(col, have, want)
    # numeric targets
    if kind == "f" and want in ("integer", "long"):
        why = (" (it has missing values)" if series.isna().any()
               else " (floats are not converted to integers)")
        raise _incompatible(col, have, want, why)
    if kind not in "iuf":
        raise _incompatible(col, have, want)
    if dtype == target:
        return series
    values, why = _convert_numbers(series.to_numpy(), target, from_text)
    if values is None:
        raise _incompatible(col, have, want, why)
    return pd.Series(values, index=series.index, name=series.name)


def _convert_numbers(values: np.ndarray, want: np.dtype, from_text: bool
                     ) -> tuple[np.ndarray | None, str]:
    """(``values`` as ``want``, "") when no value changes, else (None, why not)."""
    import numpy as np

    have = values.dtype
    lossy = " (the conversion could lose information)"
    if have.kind not in "iuf" or want.kind not in "iuf":
        return None, ""
    if want.kind in "iu":
        if have.kind == "f":
            return None, (" (it has missing values)" if np.isnan(values).any()
                          else " (floats are not converted to integers)")
        if _widens(have, want) or (from_text and _fits_ints(values, want)):
            return values.astype(want), ""
        return None, lossy
    if have.kind in "iu":
        if _widens(have, want) or _ints_exact(values, want):
            return values.astype(want), ""
        return None, f" (some of its integers have no exact {want} value)"
    if have.itemsize <= want.itemsize:
        return values.astype(want), ""
    if not from_text:
        return None, lossy
    with np.errstate(over="ignore"):
        narrowed = values.astype(want)
    if (np.isfinite(narrowed) != np.isfinite(values)).any():
        return None, f" (a value is beyond the range of {want})"
    return narrowed, ""


def _widens(have: np.dtype, want: np.dtype) -> bool:
    """Whether every value of ``have`` has an exact ``want`` value (see the module docstring)."""
    if have.kind not in "iuf" or want.kind not in "iuf":
        return False
    if want.kind == "u":
        return have.kind == "u" and have.itemsize <= want.itemsize
    if want.kind == "i":
        return (have.kind == "i" and have.itemsize <= want.itemsize) or \
            (have.kind == "u" and have.itemsize < want.itemsize)
    if have.kind == "f":
        return have.itemsize <= want.itemsize
    # an integer of n bytes fits the mantissa of a float of 2n bytes (11, 24, 53 bits)
    return have.itemsize * 2 <= want.itemsize


def _ints_exact(values: np.ndarray, want: np.dtype) -> bool:
    """Whether each integer in ``values`` survives the round trip through float ``want``."""
    import numpy as np

    if values.size == 0:
        return True
    info = np.iinfo(values.dtype)
    back = values.astype(want).astype(np.float64)
    # float(info.max) rounds up to 2**63 or 2**64, which does not fit: strictly below it
    if not ((back >= float(info.min)) & (back < float(info.max))).all():
        return False
    return bool((back.astype(values.dtype) == values).all())


def _fits_ints(values: np.ndarray, want: np.dtype) -> bool:
    """Whether text-borne integers fit integer type ``want``."""
    import numpy as np

    info = np.iinfo(want)
    return bool(values.size == 0 or (values.min() >= info.min and values.max() <= info.max))


# ---- tensors ------------------------------------------------------------------------
def _enforce_tensors(data: Any, schema: Schema, from_text: bool) -> Any:
    specs = schema.specs
    if len(specs) == 1:
        if isinstance(data, dict) and len(data) == 1 and \
                (specs[0].name is None or specs[0].name in data):  # {"inputs": {name: [...]}}
            data = next(iter(data.values()))
        return _to_tensor(data, specs[0], from_text)  # type: ignore[arg-type]
    if not isinstance(data, dict):
        raise InvalidArgument(f"the model takes {len(specs)} named tensors "
                              f"{schema.names()}; give a dict of arrays")
    missing = [s.name for s in specs if s.name not in data]
    if missing:
        raise InvalidArgument(f"input is missing tensor(s) {missing} required by the model's "
                              f"signature (it takes {schema.names()})")
    return {s.name: _to_tensor(data[s.name], s, from_text) for s in specs}  # type: ignore


def _to_tensor(data: Any, spec: TensorSpec, from_text: bool) -> np.ndarray:
    import numpy as np
    import pandas as pd

    label = f"tensor {spec.name!r}" if spec.name else "the input tensor"
    if isinstance(data, (pd.DataFrame, pd.Series)):
        data = data.to_numpy()
    try:
        array = np.asarray(data)
    except ValueError as exc:  # ragged nested lists
        raise InvalidArgument(f"{label} is not a regular array: {exc}") from None
    want = np.dtype(spec.dtype)
    if array.dtype != want:
        converted, why = _convert_numbers(array, want, from_text) \
            if array.dtype.kind in "iuf" else (None, "")
        if converted is None:
            raise InvalidArgument(f"{label} has dtype {array.dtype}, which cannot be converted "
                                  f"to the signature's dtype {want}{why}")
        array = converted
    shape = tuple(spec.shape)
    if array.ndim != len(shape) or any(w not in (-1, h) for w, h in zip(shape, array.shape)):
        raise InvalidArgument(f"{label} has shape {array.shape}, but the signature requires "
                              f"{shape} (-1 = any size)")
    return array

