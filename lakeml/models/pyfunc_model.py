"""The generic model: any flavor loaded behind one ``predict``.

``PyFuncModel.predict`` checks and converts its input against the model's
signature (see enforcement.py), then calls the flavor's own predict. A
``PyFuncModel`` pickles as its local folder path: unpickling loads the model
from that folder once per process, which is what a Spark or multiprocessing
worker needs (ship the path, not the model).
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import threading
from pathlib import Path
from typing import Any

from lakeml.errors import InvalidArgument, NotFound
from lakeml.models import mlflow_format
from lakeml.models.descriptor import PYFUNC, Model
from lakeml.models.enforcement import enforce
from lakeml.models.uri import local_model_path


class PyFuncModel:
    """A loaded model with a uniform ``predict`` (MLflow's ``PyFuncModel``).

    Example:
        >>> model = lakeml.pyfunc.load_model("runs:/<run_id>/model")   # doctest: +SKIP
        >>> model.predict(pd.DataFrame({"x": [1.0, 2.0]}))             # doctest: +SKIP
    """

    def __init__(self, metadata: Model, impl: Any, local_path: str) -> None:
        self._meta = metadata
        self._impl = impl
        self._local_path = local_path
        self._input_schema = metadata.input_schema
        self._takes_params = "params" in inspect.signature(impl.predict).parameters

    @property
    def metadata(self) -> Model:
        """The model's MLmodel descriptor."""
        return self._meta

    @property
    def local_path(self) -> str:
        """The local folder the model was loaded from."""
        return self._local_path

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Score ``data``: a DataFrame, numpy array, dict of columns or list of records."""
        if self._input_schema is not None:
            data = enforce(data, self._input_schema)
        return self._call(data, params)

    def predict_parsed(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Score input parsed from JSON or CSV text (numbers carry no width there)."""
        if self._input_schema is not None:
            data = enforce(data, self._input_schema, from_text=True)
        return self._call(data, params)

    def _call(self, data: Any, params: dict[str, Any] | None) -> Any:
        if params and not self._takes_params:
            raise InvalidArgument(f"this {self.loader_module} model takes no params; got "
                                  f"{sorted(params)}")
        if self._takes_params:
            return self._impl.predict(data, params=params)
        return self._impl.predict(data)

    @property
    def loader_module(self) -> str:
        return str(self._meta.flavors[PYFUNC].get("loader_module"))

    def get_raw_model(self) -> Any:
        """The flavor's native model (a fitted estimator, a Booster, a PythonModel…)."""
        raw = getattr(self._impl, "raw_model", None)
        return raw if raw is not None else self._impl

    def unwrap_python_model(self) -> Any:
        """The PythonModel instance of a custom pyfunc model."""
        from lakeml.models.python_model import PythonModel

        raw = self.get_raw_model()
        if not isinstance(raw, PythonModel):
            raise InvalidArgument(f"this is a {self.loader_module} model, not a PythonModel")
        return raw

    def __repr__(self) -> str:
        flavors = [f for f in self._meta.flavors if f != PYFUNC]
        return f"<PyFuncModel flavors={flavors} path={self._local_path!r}>"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return load_cached, (self._local_path,)


def add_code_path(folder: str, conf: dict[str, Any]) -> None:
    """Put the model's copied code (``code/``) on sys.path so its pickles can import it."""
    code = conf.get("code")
    if code:
        path = str(Path(folder, code))
        if path not in sys.path:
            sys.path.insert(0, path)


def load_model(model_uri: str | os.PathLike[str]) -> PyFuncModel:
    """Load the model at ``model_uri`` as a :class:`PyFuncModel`.

    Example:
        >>> model = lakeml.pyfunc.load_model("runs:/<run_id>/model")   # doctest: +SKIP
    """
    return load_local(local_model_path(model_uri))


def load_local(folder: str) -> PyFuncModel:
    meta = Model.load(folder)
    conf = meta.flavors.get(PYFUNC)
    if conf is None:
        raise NotFound(f"the model at {folder!r} has no {PYFUNC} flavor, so it cannot be "
                       f"loaded as pyfunc; its flavors: {sorted(meta.flavors)}")
    add_code_path(folder, conf)
    loader = conf.get("loader_module")
    if mlflow_format.is_mlflow_loader(loader):  # a model MLflow saved: read without MLflow
        return PyFuncModel(meta, mlflow_format.load_pyfunc(folder, meta.flavors), folder)
    try:
        module = importlib.import_module(loader)
    except ImportError as exc:
        raise NotFound(f"cannot import {loader!r}, the loader of the model at {folder!r}: "
                       f"{exc}; install what its requirements.txt lists") from exc
    impl = module._load_pyfunc(mlflow_format.data_path(folder, conf))
    return PyFuncModel(meta, impl, folder)


_cache: dict[str, PyFuncModel] = {}
_cache_lock = threading.Lock()


def load_cached(folder: str) -> PyFuncModel:
    """The model in local ``folder``, loaded once per process (for unpickling in workers)."""
    model = _cache.get(folder)
    if model is None:
        with _cache_lock:
            model = _cache.get(folder)
            if model is None:
                model = _cache[folder] = load_local(folder)
    return model
