"""The ``xgboost`` flavor: a Booster or a scikit-learn style XGBModel.

Saved in XGBoost's own binary JSON format (``model.ubj``), which later
XGBoost versions read, with the Python class to rebuild (``model_class``).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Iterable

from lakeml.errors import InvalidArgument
from lakeml.models.descriptor import Model
from lakeml.models.flavors.tabular import as_fitted
from lakeml.models.saving import FlavorSpec, save_model_folder
from lakeml.models.signature import ModelSignature

FLAVOR_NAME = "xgboost"
MODEL_FORMAT = "ubj"


def save_model(xgb_model: Any, path: str | os.PathLike[str],
               signature: ModelSignature | None = None, input_example: Any = None, *,
               code_paths: Iterable[str] | None = None,
               pip_requirements: Iterable[str] | None = None,
               extra_pip_requirements: Iterable[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Save a trained ``xgboost.Booster`` or ``XGBModel`` (XGBClassifier…) at ``path``."""
    import xgboost as xgb

    if not isinstance(xgb_model, (xgb.Booster, xgb.XGBModel)):
        raise InvalidArgument(f"xgb_model must be an xgboost.Booster or XGBModel, got "
                              f"{type(xgb_model).__name__}")
    cls = type(xgb_model)
    data_file = f"model.{MODEL_FORMAT}"

    def write(folder: Path) -> dict[str, Any]:
        xgb_model.save_model(str(folder / data_file))
        return {"xgb_version": str(xgb.__version__), "data": data_file,
                "model_class": f"{cls.__module__}.{cls.__qualname__}",
                "model_format": MODEL_FORMAT}

    spec = FlavorSpec(FLAVOR_NAME, "lakeml.xgboost", write, ["xgboost"],
                      _XGBWrapper(xgb_model).predict, data_file)
    return save_model_folder(path, spec, signature=signature, input_example=input_example,
                             code_paths=code_paths, pip_requirements=pip_requirements,
                             extra_pip_requirements=extra_pip_requirements, metadata=metadata)


def _read(folder: str, conf: dict[str, Any]) -> Any:
    module, _, name = conf["model_class"].rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    model = cls()
    model.load_model(str(Path(folder, conf["data"])))
    return model


def _conf(folder: str, uri: Any) -> dict[str, Any]:
    meta = Model.load(folder)
    conf = meta.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidArgument(f"the model at {os.fspath(uri)!r} is not an xgboost model; "
                              f"its flavors: {sorted(meta.flavors)}")
    return conf


def load_model(model_uri: str | os.PathLike[str]) -> Any:
    """The Booster or XGBModel saved at ``model_uri``."""
    from lakeml.models.uri import local_model_path

    folder = local_model_path(model_uri)
    return _read(folder, _conf(folder, model_uri))


class _XGBWrapper:
    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any) -> Any:
        import xgboost as xgb

        model = self.raw_model
        if isinstance(model, xgb.Booster):
            if model.feature_names is None and hasattr(data, "to_numpy"):
                data = data.to_numpy()
            return model.predict(xgb.DMatrix(data))
        return model.predict(as_fitted(model, data))


def _load_pyfunc(path: str) -> _XGBWrapper:
    folder = str(Path(path).parent)
    return _XGBWrapper(_read(folder, _conf(folder, folder)))
