"""The ``sklearn`` flavor: any fitted scikit-learn estimator or pipeline.

Saved with pickle (default) or cloudpickle (for pipelines holding lambdas or
classes defined in ``__main__``) as ``model.pkl``.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, Iterable

from lakeml.errors import InvalidArgument
from lakeml.models.descriptor import Model
from lakeml.models.flavors.tabular import EstimatorWrapper
from lakeml.models.saving import FlavorSpec, save_model_folder
from lakeml.models.signature import ModelSignature

FLAVOR_NAME = "sklearn"
MODEL_FILE = "model.pkl"
FORMATS = ("pickle", "cloudpickle")


def _pickler(serialization_format: str) -> Any:
    if serialization_format not in FORMATS:
        raise InvalidArgument(f"serialization_format must be one of {list(FORMATS)}, "
                              f"got {serialization_format!r}")
    if serialization_format == "cloudpickle":
        import cloudpickle

        return cloudpickle
    return pickle


def save_model(sk_model: Any, path: str | os.PathLike[str],
               signature: ModelSignature | None = None, input_example: Any = None, *,
               serialization_format: str = "pickle", pyfunc_predict_fn: str = "predict",
               code_paths: Iterable[str] | None = None,
               pip_requirements: Iterable[str] | None = None,
               extra_pip_requirements: Iterable[str] | None = None,
               metadata: dict[str, Any] | None = None) -> Model:
    """Save a fitted scikit-learn estimator as a model folder at ``path``.

    Example:
        >>> lakeml.sklearn.save_model(LinearRegression().fit(X, y), "/tmp/lr")  # doctest: +SKIP
    """
    import sklearn

    pickler = _pickler(serialization_format)
    predict_fn = getattr(sk_model, pyfunc_predict_fn, None)
    if not callable(predict_fn):
        raise InvalidArgument(f"{type(sk_model).__name__} has no method {pyfunc_predict_fn!r} "
                              "(pyfunc_predict_fn)")

    def write(folder: Path) -> dict[str, Any]:
        try:
            with open(folder / MODEL_FILE, "wb") as out:
                pickler.dump(sk_model, out)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            hint = (" (try serialization_format='cloudpickle')"
                    if serialization_format == "pickle" else "")
            raise InvalidArgument(f"cannot pickle {type(sk_model).__name__}: {exc}{hint}") \
                from exc
        return {"pickled_model": MODEL_FILE, "serialization_format": serialization_format,
                "sklearn_version": str(sklearn.__version__)}

    modules = ["sklearn"] + (["cloudpickle"] if serialization_format == "cloudpickle" else [])
    spec = FlavorSpec(FLAVOR_NAME, "lakeml.sklearn", write, modules,
                      _SklearnWrapper(sk_model, pyfunc_predict_fn).predict, MODEL_FILE,
                      {"predict_fn": pyfunc_predict_fn})
    return save_model_folder(path, spec, signature=signature, input_example=input_example,
                             code_paths=code_paths, pip_requirements=pip_requirements,
                             extra_pip_requirements=extra_pip_requirements, metadata=metadata)


def _read(file: str, conf: dict[str, Any] | None = None) -> Any:
    """The estimator in ``file``: a pickle (lakeml's formats), or a skops file (MLflow 3's
    default for sklearn, read with skops' allow-list of types plus the flavor's
    ``skops_trusted_types``)."""
    conf = conf or {}
    if conf.get("serialization_format") == "skops" or file.endswith(".skops"):
        try:
            import skops.io
        except ImportError as exc:
            raise InvalidArgument(f"the model file {file} is in the skops format (MLflow 3's "
                                  "default for sklearn); install skops to load it "
                                  "(pip install 'lakeml[models]')") from exc
        return skops.io.load(file, trusted=conf.get("skops_trusted_types") or None)
    with open(file, "rb") as fh:
        return pickle.load(fh)  # noqa: S301 - the model's own file


def load_model(model_uri: str | os.PathLike[str]) -> Any:
    """The fitted estimator saved at ``model_uri``.

    Example:
        >>> est = lakeml.sklearn.load_model("runs:/<run_id>/model")   # doctest: +SKIP
    """
    from lakeml.models.pyfunc_model import add_code_path
    from lakeml.models.uri import local_model_path

    folder = local_model_path(model_uri)
    meta = Model.load(folder)
    conf = meta.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidArgument(f"the model at {os.fspath(model_uri)!r} is not an sklearn model; "
                              f"its flavors: {sorted(meta.flavors)}")
    add_code_path(folder, conf)
    if conf.get("serialization_format") == "skops":  # saved by MLflow 3 (its default)
        from lakeml.models.mlflow_format import read_sklearn

        return read_sklearn(folder, conf)
    return _read(str(Path(folder, conf.get("pickled_model", MODEL_FILE))), conf)


# The pyfunc of a fitted estimator (in tabular.py, which MLflow's sklearn folders share).
_SklearnWrapper = EstimatorWrapper


def _load_pyfunc(path: str) -> _SklearnWrapper:
    """The pyfunc of the model file at ``path`` (``MLmodel`` names the predict method)."""
    meta = Model.load(Path(path).parent)
    predict_fn = (meta.flavors.get("python_function") or {}).get("predict_fn", "predict")
    return _SklearnWrapper(_read(path, meta.flavors.get(FLAVOR_NAME)), predict_fn)
