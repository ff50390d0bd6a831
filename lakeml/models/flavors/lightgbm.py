"""The ``lightgbm`` flavor: a Booster or a scikit-learn style LGBMModel.

A Booster is saved in LightGBM's text format (``model.lgb``); an LGBMModel
(LGBMClassifier…) is pickled (``model.pkl``), since the text format does not
keep the estimator around the booster (classes, parameters).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Iterable

from lakeml.errors import InvalidArgument
from lakeml.models.descriptor import Model
from lakeml.models.flavors.tabular import as_fitted
from lakeml.models.saving import FlavorSpec, save_model_folder
from lakeml.models.signature import ModelSignature

FLAVOR_NAME = "lightgbm"


def save_model(lgb_model: Any, path: str | os.PathLike[str],
               signature: ModelSignature | None = None, input_example: Any = None, *,
               code_paths: Iterable[str] | None = None,
               pip_requirements: Iterable[str] | None = None,
               extra_pip_requirements: Iterable[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Save a trained ``lightgbm.Booster`` or ``LGBMModel`` (LGBMClassifier…) at ``path``."""
    import lightgbm as lgb

    if not isinstance(lgb_model, (lgb.Booster, lgb.LGBMModel)):
        raise InvalidArgument(f"lgb_model must be a lightgbm.Booster or LGBMModel, got "
                              f"{type(lgb_model).__name__}")
    is_booster = isinstance(lgb_model, lgb.Booster)
    data_file = "model.lgb" if is_booster else "model.pkl"
    cls = type(lgb_model)

    def write(folder: Path) -> dict[str, Any]:
        if is_booster:
            lgb_model.save_model(str(folder / data_file))
        else:
            with open(folder / data_file, "wb") as out:
                pickle.dump(lgb_model, out)
        return {"lgb_version": str(lgb.__version__), "data": data_file,
                "model_class": f"{cls.__module__}.{cls.__qualname__}",
                "model_format": "text" if is_booster else "pickle"}

    spec = FlavorSpec(FLAVOR_NAME, "lakeml.lightgbm", write, ["lightgbm"],
                      _LGBWrapper(lgb_model).predict, data_file)
    return save_model_folder(path, spec, signature=signature, input_example=input_example,
                             code_paths=code_paths, pip_requirements=pip_requirements,
                             extra_pip_requirements=extra_pip_requirements, metadata=metadata)


def _read(file: Path, model_format: str) -> Any:
    import lightgbm as lgb

    if model_format == "text":
        return lgb.Booster(model_file=str(file))
    with open(file, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - the model's own file


def load_model(model_uri: str | os.PathLike[str]) -> Any:
    """The Booster or LGBMModel saved at ``model_uri``."""
    from lakeml.models.uri import local_model_path

    folder = local_model_path(model_uri)
    conf = Model.load(folder).flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidArgument(f"the model at {os.fspath(model_uri)!r} is not a lightgbm model")
    return _read(Path(folder, conf["data"]), conf.get("model_format", "text"))


class _LGBWrapper:
    def __init__(self, model: Any) -> None:
        self.raw_model = model

    def predict(self, data: Any) -> Any:
        import lightgbm as lgb

        if isinstance(self.raw_model, lgb.Booster):
            return self.raw_model.predict(data)
        return self.raw_model.predict(as_fitted(self.raw_model, data))


def _load_pyfunc(path: str) -> _LGBWrapper:
    conf = Model.load(Path(path).parent).flavors[FLAVOR_NAME]
    return _LGBWrapper(_read(Path(path), conf.get("model_format", "text")))
