"""Loading model folders that MLflow 3.x saved, without MLflow installed.

An MLflow model folder's MLmodel names an MLflow module as its pyfunc
``loader_module``. lakeml reads the same files that module would, with the
same libraries, and hands back its own pyfunc wrappers, so
``lakeml.pyfunc.load_model`` and ``lakeml models serve`` take MLflow's models:

=====================  =====================================================================
``mlflow.sklearn``     ``model.skops`` (skops, MLflow 3's default; its ``skops_trusted_types``
                       are honoured), ``model.pkl`` as ``pickle`` or ``cloudpickle``; the
                       ``predict_fn`` the model was saved with (``predict_proba``…)
``mlflow.xgboost``     the ``data`` file (``model.xgb``/``.ubj``/``.json``) into its
                       ``model_class`` (Booster, XGBClassifier, XGBRegressor…)
``mlflow.lightgbm``    a Booster's text file, or an ``LGBMModel`` pickle
``mlflow.pyfunc.model``  a ``PythonModel`` pickled with cloudpickle (``python_model.pkl``),
                       its ``artifacts/`` and ``model_config``; the pickle's references to
                       ``mlflow.pyfunc.PythonModel``, ``PythonModelContext`` and the type
                       hints MLflow records are served by lakeml's own classes, so MLflow
                       need not be installed (inputs are not converted by type hints)
a module of the model  (``loader_module`` in the model's ``code/``) imported and called as
                       MLflow would: ``_load_pyfunc(<folder>/<data>)``
=====================  =====================================================================

Loading a model runs its code: a pickle or cloudpickle file can do anything
when read, and skops only refuses types outside its trusted list, which the
model folder itself may widen. Load models from sources you trust.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pickle
from pathlib import Path
from typing import Any

from lakeml.errors import InvalidArgument, NotSupported
from lakeml.models.python_model import PythonModel, PythonModelContext

log = logging.getLogger(__name__)

MLFLOW_PREFIX = "mlflow."


def is_mlflow_loader(loader_module: str | None) -> bool:
    """Whether a pyfunc ``loader_module`` is one of MLflow's own modules."""
    return bool(loader_module) and str(loader_module).startswith(MLFLOW_PREFIX)


def load_pyfunc(folder: str, flavors: dict[str, dict[str, Any]]) -> Any:
    """The pyfunc implementation of the MLflow model in ``folder``; NotSupported names a
    loader module lakeml cannot stand in for."""
    conf = flavors.get("python_function") or {}
    loader = str(conf.get("loader_module"))
    readers = {"mlflow.sklearn": _sklearn, "mlflow.xgboost": _xgboost,
               "mlflow.lightgbm": _lightgbm, "mlflow.pytorch": _pytorch,
               "mlflow.pyfunc.model": _python_model}
    reader = readers.get(loader)
    if reader is None:
        raise NotSupported(
            f"the model at {folder!r} was saved by MLflow's {loader!r}, which lakeml cannot "
            f"load without MLflow; lakeml loads {sorted(readers)} and models whose "
            "loader_module is their own code")
    return reader(folder, flavors)


def _flavor(folder: str, flavors: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    conf = flavors.get(name)
    if conf is None:
        raise InvalidArgument(f"the MLflow model at {folder!r} has no {name!r} flavor in its "
                              f"MLmodel; its flavors: {sorted(flavors)}")
    return conf


def read_sklearn(folder: str, conf: dict[str, Any], model_file: str | None = None, *,
                 default_format: str = "pickle") -> Any:
    """The estimator of a flavor saved as skops, cloudpickle or pickle (``sklearn``, and the
    scikit-learn style models of ``lightgbm``)."""
    path = Path(folder, conf.get("pickled_model") or model_file or "model.pkl")
    fmt = conf.get("serialization_format", default_format)
    if fmt == "skops":
        try:
            import skops.io
        except ImportError:
            raise NotSupported("this scikit-learn model was saved with skops (MLflow 3's "
                               "default): pip install skops (or 'lakeml[models]')") from None
        return skops.io.load(path, trusted=conf.get("skops_trusted_types"))
    if fmt in ("pickle", "cloudpickle"):
        with open(path, "rb") as fh:
            return pickle.load(fh)  # noqa: S301 - the model's own file (see module docstring)
    raise InvalidArgument(f"the scikit-learn model at {folder!r} has serialization format "
                          f"{fmt!r}; known: skops, cloudpickle, pickle")


def _sklearn(folder: str, flavors: dict[str, dict[str, Any]]) -> Any:
    from lakeml.models.flavors.tabular import EstimatorWrapper

    conf = _flavor(folder, flavors, "sklearn")
    pyfunc = flavors.get("python_function") or {}
    model = read_sklearn(folder, conf, pyfunc.get("model_path"))
    return EstimatorWrapper(model, pyfunc.get("predict_fn") or "predict")


def _model_class(name: str) -> Any:
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _xgboost(folder: str, flavors: dict[str, dict[str, Any]]) -> Any:
    from lakeml.models.flavors.xgboost import _XGBWrapper

    conf = _flavor(folder, flavors, "xgboost")
    model = _model_class(conf.get("model_class", "xgboost.core.Booster"))()
    model.load_model(str(Path(folder, conf["data"])))
    return _XGBWrapper(model)


def _lightgbm(folder: str, flavors: dict[str, dict[str, Any]]) -> Any:
    from lakeml.models.flavors.lightgbm import _LGBWrapper

    conf = _flavor(folder, flavors, "lightgbm")
    path = Path(folder, conf["data"])
    if conf.get("model_class", "lightgbm.basic.Booster") == "lightgbm.basic.Booster":
        import lightgbm as lgb

        return _LGBWrapper(lgb.Booster(model_file=str(path)))
    # an LGBMModel: pickled as scikit-learn models are (skops by default in MLflow 3)
    return _LGBWrapper(read_sklearn(folder, conf, conf["data"], default_format="cloudpickle"))


def _pytorch(folder: str, flavors: dict[str, dict[str, Any]]) -> Any:
    from lakeml.models import mlflow_torch

    conf = _flavor(folder, flavors, "pytorch")
    return mlflow_torch.load_pyfunc(folder, conf, flavors.get("python_function") or {})


# ---- python_model: a PythonModel subclass pickled by MLflow ---------------------------------

class MlflowPythonModel(PythonModel):
    """Stands in for ``mlflow.pyfunc.PythonModel`` as the base of an unpickled model.

    Not abstract: cloudpickle rebuilds a class defined in ``__main__`` as an empty
    class first and sets its methods after, so an abstract ``predict`` in the base
    would leave the rebuilt class abstract for good.
    """

    def predict(self, context: Any, model_input: Any,  # type: ignore[override]
                params: dict[str, Any] | None = None) -> Any:
        raise NotSupported(f"{type(self).__name__} defines no predict")


class TypeHints:
    """Stands in for MLflow's ``_TypeHints``, which a PythonModel pickles once it has
    read its ``predict``'s type hints (lakeml does not convert inputs by them)."""

    def __init__(self, input_: Any = None, output: Any = None) -> None:
        self.input = input_
        self.output = output


def _stand_ins() -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {
        (module, name): cls
        for module in ("mlflow.pyfunc", "mlflow.pyfunc.model")
        for name, cls in (("PythonModel", MlflowPythonModel),
                          ("PythonModelContext", PythonModelContext))}
    found[("mlflow.models.signature", "_TypeHints")] = TypeHints
    return found


class _MlflowUnpickler(pickle.Unpickler):
    """Unpickles an MLflow python_model: MLflow's base classes become lakeml's."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "mlflow" or module.startswith(MLFLOW_PREFIX):
            found = _stand_ins().get((module, name))
            if found is not None:
                return found
            try:
                return super().find_class(module, name)
            except ImportError:
                raise NotSupported(f"this model's pickle needs {module}.{name} from MLflow, "
                                   "which lakeml does not stand in for: install mlflow to "
                                   "load it") from None
        return super().find_class(module, name)


class MlflowPythonModelWrapper:
    """Calls an MLflow PythonModel's ``predict`` as MLflow does: with the context when its
    signature asks for one (a ``context`` parameter, or two besides ``params``), and
    ``params`` when it takes them."""

    def __init__(self, python_model: Any, context: Any,
                 params_schema: list[dict[str, Any]] | None = None) -> None:
        self.raw_model = python_model
        self._context = context
        self._params_schema = params_schema
        parameters = inspect.signature(python_model.predict).parameters
        self._takes_params = "params" in parameters
        others = [p for p in parameters if p not in ("self", "params")]
        self._takes_context = "context" in parameters or len(others) == 2

    def _params(self, given: dict[str, Any] | None) -> dict[str, Any] | None:
        """MLflow's rule: params count only if the signature declares them (others are
        dropped, with a warning), and declared ones not given take their defaults."""
        if not self._params_schema:
            if given:
                log.warning("this MLflow model's signature declares no params: ignoring %s",
                            sorted(given))
            return {} if given else given
        values = {p["name"]: p.get("default") for p in self._params_schema if "name" in p}
        values.update(given or {})
        return values

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        params = self._params(params)
        args = (self._context, data) if self._takes_context else (data,)
        if self._takes_params:
            return self.raw_model.predict(*args, params=params)
        if params:
            raise InvalidArgument(f"{type(self.raw_model).__name__}.predict takes no params; "
                                  f"got {sorted(params)}")
        return self.raw_model.predict(*args)


def _python_model(folder: str, flavors: dict[str, dict[str, Any]]) -> Any:
    conf = flavors.get("python_function") or {}
    if conf.get("model_code_path"):
        raise NotSupported(f"the model at {folder!r} is an MLflow 'model from code'; lakeml "
                           "loads pickled python_model models only")
    name = conf.get("python_model")
    if not name:
        raise InvalidArgument(f"the MLflow python_model at {folder!r} names no python_model "
                              "file in its MLmodel")
    if conf.get("compression"):
        raise NotSupported(f"the model at {folder!r} is compressed ({conf['compression']}); "
                           "lakeml loads uncompressed python_model pickles")
    with open(Path(folder, name), "rb") as fh:
        python_model = _MlflowUnpickler(fh).load()
    artifacts = {key: str(Path(folder, value["path"] if isinstance(value, dict) else value))
                 for key, value in (conf.get("artifacts") or {}).items()}
    context = PythonModelContext(artifacts, conf.get("model_config"))
    load_context = getattr(python_model, "load_context", None)
    if callable(load_context):
        load_context(context)
    from lakeml.models.descriptor import Model

    signature = Model.load(folder).signature
    schema = signature.params if signature is not None else None
    return MlflowPythonModelWrapper(python_model, context,
                                    schema if isinstance(schema, list) else None)


def data_path(folder: str, conf: dict[str, Any]) -> str:
    """What a pyfunc ``loader_module`` is given: ``model_path`` (lakeml) or ``data`` (MLflow)
    under the folder, or the folder itself."""
    rel = conf.get("model_path") or conf.get("data") or ""
    return os.path.join(folder, rel) if rel else folder
