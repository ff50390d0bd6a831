"""Custom PythonModel subclasses with artifacts, code paths and params."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import lakeml
import lakeml.pyfunc
from lakeml.errors import InvalidArgument
from tests.conftest import run_python

FIXTURES = Path(__file__).parent / "fixtures"


class Lookup(lakeml.pyfunc.PythonModel):
    """Adds an offset read from an artifact file in load_context."""

    def load_context(self, context: Any) -> None:
        self.offset = json.loads(Path(context.artifacts["config"]).read_text())["offset"]

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        scale = (params or {}).get("scale", 1)
        return (model_input["x"] + self.offset) * scale


def test_python_model_with_artifact_and_params(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"offset": 10}))
    example = pd.DataFrame({"x": [1.0, 2.0]})
    lakeml.pyfunc.save_model(tmp_path / "m", python_model=Lookup(),
                             artifacts={"config": str(config)}, input_example=example)
    config.write_text(json.dumps({"offset": -999}))  # the model keeps its own copy
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    assert model.predict(example).tolist() == [11.0, 12.0]
    assert model.predict(example, params={"scale": 2}).tolist() == [22.0, 24.0]
    assert isinstance(model.unwrap_python_model(), Lookup)
    sig = model.metadata.signature
    assert [s.name for s in sig.inputs.specs] == ["x"] and sig.outputs is not None
    with pytest.raises(InvalidArgument, match="missing column 'x'"):
        model.predict(pd.DataFrame({"y": [1.0]}))


def test_signature_inference_leaves_the_callers_model_untouched(store_uri: str,
                                                                 tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"offset": 1}))
    mine = Lookup()
    with lakeml.start_run():
        lakeml.pyfunc.log_model("m", python_model=mine, artifacts={"config": str(config)},
                                input_example=pd.DataFrame({"x": [1.0]}))
    # load_context ran on a copy, not on the live object (whose paths would be deleted)
    assert not hasattr(mine, "offset")


def test_python_model_class_from_code_paths_loads_in_a_fresh_process(tmp_path: Path) -> None:
    sys.path.insert(0, str(FIXTURES))
    try:
        import scaler_code

        class Scaled(lakeml.pyfunc.PythonModel):
            def __init__(self) -> None:
                self.scale = scaler_code.Scale(3.0)

            def predict(self, context: Any, model_input: Any) -> Any:
                return self.scale.apply(np.asarray(model_input))

        lakeml.pyfunc.save_model(tmp_path / "m", python_model=Scaled(),
                                 code_paths=[FIXTURES / "scaler_code.py"])
    finally:
        sys.path.remove(str(FIXTURES))
        sys.modules.pop("scaler_code", None)
    assert (tmp_path / "m" / "code" / "scaler_code.py").is_file()
    proc = run_python(
        "import lakeml.pyfunc\n"
        f"m = lakeml.pyfunc.load_model({str(tmp_path / 'm')!r})\n"
        "print(m.predict([[1.0, 2.0]]).tolist())\n")
    assert proc.stdout.strip() == "[[3.0, 6.0]]"


def test_predict_without_params_refuses_params(tmp_path: Path) -> None:
    class NoParams(lakeml.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any) -> Any:
            return model_input

    lakeml.pyfunc.save_model(tmp_path / "m", python_model=NoParams())
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(InvalidArgument, match=r"takes no params; got \['k'\]"):
        model.predict([1], params={"k": 1})


def test_python_model_must_be_a_subclass_instance(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="PythonModel subclass, got function"):
        lakeml.pyfunc.save_model(tmp_path / "m", python_model=lambda x: x)
    with pytest.raises(TypeError, match="abstract"):
        lakeml.pyfunc.PythonModel()  # predict is abstract


def test_missing_artifact_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="artifact 'weights'.*does not exist"):
        lakeml.pyfunc.save_model(tmp_path / "m", python_model=Lookup(),
                                 artifacts={"weights": str(tmp_path / "nope.bin")})
    assert not (tmp_path / "m").exists()


def test_log_python_model_and_artifact_from_a_run(store_uri: str, tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"offset": 1}))
    with lakeml.start_run() as run:
        lakeml.log_artifact(tmp_path / "config.json", "inputs")
        info = lakeml.pyfunc.log_model(
            "lookup", python_model=Lookup(),
            artifacts={"config": f"runs:/{run.info.run_id}/inputs/config.json"})
    model = lakeml.pyfunc.load_model(info.model_uri)
    assert model.predict(pd.DataFrame({"x": [1.0]})).tolist() == [2.0]
    assert model.metadata.signature is None  # no example, no signature


def test_signature_outputs_come_from_the_saved_artifacts(store_uri: str,
                                                         tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"offset": 1}))
    with lakeml.start_run() as run:
        lakeml.log_artifact(tmp_path / "config.json")
        info = lakeml.pyfunc.log_model(
            "lookup", python_model=Lookup(), input_example=pd.DataFrame({"x": [1.0]}),
            artifacts={"config": f"runs:/{run.info.run_id}/config.json"})
    outputs = info.signature.outputs
    assert outputs is not None and outputs.specs[0].type == "double"
    assert info.flavors["python_function"]["loader_module"] == "lakeml.pyfunc"
