"""Model folders saved by the real MLflow 3.x load in lakeml and predict as MLflow does.

One MLflow subprocess (the side virtualenv, see tests/mlflow_venv.py) saves every kind
of model lakeml reads, loads each back with ``mlflow.pyfunc.load_model`` and saves its
predictions on the same input; lakeml then loads the folders (and serves one) and must
give the same predictions, value for value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import lakeml.pyfunc
import lakeml.sklearn
from lakeml.errors import NotSupported
from tests.mlflow_venv import run_mlflow

SCRIPT = r'''
import json, os
import numpy as np, pandas as pd
import lightgbm as lgb, xgboost as xgb
import mlflow
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True, as_frame=True)
X.to_parquet("input.parquet")
clf = LogisticRegression(max_iter=500).fit(X, y)
saved = {}

def keep(name, save, model, **kwargs):
    save(model, f"models/{name}", **kwargs)
    predicted = mlflow.pyfunc.load_model(f"models/{name}").predict(X)
    np.save(f"pred-{name}.npy", np.asarray(predicted))
    saved[name] = f"models/{name}"

keep("sk-skops", mlflow.sklearn.save_model, clf, input_example=X.head(3))
keep("sk-cloudpickle", mlflow.sklearn.save_model, clf, serialization_format="cloudpickle")
keep("sk-pickle", mlflow.sklearn.save_model, clf, serialization_format="pickle")
keep("sk-proba", mlflow.sklearn.save_model, clf, pyfunc_predict_fn="predict_proba")
keep("xgb-classifier", mlflow.xgboost.save_model,
     xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y))
keep("xgb-booster", mlflow.xgboost.save_model,
     xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=5))
keep("lgb-regressor", mlflow.lightgbm.save_model,
     lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, y))
keep("lgb-booster", mlflow.lightgbm.save_model,
     lgb.train({"verbose": -1}, lgb.Dataset(X, label=y), num_boost_round=5))

class Scaled(mlflow.pyfunc.PythonModel):
    """With a context, an artifact read at load time, and params."""
    def __init__(self, factor):
        self.factor = factor
    def load_context(self, context):
        with open(context.artifacts["offset"]) as fh:
            self.offset = float(fh.read())
    def predict(self, context, model_input, params=None):
        bump = (params or {}).get("bump", 0.0)
        return model_input.sum(axis=1) * self.factor + self.offset + bump

class NoContext(mlflow.pyfunc.PythonModel):
    """MLflow 3's shorter predict: no context."""
    def predict(self, model_input, params=None):
        return model_input.iloc[:, 0] * 3

with open("offset.txt", "w") as fh:
    fh.write("0.25")
from mlflow.models import infer_signature
with_params = infer_signature(X, X.sum(axis=1), params={"bump": 0.0})  # else MLflow drops them
mlflow.pyfunc.save_model("models/py-context", python_model=Scaled(2.0),
                         artifacts={"offset": "offset.txt"}, signature=with_params)
np.save("pred-py-context.npy", np.asarray(
    mlflow.pyfunc.load_model("models/py-context").predict(X, params={"bump": 1.5})))
np.save("pred-py-context-default.npy", np.asarray(
    mlflow.pyfunc.load_model("models/py-context").predict(X)))  # bump: the default, 0.0
mlflow.pyfunc.save_model("models/py-plain", python_model=NoContext())
np.save("pred-py-plain.npy", np.asarray(mlflow.pyfunc.load_model("models/py-plain").predict(X)))
saved["py-context"] = "models/py-context"
saved["py-plain"] = "models/py-plain"
print(json.dumps({"models": saved, "mlflow": mlflow.__version__}))
'''

PARAMS = {"py-context": {"bump": 1.5}}


@pytest.fixture(scope="session")
def mlflow_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("mlflow-models")
    out = run_mlflow(SCRIPT, cwd=folder, env={"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"})
    return folder, out


NAMES = ["sk-skops", "sk-cloudpickle", "sk-pickle", "sk-proba", "xgb-classifier",
         "xgb-booster", "lgb-regressor", "lgb-booster", "py-context", "py-plain"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_lakeml_predicts_like_mlflow(mlflow_models: tuple[Path, dict[str, Any]],
                                     name: str) -> None:
    folder, out = mlflow_models
    assert out["mlflow"].startswith("3.")
    X = pd.read_parquet(folder / "input.parquet")
    model = lakeml.pyfunc.load_model(str(folder / out["models"][name]))
    expected = np.load(folder / f"pred-{name}.npy")
    got = np.asarray(model.predict(X, params=PARAMS.get(name)))
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
def test_declared_params_take_their_defaults_as_in_mlflow(
        mlflow_models: tuple[Path, dict[str, Any]]) -> None:
    folder, out = mlflow_models
    X = pd.read_parquet(folder / "input.parquet")
    model = lakeml.pyfunc.load_model(str(folder / out["models"]["py-context"]))
    np.testing.assert_array_equal(np.asarray(model.predict(X)),
                                  np.load(folder / "pred-py-context-default.npy"))


@pytest.mark.slow
def test_skops_estimator_loads_through_the_sklearn_flavor(
        mlflow_models: tuple[Path, dict[str, Any]]) -> None:
    folder, out = mlflow_models
    X = pd.read_parquet(folder / "input.parquet")
    estimator = lakeml.sklearn.load_model(str(folder / out["models"]["sk-skops"]))
    np.testing.assert_array_equal(estimator.predict(X), np.load(folder / "pred-sk-skops.npy"))


@pytest.mark.slow
def test_unknown_mlflow_loader_is_refused_by_name(mlflow_models: tuple[Path, dict[str, Any]],
                                                  tmp_path: Path) -> None:
    import shutil

    folder, out = mlflow_models
    copy = tmp_path / "model"
    shutil.copytree(folder / out["models"]["sk-pickle"], copy)
    text = (copy / "MLmodel").read_text().replace("loader_module: mlflow.sklearn",
                                                  "loader_module: mlflow.transformers")
    (copy / "MLmodel").write_text(text)
    with pytest.raises(NotSupported, match="mlflow.transformers"):
        lakeml.pyfunc.load_model(str(copy))


@pytest.mark.slow
def test_served_mlflow_model_answers_like_mlflow(mlflow_models: tuple[Path, dict[str, Any]]
                                                 ) -> None:
    from tests.models.test_server import Server

    folder, out = mlflow_models
    X = pd.read_parquet(folder / "input.parquet")
    server = Server(str(folder / out["models"]["sk-skops"]))
    try:
        body = json.dumps({"dataframe_split": {"columns": list(X.columns),
                                               "data": X.to_numpy().tolist()}})
        status, answer = server.request("POST", "/invocations", body)
    finally:
        server.stop()
    assert status == 200, answer
    predictions = answer["predictions"] if isinstance(answer, dict) else answer
    np.testing.assert_array_equal(np.asarray(predictions), np.load(folder / "pred-sk-skops.npy"))
