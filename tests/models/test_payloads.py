"""Request bodies to model input, predictions to strict JSON."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pandas as pd
import pytest

from lakeml.models.payloads import UnserializableOutput, parse_json, predictions_json


def test_inputs_dict_of_arrays_stays_a_dict_for_a_tensor_model() -> None:
    body = b'{"inputs": {"a": [[1, 2]], "b": [[3.5, 4]]}}'
    data, _ = parse_json(body, tensors=True)
    assert sorted(data) == ["a", "b"]
    np.testing.assert_array_equal(data["b"], np.array([[3.5, 4.0]]))
    assert isinstance(parse_json(b'{"inputs": {"a": [1, 2]}}')[0], pd.DataFrame)


def test_non_finite_floats_become_null_in_every_container() -> None:
    doc = json.loads(predictions_json(np.array([1.0, np.inf, -np.inf, np.nan])))
    assert doc == {"predictions": [1.0, None, None, None]}
    doc = json.loads(predictions_json(np.array([1.5, np.nan, None, "a"], dtype=object)))
    assert doc == {"predictions": [1.5, None, None, "a"]}
    doc = json.loads(predictions_json(pd.DataFrame({"x": [np.inf, 2.0], "y": ["a", None]})))
    assert doc == {"predictions": [{"x": None, "y": "a"}, {"x": 2.0, "y": None}]}
    doc = json.loads(predictions_json({"p": np.array([[np.nan, 1.0]], dtype=np.float32)}))
    assert doc == {"predictions": {"p": [[None, 1.0]]}}


def test_datetimes_are_iso_strings() -> None:
    when = pd.to_datetime(["2026-11-27T04:00:00", None])
    doc = json.loads(predictions_json(pd.Series(when)))
    assert doc == {"predictions": ["2026-11-27T04:00:00", None]}
    doc = json.loads(predictions_json(pd.DataFrame({"t": when[:1]})))
    assert doc == {"predictions": [{"t": "2026-11-27T04:00:00"}]}
    doc = json.loads(predictions_json([datetime.date(2026, 11, 27)]))
    assert doc == {"predictions": ["2026-11-27"]}


def test_an_output_json_cannot_hold_names_its_type() -> None:
    with pytest.raises(UnserializableOutput, match=r"a builtins\.complex value"):
        predictions_json(np.array([complex(1, 2)], dtype=object))
