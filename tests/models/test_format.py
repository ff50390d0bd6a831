"""The model folder: MLmodel fields, environment files, input example; the CLI predict."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import lakeml
import lakeml.pyfunc
import lakeml.sklearn
import lakeml.xgboost
from lakeml.cli import main
from lakeml.models import Model

ROOT = Path(__file__).resolve().parents[2]


def test_mlmodel_has_mlflow_fields_and_loads_back(sk_model: Any, store_uri: str,
                                                  iris: tuple[Any, Any]) -> None:
    X, _ = iris
    with lakeml.start_run() as run:
        info = lakeml.sklearn.log_model(sk_model, "model", input_example=X.head(2),
                                        metadata={"owner": "team-a"})
    folder = Path(lakeml.pyfunc.load_model(info.model_uri).local_path)
    doc = yaml.safe_load((folder / "MLmodel").read_text())
    assert doc["artifact_path"] == "model"
    assert doc["run_id"] == run.info.run_id
    assert doc["model_uuid"] == info.model_uuid and len(doc["model_uuid"]) == 32
    assert doc["lakeml_version"] == lakeml.__version__
    assert doc["metadata"] == {"owner": "team-a"}
    assert doc["utc_time_created"].startswith(info.utc_time_created[:10])
    pyfunc = doc["flavors"]["python_function"]
    assert pyfunc["loader_module"] == "lakeml.sklearn"
    assert pyfunc["model_path"] == "model.pkl"
    assert pyfunc["python_version"] == platform.python_version()
    assert pyfunc["env"] == {"virtualenv": "python_env.yaml"}
    import sklearn

    assert doc["flavors"]["sklearn"]["sklearn_version"] == sklearn.__version__
    assert doc["saved_input_example_info"] == {"artifact_path": "input_example.json",
                                               "type": "dataframe", "pandas_orient": "split"}
    assert json.loads(doc["signature"]["inputs"])[0] == {"type": "double",
                                                         "name": "sepal_length",
                                                         "required": True}
    assert doc["model_size_bytes"] == info.size_bytes > 0
    assert Model.load(folder).to_dict() == doc


def test_environment_is_captured_from_installed_versions(sk_model: Any, tmp_path: Path) -> None:
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", extra_pip_requirements=["rich>=13"])
    reqs = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert reqs == [f"lakeml=={lakeml.__version__}",
                    f"scikit-learn=={metadata.version('scikit-learn')}",
                    f"numpy=={metadata.version('numpy')}",  # named by the pickle
                    "rich>=13"]
    env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert env["python"] == platform.python_version()
    assert f"pip=={metadata.version('pip')}" in env["build_dependencies"]
    assert env["dependencies"] == ["-r requirements.txt"]
    lakeml.sklearn.save_model(sk_model, tmp_path / "n", pip_requirements=["scikit-learn"])
    assert (tmp_path / "n" / "requirements.txt").read_text() == "scikit-learn\n"


def test_requirements_name_the_distribution_actually_installed(tmp_path: Path,
                                                               iris: tuple[Any, Any]) -> None:
    import xgboost as xgb

    from lakeml.models.environment import requirement_for

    X, y = iris
    lakeml.xgboost.save_model(xgb.XGBClassifier(n_estimators=2).fit(X, y), tmp_path / "m")
    line = (tmp_path / "m" / "requirements.txt").read_text().splitlines()[1]
    assert line == requirement_for("xgboost")
    name, version = line.split("==")
    assert metadata.version(name) == version == xgb.__version__


def test_input_example_round_trips(sk_model: Any, tmp_path: Path,
                                   iris: tuple[Any, Any]) -> None:
    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", input_example=X.head(3))
    meta = Model.load(tmp_path / "m")
    pd.testing.assert_frame_equal(meta.load_input_example(tmp_path / "m"),
                                  X.head(3).reset_index(drop=True))
    lakeml.sklearn.save_model(sk_model, tmp_path / "a", input_example=X.head(2).to_numpy())
    example = Model.load(tmp_path / "a").load_input_example(tmp_path / "a")
    np.testing.assert_array_equal(example, X.head(2).to_numpy())
    doc = json.loads((tmp_path / "a" / "input_example.json").read_text())
    assert list(doc) == ["inputs"]  # the body of an "inputs" request


def test_explicit_signature_wins_and_bad_signature_is_refused(sk_model: Any, tmp_path: Path,
                                                              iris: tuple[Any, Any]) -> None:
    from lakeml.errors import InvalidArgument
    from lakeml.models import infer_signature

    X, _ = iris
    sig = infer_signature(X[["sepal_length", "sepal_width", "petal_length", "petal_width"]])
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", signature=sig,
                              input_example=X.head(1))
    assert Model.load(tmp_path / "m").signature == sig  # no outputs: not re-inferred
    with pytest.raises(InvalidArgument, match="signature must be a ModelSignature"):
        lakeml.sklearn.save_model(sk_model, tmp_path / "n", signature={"inputs": "x"})


def test_cli_predict_csv_to_parquet_and_parquet_to_csv(sk_model: Any, tmp_path: Path,
                                                       iris: tuple[Any, Any],
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", input_example=X.head(1))
    X.head(20).to_csv(tmp_path / "in.csv", index=False)
    X.head(20).assign(extra=1).to_parquet(tmp_path / "in.parquet")
    assert main(["models", "predict", "-m", str(tmp_path / "m"), "-i",
                 str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.parquet")]) == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["prediction"].tolist() == sk_model.predict(X.head(20)).tolist()
    assert main(["models", "predict", "-m", str(tmp_path / "m"), "-i",
                 str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.csv")]) == 0
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == out["prediction"].tolist()
    capsys.readouterr()
    assert main(["models", "predict", "-m", str(tmp_path / "m"), "-i",
                 str(tmp_path / "in.csv")]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"] == out["prediction"].tolist()


def test_cli_predict_errors_are_one_line(sk_model: Any, tmp_path: Path,
                                         iris: tuple[Any, Any],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", input_example=X.head(1))
    X.head(3).drop(columns="petal_width").to_csv(tmp_path / "in.csv", index=False)
    assert main(["models", "predict", "-m", str(tmp_path / "m"), "-i",
                 str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.parquet")]) == 1
    assert "missing column 'petal_width'" in capsys.readouterr().err
    assert main(["models", "predict", "-m", str(tmp_path / "m"), "-i",
                 str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.txt")]) == 1
    assert "name a .parquet, .csv or .json file" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()


class _Scaled(lakeml.pyfunc.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input["x"] * (params or {}).get("scale", 1)


def test_cli_predict_json_honours_params(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    lakeml.pyfunc.save_model(tmp_path / "m", python_model=_Scaled(),
                             input_example=pd.DataFrame({"x": [1.0]}))
    (tmp_path / "in.json").write_text(json.dumps(
        {"inputs": {"x": [1.0, 2.0]}, "params": {"scale": 10}}))
    assert main(["models", "predict", "-m", str(tmp_path / "m"), "-i",
                 str(tmp_path / "in.json")]) == 0
    assert json.loads(capsys.readouterr().out) == {"predictions": [10.0, 20.0]}


def test_cli_predict_runs_uri_in_a_store(sk_model: Any, store_uri: str, tmp_path: Path,
                                         iris: tuple[Any, Any]) -> None:
    X, _ = iris
    with lakeml.start_run():
        info = lakeml.sklearn.log_model(sk_model, "model")
    lakeml.flush()
    X.head(5).to_csv(tmp_path / "in.csv", index=False)
    proc = subprocess.run([sys.executable, "-m", "lakeml", "models", "predict", "-m",
                           info.model_uri, "-i", str(tmp_path / "in.csv"), "--store",
                           store_uri], cwd=str(ROOT), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["predictions"] == sk_model.predict(X.head(5)).tolist()


class _Sparse(lakeml.pyfunc.PythonModel):
    """Holds a scipy matrix, and leaves a mark if its __setstate__ ever runs."""

    def __init__(self, mark: str) -> None:
        import scipy.sparse

        self.matrix = scipy.sparse.eye(3, format="csr")
        self.mark = mark

    def __setstate__(self, state: dict[str, Any]) -> None:
        Path(state["mark"]).write_text("model code ran")
        self.__dict__.update(state)

    def predict(self, context: Any, model_input: Any) -> Any:
        return self.matrix @ np.asarray(model_input)


def test_requirements_add_what_the_pickle_refers_to_without_running_it(tmp_path: Path
                                                                       ) -> None:
    mark = tmp_path / "ran.txt"
    lakeml.pyfunc.save_model(tmp_path / "m", python_model=_Sparse(str(mark)))
    assert not mark.exists()  # reading the pickle for its modules ran no model code
    reqs = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert f"scipy=={metadata.version('scipy')}" in reqs
    assert f"cloudpickle=={metadata.version('cloudpickle')}" in reqs
    assert not any(r.startswith(("pathlib", "tests", "lakeml.")) for r in reqs)
    model = lakeml.pyfunc.load_model(str(tmp_path / "m"))
    assert mark.exists()  # loading does run it, as it must
    assert model.predict([1.0, 2.0, 3.0]).tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(("text", "message"), [
    ("- just\n- a list\n", r"must be a mapping with a 'flavors' mapping, got list"),
    ("flavors: {}\nsignature:\n  inputs: '[{\"type\": \"double\"'\n",
     r"signature is malformed \(JSONDecodeError"),
    ("flavors: {}\nsignature:\n  inputs: '[{\"name\": \"x\"}]'\n",
     r"signature is malformed \(KeyError"),
])
def test_a_malformed_mlmodel_is_named_in_the_error(tmp_path: Path, text: str,
                                                   message: str) -> None:
    from lakeml.errors import InvalidArgument

    (tmp_path / "MLmodel").write_text(text)
    with pytest.raises(InvalidArgument, match=f"^{tmp_path / 'MLmodel'}: .*{message}"):
        Model.load(tmp_path)
