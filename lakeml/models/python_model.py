"""Custom models: a ``PythonModel`` subclass with extra artifacts and code.

The instance is saved with cloudpickle (so a class defined in a notebook or
``__main__`` travels with the model); its artifacts (files or folders, local
or any URI) are copied into ``artifacts/``; at load time ``load_context``
receives their local paths.
"""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument, NotSupported

if TYPE_CHECKING:
    from lakeml.models.saving import FlavorSpec

FLAVOR_NAME = "python_model"
LOADER_MODULE = "lakeml.pyfunc"
PICKLE_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"


class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: local paths of the model's artifacts."""

    def __init__(self, artifacts: dict[str, str], model_config: dict[str, Any] | None = None
                 ) -> None:
        self.artifacts = artifacts
        self.model_config = model_config or {}

    def __repr__(self) -> str:
        return f"PythonModelContext(artifacts={self.artifacts!r})"


class PythonModel(abc.ABC):
    """Base class of custom models: override ``predict`` (and ``load_context`` if needed).

    Example:
        >>> class AddN(lakeml.pyfunc.PythonModel):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def predict(self, context, model_input, params=None):
        ...         return model_input + self.n
        >>> lakeml.pyfunc.log_model("add_n", python_model=AddN(2))   # doctest: +SKIP
    """

    def load_context(self, context: PythonModelContext) -> None:  # noqa: B027 - optional hook
        """Called once after loading, with the artifacts' local paths."""

    @abc.abstractmethod
    def predict(self, context: PythonModelContext, model_input: Any,
                params: dict[str, Any] | None = None) -> Any:
        """Score ``model_input`` (already checked against the signature)."""


def _cloudpickle() -> Any:
    try:
        import cloudpickle
    except ImportError:
        raise NotSupported("saving a PythonModel needs cloudpickle: pip install "
                           "'lakeml[models]' (or cloudpickle)") from None
    return cloudpickle


def _copy_artifacts(folder: Path, artifacts: dict[str, str] | None) -> dict[str, str]:
    """Copy each artifact into artifacts/<name>/; returns name -> relative path."""
    if not artifacts:
        return {}
    if not isinstance(artifacts, dict):
        raise InvalidArgument(f"artifacts must be a dict of name -> path or URI, got "
                              f"{type(artifacts).__name__}")
    import fsspec.core

    out: dict[str, str] = {}
    for name, uri in artifacts.items():
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise InvalidArgument(f"artifact name {name!r} must be a plain non-empty name")
        dest_dir = folder / ARTIFACTS_DIR / name
        dest_dir.mkdir(parents=True)
        text = os.fspath(uri)
        if text.startswith("runs:"):
            from lakeml.models.uri import artifact_uri_of

            text = artifact_uri_of(text)
        fs, root = fsspec.core.url_to_fs(text)
        if not fs.exists(root):
            raise InvalidArgument(f"artifact {name!r}: {text!r} does not exist")
        base = os.path.basename(root.rstrip("/"))
        if fs.isdir(root):
            fs.get(root.rstrip("/") + "/", str(dest_dir / base), recursive=True)
        else:
            fs.get_file(root, str(dest_dir / base))
        out[name] = f"{ARTIFACTS_DIR}/{name}/{base}"
    return out


def flavor_spec(python_model: PythonModel, artifacts: dict[str, str] | None,
                model_config: dict[str, Any] | None) -> FlavorSpec:
    """The FlavorSpec that saves ``python_model`` with its artifacts."""
    from lakeml.models.saving import FlavorSpec

    if not isinstance(python_model, PythonModel):
        raise InvalidArgument(f"python_model must be an instance of a lakeml.pyfunc.PythonModel "
                              f"subclass, got {type(python_model).__name__}")
    cloudpickle = _cloudpickle()
    state: dict[str, Any] = {}

    def write(folder: Path) -> dict[str, Any]:
        state["folder"] = folder
        state["artifacts"] = _copy_artifacts(folder, artifacts)
        with open(folder / PICKLE_FILE, "wb") as out:
            cloudpickle.dump(python_model, out)
        return {"python_model": PICKLE_FILE, "artifacts": state["artifacts"],
                "cloudpickle_version": cloudpickle.__version__}

    def predict(example: Any) -> Any:  # runs after write(): the artifacts' local copies
        import pickle

        # A copy from the file just written: load_context on the caller's own object would
        # point it at this save's folder (perhaps a temporary one) and change its state.
        with open(state["folder"] / PICKLE_FILE, "rb") as fh:
            copy = pickle.load(fh)  # noqa: S301 - the file written above
        context = PythonModelContext({k: str(state["folder"] / rel)
                                      for k, rel in state["artifacts"].items()}, model_config)
        copy.load_context(context)
        return copy.predict(context, example)

    return FlavorSpec(FLAVOR_NAME, LOADER_MODULE, write, ["cloudpickle"], predict, "",
                      {"model_config": model_config} if model_config else {})


class _PythonModelWrapper:
    def __init__(self, python_model: PythonModel, context: PythonModelContext) -> None:
        import inspect

        self.raw_model = python_model
        self._context = context
        self._takes_params = "params" in inspect.signature(python_model.predict).parameters

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if self._takes_params:
            return self.raw_model.predict(self._context, data, params=params)
        if params:
            raise InvalidArgument(f"{type(self.raw_model).__name__}.predict takes no params; "
                                  f"got {sorted(params)}")
        return self.raw_model.predict(self._context, data)


def load_python_model(folder: str) -> _PythonModelWrapper:
    """The pyfunc of a saved PythonModel (``lakeml.pyfunc._load_pyfunc``)."""
    import pickle

    from lakeml.models.descriptor import PYFUNC, Model

    meta = Model.load(folder)
    conf = meta.flavors.get(FLAVOR_NAME) or {}
    with open(Path(folder, conf.get("python_model", PICKLE_FILE)), "rb") as fh:
        python_model = pickle.load(fh)  # noqa: S301 - the model's own file
    artifacts = {name: str(Path(folder, rel)) for name, rel in
                 (conf.get("artifacts") or {}).items()}
    context = PythonModelContext(artifacts, meta.flavors[PYFUNC].get("model_config"))
    python_model.load_context(context)
    return _PythonModelWrapper(python_model, context)

