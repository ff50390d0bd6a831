"""The ``pytorch`` flavor: a ``torch.nn.Module``, saved whole with ``torch.save``.

The module is pickled with cloudpickle (when installed) so that a class
defined in a notebook or ``__main__`` travels with it; code that defines
the class can also be shipped with ``code_paths``. pyfunc scores on CPU in
``eval()`` mode without gradients, and returns a numpy array: the module is
put in eval mode once when the pyfunc model loads and never switched after,
since the scoring server calls predict from many threads at once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from lakeml.errors import InvalidArgument
from lakeml.models.descriptor import Model
from lakeml.models.saving import FlavorSpec, save_model_folder
from lakeml.models.signature import ModelSignature

FLAVOR_NAME = "pytorch"
MODEL_FILE = "model.pth"


def _pickle_module() -> Any:
    try:
        import cloudpickle
    except ImportError:
        import pickle

        return pickle
    return cloudpickle


def save_model(pytorch_model: Any, path: str | os.PathLike[str],
               signature: ModelSignature | None = None, input_example: Any = None, *,
               code_paths: Iterable[str] | None = None,
               pip_requirements: Iterable[str] | None = None,
               extra_pip_requirements: Iterable[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Save a ``torch.nn.Module`` at ``path``."""
    import torch

    if not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidArgument(f"pytorch_model must be a torch.nn.Module, got "
                              f"{type(pytorch_model).__name__}")
    pickler = _pickle_module()

    def write(folder: Path) -> dict[str, Any]:
        torch.save(pytorch_model, folder / MODEL_FILE, pickle_module=pickler)
        return {"pytorch_version": str(torch.__version__), "model_data": MODEL_FILE,
                "pickle_module_name": pickler.__name__}

    def predict(example: Any) -> Any:  # on a copy: eval() must not change the caller's module
        import copy

        return _TorchWrapper(copy.deepcopy(pytorch_model).eval()).predict(example)

    modules = ["torch"] + (["cloudpickle"] if pickler.__name__ == "cloudpickle" else [])
    spec = FlavorSpec(FLAVOR_NAME, "lakeml.pytorch", write, modules, predict, MODEL_FILE)
    return save_model_folder(path, spec, signature=signature, input_example=input_example,
                             code_paths=code_paths, pip_requirements=pip_requirements,
                             extra_pip_requirements=extra_pip_requirements, metadata=metadata)


def _read(file: Path) -> Any:
    import torch

    return torch.load(file, map_location="cpu", weights_only=False)


def load_model(model_uri: str | os.PathLike[str]) -> Any:
    """The ``torch.nn.Module`` saved at ``model_uri`` (on CPU)."""
    from lakeml.models.pyfunc_model import add_code_path
    from lakeml.models.uri import local_model_path

    folder = local_model_path(model_uri)
    flavors = Model.load(folder).flavors
    conf = flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidArgument(f"the model at {os.fspath(model_uri)!r} is not a pytorch model; "
                              f"its flavors: {sorted(flavors)}")
    add_code_path(folder, conf)
    data = Path(folder, conf.get("model_data", MODEL_FILE))
    if data.is_dir():  # MLflow's layout: data/model.pth or data/model.pt2
        from lakeml.models.mlflow_torch import read_module

        return read_module(folder, str(conf.get("model_data")))
    return _read(data)


class _TorchWrapper:
    """pyfunc predict of a module already in eval mode (no mode switch per call: threads)."""

    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any) -> Any:
        import numpy as np
        import torch

        if hasattr(data, "to_numpy"):
            data = data.to_numpy()
        array = np.asarray(data)
        tensor = torch.from_numpy(np.require(array, requirements=["C", "W"]))
        param = next(self.raw_model.parameters(), None)
        if param is not None and array.dtype.kind == "f" and param.dtype.is_floating_point:
            tensor = tensor.to(param.dtype)  # float64 input to a float32 network
        # integers stay integers: they may be indices (an Embedding needs a LongTensor)
        with torch.no_grad():
            out = self.raw_model(tensor)
        return out.numpy() if isinstance(out, torch.Tensor) else out


def _load_pyfunc(path: str) -> _TorchWrapper:
    return _TorchWrapper(_read(Path(path)).eval())
