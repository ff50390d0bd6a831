"""Signatures: inferred from examples, stored in MLmodel, enforced by pyfunc predict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import lakeml.pyfunc
import lakeml.sklearn
from lakeml.errors import InvalidArgument
from lakeml.models import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature
from lakeml.models.enforcement import enforce


def test_infer_from_dataframe_names_every_column_type() -> None:
    frame = pd.DataFrame({
        "b": [True], "i32": np.array([1], dtype="int32"), "i64": [2], "f32": np.float32([1.5]),
        "f64": [2.5], "s": ["x"], "t": pd.to_datetime(["2026-01-01"]), "raw": [b"\x00"]})
    sig = infer_signature(frame, np.array([0.5]))
    assert [(s.name, s.type) for s in sig.inputs.specs] == [
        ("b", "boolean"), ("i32", "integer"), ("i64", "long"), ("f32", "float"),
        ("f64", "double"), ("s", "string"), ("t", "datetime"), ("raw", "binary")]
    assert sig.outputs.specs == (TensorSpec("float64", (-1,)),)


def test_infer_from_tensor_frees_the_batch_dimension() -> None:
    sig = infer_signature(np.zeros((5, 3, 2), dtype=np.float32))
    assert sig.inputs.specs == (TensorSpec("float32", (-1, 3, 2)),)


def test_signature_round_trips_through_mlflow_shaped_json() -> None:
    sig = ModelSignature(Schema((ColSpec("double", "x"), ColSpec("string", "s", False))),
                         Schema((TensorSpec("int64", (-1,)),)))
    as_dict = sig.to_dict()
    assert as_dict["inputs"] == ('[{"type": "double", "name": "x", "required": true}, '
                                 '{"type": "string", "name": "s", "required": false}]')
    assert as_dict["outputs"] == ('[{"type": "tensor", "tensor-spec": {"dtype": "int64", '
                                  '"shape": [-1]}}]')
    assert ModelSignature.from_dict(as_dict) == sig


def test_uninferable_column_is_named() -> None:
    with pytest.raises(InvalidArgument, match="column 'mixed'"):
        infer_signature(pd.DataFrame({"mixed": [1, "a"]}))


SCHEMA = Schema((ColSpec("double", "x"), ColSpec("long", "n"), ColSpec("string", "s"),
                 ColSpec("float", "f", required=False)))


def test_missing_column_is_named() -> None:
    with pytest.raises(InvalidArgument, match=r"missing column 'n' required by the model"):
        enforce(pd.DataFrame({"x": [1.0], "s": ["a"]}), SCHEMA)


def test_several_missing_columns_are_all_named() -> None:
    with pytest.raises(InvalidArgument, match=r"missing columns 'x', 'n', 's'"):
        enforce(pd.DataFrame({"other": [1.0]}), SCHEMA)


@pytest.mark.parametrize(("column", "values", "message"), [
    ("x", ["1.0"], r"column 'x' has type .*str.* cannot be converted to the signature's "
                   r"type double"),
    ("n", [1.5], r"column 'n' has type float64.*type long \(floats are not converted"),
    ("n", [1.0, None], r"column 'n' .*long \(it has missing values\)"),
    ("s", [3], r"column 's' has type int64.*type string"),
    ("x", [True], r"column 'x' has type bool.*type double"),
])
def test_impossible_type_names_column_and_types(column: str, values: list[Any],
                                                message: str) -> None:
    data = {"x": [1.0] * len(values), "n": [1] * len(values), "s": ["a"] * len(values)}
    data[column] = values
    with pytest.raises(InvalidArgument, match=message):
        enforce(pd.DataFrame(data), SCHEMA)


def test_safe_widening_casts_happen_and_extra_columns_are_dropped() -> None:
    frame = pd.DataFrame({"extra": ["ignored"], "s": ["a"], "f": np.array([2], dtype="int16"),
                          "n": np.array([7], dtype="int32"), "x": np.float32([1.5])})
    out = enforce(frame, SCHEMA)
    assert list(out.columns) == ["x", "n", "s", "f"]
    assert out.dtypes.astype(str).tolist() == ["float64", "int64", "object", "float32"]
    assert out.iloc[0].tolist() == [1.5, 7, "a", 2.0]
    assert list(frame.columns)[0] == "extra"  # the caller's frame is untouched


def test_int_column_becomes_double() -> None:
    out = enforce(pd.DataFrame({"x": [1, 2], "n": [1, 2], "s": ["a", "b"]}), SCHEMA)
    assert out["x"].dtype == np.float64


def test_narrowing_is_refused_unless_the_values_came_from_text() -> None:
    schema = Schema((ColSpec("float", "f"), ColSpec("integer", "i")))
    frame = pd.DataFrame({"f": [0.25], "i": [3]})  # float64, int64: JSON's widths
    with pytest.raises(InvalidArgument, match="column 'f' has type float64"):
        enforce(frame, schema)
    out = enforce(frame, schema, from_text=True)
    assert out.dtypes.astype(str).tolist() == ["float32", "int32"]
    with pytest.raises(InvalidArgument, match="column 'i'"):
        enforce(pd.DataFrame({"f": [0.25], "i": [2**40]}), schema, from_text=True)


@pytest.mark.parametrize(("want", "values", "message"), [
    ("boolean", [True, None], r"column 'c' has type boolean.*boolean \(it has missing values"),
    ("long", [1, None], r"column 'c' has type integer.*long \(it has missing values"),
    ("integer", [1, None], r"column 'c' has type integer.*integer \(it has missing values"),
    ("long", [2**70, 1], r"column 'c' .*long \(a value is beyond the range of 64-bit"),
    ("double", [2**70], r"column 'c' .*double \(a value is beyond the range of 64-bit"),
])
def test_json_nulls_and_huge_ints_in_object_columns_name_the_column(
        want: str, values: list[Any], message: str) -> None:
    frame = pd.DataFrame({"c": pd.Series(values, dtype=object)})  # as parsed from JSON
    for from_text in (False, True):
        with pytest.raises(InvalidArgument, match=message):
            enforce(frame, Schema((ColSpec(want, "c"),)), from_text=from_text)


def test_json_ints_with_nulls_become_a_double_column_with_nan() -> None:
    frame = pd.DataFrame({"c": pd.Series([1, None], dtype=object)})
    out = enforce(frame, Schema((ColSpec("double", "c"),)), from_text=True)
    assert out["c"].dtype == np.float64 and out["c"].isna().tolist() == [False, True]


def test_duplicate_column_names_are_refused_naming_them() -> None:
    frame = pd.DataFrame([[1.0, 2.0, 3.0]], columns=["x", "x", "y"])
    with pytest.raises(InvalidArgument, match=r"duplicate column name\(s\) \['x'\]"):
        enforce(frame, Schema((ColSpec("double", "x"), ColSpec("double", "y"))))


def test_ints_become_floats_only_when_every_value_is_exact() -> None:
    f32, f64 = Schema((ColSpec("float", "c"),)), Schema((ColSpec("double", "c"),))
    assert enforce(pd.DataFrame({"c": np.int16([-32768, 32767])}), f32)["c"].tolist() == \
        [-32768.0, 32767.0]
    assert enforce(pd.DataFrame({"c": [2**24, 3]}), f32)["c"].dtype == np.float32
    assert enforce(pd.DataFrame({"c": [2**53, 2**62]}), f64)["c"].tolist() == \
        [2.0**53, 2.0**62]  # large, but exact
    for schema, value in ((f32, 2**24 + 1), (f64, 2**53 + 1), (f64, 2**63 - 1)):
        for from_text in (False, True):
            with pytest.raises(InvalidArgument, match=r"column 'c' has type int64.*no exact"):
                enforce(pd.DataFrame({"c": [value]}), schema, from_text=from_text)
    tensor = Schema((TensorSpec("float32", (-1,)),))
    with pytest.raises(InvalidArgument, match=r"dtype int64.*float32 \(some of its integers"):
        enforce(np.array([2**24 + 1]), tensor)


def test_text_floats_narrowed_to_float32_must_stay_finite() -> None:
    schema = Schema((ColSpec("float", "c"),))
    with pytest.raises(InvalidArgument, match=r"column 'c' .*beyond the range of float32"):
        enforce(pd.DataFrame({"c": [1.0, 1e300]}), schema, from_text=True)
    out = enforce(pd.DataFrame({"c": [0.5, float("inf"), float("nan")]}), schema,
                  from_text=True)  # already non-finite values stay as they were
    assert out["c"].dtype == np.float32 and np.isinf(out["c"][1]) and np.isnan(out["c"][2])
    with pytest.raises(InvalidArgument, match=r"tensor 'v' .*beyond the range of float32"):
        enforce(np.array([1e300]), Schema((TensorSpec("float32", (-1,), "v"),)),
                from_text=True)


def test_dict_records_and_arrays_are_accepted_as_columns() -> None:
    schema = Schema((ColSpec("double", "a"), ColSpec("double", "b")))
    for data in ({"a": [1.0], "b": [2.0]}, {"a": 1.0, "b": 2.0}, [{"a": 1.0, "b": 2.0}],
                 np.array([[1.0, 2.0]])):
        assert enforce(data, schema).to_dict("list") == {"a": [1.0], "b": [2.0]}
    with pytest.raises(InvalidArgument, match=r"2 column\(s\) \['a', 'b'\].*shape \(1, 3\)"):
        enforce(np.zeros((1, 3)), schema)


def test_tensor_shape_and_dtype_are_checked() -> None:
    schema = Schema((TensorSpec("float64", (-1, 4)),))
    assert enforce(np.ones((2, 4), dtype=np.float32), schema).dtype == np.float64
    assert enforce([[1, 2, 3, 4]], schema).dtype == np.float64  # int -> float widens
    with pytest.raises(InvalidArgument, match=r"shape \(2, 3\).*requires \(-1, 4\)"):
        enforce(np.ones((2, 3)), schema)
    with pytest.raises(InvalidArgument, match="dtype <U1, which cannot be converted"):
        enforce(np.array([["a"] * 4]), schema)


def test_pyfunc_predict_enforces_the_logged_signature(sk_model: Any, tmp_path: Any,
                                                      iris: tuple[Any, Any]) -> None:
    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", input_example=X.head(2))
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(InvalidArgument, match="missing column 'petal_width'"):
        model.predict(X.drop(columns=["petal_width"]))
    bad = X.head(2).assign(sepal_length=["long", "short"])
    with pytest.raises(InvalidArgument, match="column 'sepal_length' has type"):
        model.predict(bad)
    shuffled = X.head(5)[list(reversed(X.columns))].assign(note="extra")
    np.testing.assert_array_equal(model.predict(shuffled), sk_model.predict(X.head(5)))
    ints = X.head(5).round().astype("int32")
    np.testing.assert_array_equal(model.predict(ints), sk_model.predict(ints.astype(float)))
