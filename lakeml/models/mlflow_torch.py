"""PyTorch models that MLflow 3.x saved (``mlflow.pytorch``), loaded without MLflow.

``mlflow.pytorch.save_model`` writes the module under the folder's ``data/``
(the flavor's ``model_data``) in one of two formats:

- ``pt2`` (MLflow 3's default outside Databricks): ``data/model.pt2``, a
  ``torch.export`` program, read with ``torch.export.load(...).module()``;
- ``pickle``: ``data/model.pth``, the whole module saved by ``torch.save`` with
  the pickle module named in ``data/pickle_module_info.txt`` (MLflow's own
  ``mlflow.pytorch.pickle_module``, which is cloudpickle: plain ``pickle``
  reads what it wrote, so MLflow need not be installed), or a TorchScript
  archive (``torch.load`` hands those to ``torch.jit.load``).

Predictions follow MLflow's pyfunc wrapper: a DataFrame becomes a float32
array and the answer a DataFrame with the input's index; an ndarray goes in
as it is and the answer is an ndarray; the module runs on CPU without
gradients, a pickled one in ``eval()`` mode (set once at load: the scoring
server predicts from many threads). Loading a pickled module runs its code.
"""

from __future__ import annotations

import importlib
import os
import pickle
from pathlib import Path
from typing import Any

from lakeml.errors import InvalidArgument, NotSupported

PICKLED_FILE = "model.pth"
EXPORTED_FILE = "model.pt2"
PICKLE_MODULE_FILE = "pickle_module_info.txt"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise NotSupported("this model was saved by MLflow's pytorch flavor: pip install "
                           "torch (or 'lakeml[pytorch]')") from None
    return torch


def _pickle_module(data: Path) -> Any:
    """The module ``torch.load`` unpickles with: the one the model was saved with, or plain
    ``pickle`` for MLflow's cloudpickle alias (cloudpickle's files are ordinary pickles)."""
    info = data / PICKLE_MODULE_FILE
    name = info.read_text().strip() if info.is_file() else "pickle"
    if name in ("pickle", "cloudpickle") or name.startswith("mlflow."):
        return pickle
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise NotSupported(f"the PyTorch model in {os.fspath(data)!r} was pickled with "
                           f"{name!r}, which cannot be imported here: {exc}") from None


def read_module(folder: str, model_data: str) -> Any:
    """The ``torch.nn.Module`` of an MLflow pytorch folder, on CPU, as MLflow loads it: a
    pickled one in eval mode (an exported program's module cannot switch modes)."""
    torch = _torch()
    data = Path(folder, model_data)
    if data.is_file():  # a model_data naming the file itself (older writers)
        return torch.load(data, map_location="cpu", weights_only=False).eval()
    if (data / PICKLED_FILE).is_file():
        model = torch.load(data / PICKLED_FILE, map_location="cpu", weights_only=False,
                           pickle_module=_pickle_module(data))
        return model.eval()
    if (data / EXPORTED_FILE).is_file():
        return torch.export.load(str(data / EXPORTED_FILE)).module()
    raise InvalidArgument(f"the MLflow pytorch model at {folder!r} has neither "
                          f"{model_data}/{PICKLED_FILE} nor {model_data}/{EXPORTED_FILE}")


class MlflowTorchWrapper:
    """pyfunc predict of an MLflow pytorch model, with MLflow's conversions in and out."""

    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd
        import torch

        if isinstance(data, pd.DataFrame):
            array = data.to_numpy(dtype=np.float32)
        elif isinstance(data, np.ndarray):
            array = data
        else:
            raise InvalidArgument(f"an MLflow pytorch model takes a pandas DataFrame or a "
                                  f"numpy ndarray, got {type(data).__name__}")
        with torch.no_grad():
            out = self.raw_model(torch.from_numpy(np.require(array, requirements=["W"])),
                                 **(params or {}))
        if not isinstance(out, torch.Tensor):
            raise InvalidArgument(f"the PyTorch model returned {type(out).__name__}; a pyfunc "
                                  "PyTorch model must return a single tensor")
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(out.numpy(), index=data.index)
        return out.numpy()


def load_pyfunc(folder: str, conf: dict[str, Any], pyfunc: dict[str, Any]) -> MlflowTorchWrapper:
    """The pyfunc model of the MLflow pytorch folder ``folder`` (``conf``: its flavor)."""
    return MlflowTorchWrapper(read_module(folder, pyfunc.get("data")
                                          or conf.get("model_data", "data")))
