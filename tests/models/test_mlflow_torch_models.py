"""PyTorch models saved by the real MLflow 3.x load in lakeml and predict as MLflow does.

The MLflow side venv (tests/mlflow_venv.py) trains a small network on iris and saves it
with ``mlflow.pytorch`` in both of MLflow 3's formats: ``pickle`` (the whole module by
``torch.save`` with cloudpickle; saved while still in train mode, so a loader that forgot
``eval()`` would answer with dropout's noise) and ``pt2`` (a ``torch.export`` program,
MLflow 3's default). It also logs the pickled one into a sqlite tracking store and
registers it, which ``lakeml import mlflow`` brings over, so ``runs:/`` and ``models:/``
URIs are tried too, and ``lakeml models serve``'s server answers for the pickled one.
MLflow's own ``mlflow.pyfunc`` predictions are the expected values.

torch must be installed on both sides (``lakeml[pytorch]``; benchmarks/setup_mlflow.sh);
without it the tests skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest

import lakeml
import lakeml.pyfunc
import lakeml.pytorch
from tests.mlflow_venv import run_mlflow

pytestmark = pytest.mark.slow

SCRIPT = r'''
import json, sys
import numpy as np, torch
import mlflow
from mlflow.models import infer_signature
from sklearn.datasets import load_iris

torch.manual_seed(0)
X, y = load_iris(return_X_y=True, as_frame=True)
X.to_parquet("input.parquet")
X32 = X.to_numpy(dtype=np.float32)

class Net(torch.nn.Module):
    """Defined in __main__: only cloudpickle can carry it."""
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(),
                                        torch.nn.Dropout(0.5), torch.nn.Linear(16, 3))
    def forward(self, x):
        return self.body(x)

net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
xt, yt = torch.from_numpy(X32), torch.from_numpy(y.to_numpy())
for _ in range(30):
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(xt), yt).backward()
    opt.step()

out = {"mlflow": mlflow.__version__, "torch": torch.__version__}
def keep(name, given, data):
    got = mlflow.pyfunc.load_model(f"models/{name}").predict(data)
    out[f"{name}-{given}"] = type(got).__name__
    np.save(f"pred-{name}-{given}.npy", np.asarray(got))

# pickle, saved in train mode (dropout on): loading must put it in eval mode
mlflow.pytorch.save_model(net, "models/torch-pickle", serialization_format="pickle")
keep("torch-pickle", "frame", X)
keep("torch-pickle", "array", X32)
net.eval()
sig = infer_signature(X32, net(xt).detach().numpy())
mlflow.pytorch.save_model(net, "models/torch-pt2", input_example=X32[:5], signature=sig)
keep("torch-pt2", "array", X32)
keep("torch-pt2", "frame32", X.astype("float32"))  # the tensor signature makes it an array
try:  # float64 against the float32 tensor signature: MLflow refuses it
    mlflow.pyfunc.load_model("models/torch-pt2").predict(X)
    out["pt2-float64"] = "accepted"
except mlflow.exceptions.MlflowException:
    out["pt2-float64"] = "refused"

mlflow.set_tracking_uri("sqlite:///" + sys.argv[1])
with mlflow.start_run() as run:
    mlflow.pytorch.log_model(net, name="model", serialization_format="pickle",
                             registered_model_name="torch-reg")
out["run_id"] = run.info.run_id
np.save("pred-torch-logged.npy", np.asarray(
    mlflow.pyfunc.load_model("models:/torch-reg/1").predict(X)))
print(json.dumps(out))
'''


def _need_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        message = "torch is not installed: pip install 'lakeml[pytorch]' (make test does)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def torch_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    _need_torch()
    folder = tmp_path_factory.mktemp("mlflow-torch")
    check = run_mlflow("import json, importlib.util as u; "
                       "print(json.dumps(u.find_spec('torch') is not None))", cwd=folder)
    if not check:
        message = ("the MLflow side venv has no torch: rerun benchmarks/setup_mlflow.sh "
                   "(make test does)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    out = run_mlflow(SCRIPT, str(folder / "mlflow.db"), cwd=folder,
                     env={"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"})
    return folder, out


def _inputs(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_parquet(folder / "input.parquet")
    return frame, frame.to_numpy(dtype=np.float32)


@pytest.mark.parametrize("name, given", [("torch-pickle", "frame"), ("torch-pickle", "array"),
                                         ("torch-pt2", "array"), ("torch-pt2", "frame32")])
def test_lakeml_predicts_like_mlflow(torch_models: tuple[Path, dict[str, Any]], name: str,
                                     given: str) -> None:
    folder, out = torch_models
    assert out["mlflow"].startswith("3.")
    frame, array = _inputs(folder)
    data = {"frame": frame, "array": array, "frame32": frame.astype("float32")}[given]
    model = lakeml.pyfunc.load_model(str(folder / "models" / name))
    got = model.predict(data)
    # as MLflow answers: a DataFrame for a DataFrame (same index), else an ndarray (a
    # tensor signature turns a DataFrame into an array before the model sees it)
    assert type(got).__name__ == out[f"{name}-{given}"] == (
        "DataFrame" if given == "frame" else "ndarray")
    if given == "frame":
        assert list(got.index) == list(frame.index)
    expected = np.load(folder / f"pred-{name}-{given}.npy")
    assert np.asarray(got).shape == expected.shape == (len(frame), 3)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-7)


def test_pytorch_flavor_loads_mlflows_module(torch_models: tuple[Path, dict[str, Any]]) -> None:
    import torch

    folder, _ = torch_models
    _, array = _inputs(folder)
    expected = np.load(folder / "pred-torch-pickle-array.npy")
    module = lakeml.pytorch.load_model(str(folder / "models" / "torch-pickle"))
    assert isinstance(module, torch.nn.Module) and not module.training  # eval, as MLflow
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.tensor(array)).numpy(), expected,
                                   rtol=1e-6, atol=1e-7)
    exported = lakeml.pytorch.load_model(str(folder / "models" / "torch-pt2"))
    with torch.no_grad():
        np.testing.assert_allclose(exported(torch.tensor(array)).numpy(),
                                   np.load(folder / "pred-torch-pt2-array.npy"),
                                   rtol=1e-6, atol=1e-7)


def test_bad_inputs_are_refused_as_mlflow_does(torch_models: tuple[Path, dict[str, Any]]) -> None:
    from lakeml.errors import InvalidArgument

    folder, out = torch_models
    frame, _ = _inputs(folder)
    assert out["pt2-float64"] == "refused"
    exported = lakeml.pyfunc.load_model(str(folder / "models" / "torch-pt2"))
    with pytest.raises(InvalidArgument, match="float64.*float32"):
        exported.predict(frame)
    model = lakeml.pyfunc.load_model(str(folder / "models" / "torch-pickle"))  # no signature
    with pytest.raises(InvalidArgument, match="DataFrame or a numpy ndarray, got list"):
        model.predict([[1.0, 2.0, 3.0, 4.0]])


@pytest.fixture()
def imported_store(torch_models: tuple[Path, dict[str, Any]],
                   tmp_path: Path) -> Iterator[str]:
    from lakeml.migrate import import_mlflow

    folder, _ = torch_models
    store = str(tmp_path / "lake")
    import_mlflow(f"sqlite:///{folder / 'mlflow.db'}", store)
    before = lakeml.get_store_uri()
    lakeml.set_store(store)
    yield store
    lakeml.set_store(before)


def test_logged_model_loads_by_run_and_registry_uris(
        torch_models: tuple[Path, dict[str, Any]], imported_store: str) -> None:
    folder, out = torch_models
    frame, _ = _inputs(folder)
    expected = np.load(folder / "pred-torch-logged.npy")
    for uri in (f"runs:/{out['run_id']}/model", "models:/torch-reg/1"):
        got = lakeml.pyfunc.load_model(uri).predict(frame)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6, atol=1e-7)


def test_served_mlflow_torch_model_answers_like_mlflow(
        torch_models: tuple[Path, dict[str, Any]]) -> None:
    from tests.models.test_server import Server

    folder, _ = torch_models
    frame, _ = _inputs(folder)
    server = Server(str(folder / "models" / "torch-pickle"))
    try:
        body = json.dumps({"dataframe_split": {"columns": list(frame.columns),
                                               "data": frame.to_numpy().tolist()}})
        status, answer = server.request("POST", "/invocations", body)
    finally:
        server.stop()
    assert status == 200, answer
    rows = answer["predictions"]  # a DataFrame's answer: one record per row, as MLflow's
    got = np.array([[row[str(i)] for i in range(3)] for row in rows])
    np.testing.assert_allclose(got, np.load(folder / "pred-torch-pickle-frame.npy"),
                               rtol=1e-6, atol=1e-7)
