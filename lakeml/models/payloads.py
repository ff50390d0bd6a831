"""MLflow's scoring payloads: request bodies to model input, predictions to JSON.

JSON bodies hold exactly one of ``dataframe_split`` (``{"columns": [...],
"data": [[...]]}``), ``dataframe_records`` (``[{"col": value}, ...]``),
``instances`` (rows) or ``inputs`` (columns as a dict, or rows), plus an
optional ``params`` object. CSV bodies have a header row. Every problem is
an InvalidArgument whose message names it, which the server turns into 400.
For a model whose signature takes named tensors, ``inputs`` may be a dict of
arrays, which is passed through as such.

Responses are strict JSON: NaN and infinities become null, datetimes ISO
strings; an output that JSON cannot hold raises UnserializableOutput (the
model's fault, so the server answers 500, not 400).
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from lakeml.errors import InvalidArgument, LakemlError

DATA_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class UnserializableOutput(LakemlError):
    """The model returned something JSON cannot hold (a server error, not the caller's)."""


def parse_json(body: bytes | str, *, tensors: bool = False
               ) -> tuple[Any, dict[str, Any] | None]:
    """(model input, params) of a JSON request body.

    With ``tensors`` (the model's signature takes tensors), ``{"inputs": {name:
    array, ...}}`` becomes a dict of numpy arrays instead of a DataFrame.
    """
    return parse_document(load_json(body), tensors=tensors)


def json_text(body: bytes | bytearray) -> str:
    """A JSON request body as text (UTF-8; UTF-16/32 as ``json.loads`` detects them)."""
    try:
        return body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"request body is not UTF-8 text: {exc}") from None


def load_json(body: bytes | str) -> Any:
    """The JSON document of a request body; InvalidArgument names what is wrong.

    A document nested deeper than Python's parser can go (about a thousand
    levels) is refused with InvalidArgument, not a RecursionError.
    """
    text = json_text(body) if isinstance(body, (bytes, bytearray)) else body
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"request body is not valid JSON: {exc.msg} at line "
                              f"{exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise InvalidArgument(f"request body is JSON nested too deeply (deeper than the "
                              f"parser's limit of about {sys.getrecursionlimit()} levels); "
                              "model inputs are rows of values") from None


def parse_document(doc: Any, *, tensors: bool = False) -> tuple[Any, dict[str, Any] | None]:
    """(model input, params) of a parsed JSON request (see :func:`parse_json`)."""
    if not isinstance(doc, dict):
        raise InvalidArgument(f"request body must be a JSON object with one of the keys "
                              f"{list(DATA_KEYS)}, got a JSON {type(doc).__name__}")
    unknown = sorted(set(doc) - set(DATA_KEYS) - {"params"})
    if unknown:
        raise InvalidArgument(f"unknown key(s) {unknown} in the request; give exactly one of "
                              f"{list(DATA_KEYS)} (and optionally 'params')")
    present = [k for k in DATA_KEYS if k in doc]
    if len(present) != 1:
        raise InvalidArgument(f"the request must hold exactly one of {list(DATA_KEYS)}, "
                              f"got {present or 'none'}")
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise InvalidArgument(f"'params' must be a JSON object, got {type(params).__name__}")
    key = present[0]
    if tensors and key == "inputs" and isinstance(doc[key], dict):
        return {str(k): _array(v, f"inputs.{k}") for k, v in doc[key].items()}, params
    return _PARSERS[key](doc[key]), params


def _dataframe_split(value: Any) -> Any:
    import pandas as pd

    if not isinstance(value, dict) or "data" not in value:
        raise InvalidArgument("'dataframe_split' must be an object with 'data' (a list of rows)"
                              " and 'columns'")
    extra = sorted(set(value) - {"columns", "data", "index"})
    if extra:
        raise InvalidArgument(f"unknown key(s) {extra} in 'dataframe_split'; expected "
                              "'columns', 'data' and optionally 'index'")
    data, columns = value["data"], value.get("columns")
    if not isinstance(data, list) or not all(isinstance(r, list) for r in data):
        raise InvalidArgument("'dataframe_split.data' must be a list of rows (lists)")
    if columns is not None:
        if not isinstance(columns, list):
            raise InvalidArgument("'dataframe_split.columns' must be a list of column names")
        seen: set[Any] = set()
        dups = sorted({str(c) for c in columns if c in seen or seen.add(c)})  # type: ignore
        if dups:
            raise InvalidArgument(f"'dataframe_split.columns' names {dups} more than once; "
                                  "each column must appear once")
        bad = [i for i, r in enumerate(data) if len(r) != len(columns)]
        if bad:
            raise InvalidArgument(f"row {bad[0]} of 'dataframe_split.data' has "
                                  f"{len(data[bad[0]])} values but there are {len(columns)} "
                                  "columns")
    return pd.DataFrame(data, columns=columns)


def _dataframe_records(value: Any) -> Any:
    import pandas as pd

    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise InvalidArgument("'dataframe_records' must be a list of objects "
                              "(one {column: value} per row)")
    return pd.DataFrame.from_records(value) if value else pd.DataFrame()


def _instances(value: Any) -> Any:
    if not isinstance(value, list):
        raise InvalidArgument(f"'instances' must be a list of rows, got "
                              f"{type(value).__name__}")
    if value and all(isinstance(r, dict) for r in value):
        return _dataframe_records(value)
    return _array(value, "instances")


def _inputs(value: Any) -> Any:
    if isinstance(value, dict):
        import pandas as pd

        try:
            return pd.DataFrame(value) if all(isinstance(v, list) for v in value.values()) \
                else pd.DataFrame([value])
        except ValueError as exc:
            raise InvalidArgument(f"'inputs' is not a set of equal-length columns: {exc}") \
                from None
    if isinstance(value, list):
        if value and all(isinstance(r, dict) for r in value):
            return _dataframe_records(value)
        return _array(value, "inputs")
    raise InvalidArgument(f"'inputs' must be an object of columns or a list of rows, got "
                          f"{type(value).__name__}")


def _array(rows: list[Any], key: str) -> Any:
    import numpy as np

    try:
        return np.asarray(rows)
    except ValueError as exc:
        raise InvalidArgument(f"'{key}' is not a regular array (rows of different lengths?): "
                              f"{exc}") from None


_PARSERS = {"dataframe_split": _dataframe_split, "dataframe_records": _dataframe_records,
            "instances": _instances, "inputs": _inputs}


def parse_csv(body: bytes) -> Any:
    """The DataFrame of a CSV request body (first row: column names)."""
    import pandas as pd

    if not body.strip():
        raise InvalidArgument("CSV request body is empty; send a header row and data rows")
    try:
        return pd.read_csv(io.BytesIO(body))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as exc:
        raise InvalidArgument(f"request body is not valid CSV: {exc}") from None


def jsonable(predictions: Any) -> Any:
    """Predictions as JSON-ready Python values (NaN and infinities become null)."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        return [{str(k): _value(v) for k, v in row.items()}
                for row in predictions.to_dict(orient="records")]
    if isinstance(predictions, pd.Series):
        return jsonable(predictions.to_numpy())
    if isinstance(predictions, np.ndarray):
        if predictions.dtype.kind == "f":
            finite = np.isfinite(predictions)
            if finite.all():
                return predictions.tolist()
            return np.where(finite, predictions, None).tolist()
        if predictions.dtype.kind in "biu":
            return predictions.tolist()
        return [jsonable(v) for v in predictions] if predictions.ndim > 1 else \
            [_value(v) for v in predictions]
    if isinstance(predictions, dict):
        return {str(k): jsonable(v) for k, v in predictions.items()}
    if isinstance(predictions, (list, tuple)):
        return [jsonable(v) for v in predictions]
    return _value(predictions)


def _value(value: Any) -> Any:
    """One scalar as a JSON value (unknown types are left for json.dumps to refuse)."""
    import datetime
    import math

    import numpy as np
    import pandas as pd

    if isinstance(value, (np.ndarray, list, tuple, dict)):
        return jsonable(value)
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.timedelta64):
        return None if np.isnat(value) else str(pd.Timedelta(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (datetime.timedelta, pd.Timedelta)):
        return str(pd.Timedelta(value))
    return value


def predictions_json(predictions: Any) -> bytes:
    """The response body ``{"predictions": ...}`` (strict JSON).

    Raises:
        UnserializableOutput: the predictions hold a value JSON cannot represent.
    """
    def refuse(value: Any) -> Any:
        raise UnserializableOutput(f"the model returned a {type(value).__module__}."
                                   f"{type(value).__qualname__} value ({value!r:.60}), "
                                   "which cannot be written as JSON")

    try:
        return json.dumps({"predictions": jsonable(predictions)}, allow_nan=False,
                          default=refuse).encode()
    except ValueError as exc:  # a non-finite float that slipped through
        raise UnserializableOutput(f"the model's output cannot be written as JSON: {exc}") \
            from None


def predictions_frame(predictions: Any) -> Any:
    """Predictions as a DataFrame (for files): one ``prediction`` column per output."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        return predictions
    if isinstance(predictions, pd.Series):
        return predictions.to_frame("prediction")
    if isinstance(predictions, dict):
        return pd.DataFrame(predictions)
    array = np.asarray(predictions)
    if array.ndim <= 1:
        return pd.DataFrame({"prediction": array.reshape(-1)})
    array = array.reshape(array.shape[0], -1)
    return pd.DataFrame(array, columns=[f"prediction_{i}" for i in range(array.shape[1])])
