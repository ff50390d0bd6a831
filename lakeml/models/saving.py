"""What every flavor's ``save_model`` does around writing the model itself.

A flavor says how to write its model file and which pyfunc loader reads it;
:func:`save_model_folder` makes the folder, copies code paths, saves the
input example, infers the signature from it when none is given, captures the
environment and writes the MLmodel descriptor last (a folder with an MLmodel
file is complete).
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from lakeml.errors import AlreadyExists, InvalidArgument, LakemlError
from lakeml.models.descriptor import PYFUNC, Model, folder_size
from lakeml.models.environment import (
    PYTHON_ENV_FILE,
    pickled_modules,
    requirements,
    write_environment,
)
from lakeml.models.input_example import save_input_example
from lakeml.models.signature import ModelSignature, infer_signature

log = logging.getLogger(__name__)

CODE_DIR = "code"


@dataclass
class FlavorSpec:
    """How one flavor saves a model.

    Attributes:
        name: the flavor's key in MLmodel (``sklearn``, ``xgboost``…).
        loader_module: the module whose ``_load_pyfunc(path)`` loads it as pyfunc.
        write: writes the model into the folder; returns the flavor's MLmodel params.
        modules: the modules the model needs at load time (for requirements.txt).
        predict: the in-memory model's pyfunc predict, used to infer the
            signature's outputs from the input example.
        model_path: the file or folder (relative) that ``_load_pyfunc`` is given.
    """

    name: str
    loader_module: str
    write: Callable[[Path], dict[str, Any]]
    modules: Sequence[str]
    predict: Callable[[Any], Any] | None
    model_path: str
    pyfunc_params: dict[str, Any] = field(default_factory=dict)


def prepare_folder(path: str | os.PathLike[str]) -> Path:
    """The empty folder to save a model into; AlreadyExists if it holds files."""
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise AlreadyExists(f"cannot save a model to {os.fspath(path)!r}: it already exists "
                            "and is not an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def copy_code_paths(folder: Path, code_paths: Iterable[str | os.PathLike[str]] | None
                    ) -> str | None:
    """Copy files / packages into ``code/``; returns "code" or None if there were none."""
    paths = list(code_paths or ())
    if not paths:
        return None
    code = folder / CODE_DIR
    code.mkdir()
    for item in paths:
        src = Path(item)
        if not src.exists():
            raise InvalidArgument(f"code path {os.fspath(item)!r} does not exist")
        if src.is_dir():
            shutil.copytree(src, code / src.name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, code / src.name)
    return CODE_DIR


def save_model_folder(path: str | os.PathLike[str], spec: FlavorSpec, *,
                      signature: ModelSignature | bool | None = None, input_example: Any = None,
                      code_paths: Iterable[str | os.PathLike[str]] | None = None,
                      pip_requirements: Iterable[str] | None = None,
                      extra_pip_requirements: Iterable[str] | None = None,
                      metadata: dict[str, Any] | None = None) -> Model:
    """Save a model folder for flavor ``spec``; returns its descriptor."""
    if signature is not None and signature is not False and \
            not isinstance(signature, ModelSignature):
        raise InvalidArgument(f"signature must be a ModelSignature (see "
                              f"lakeml.models.infer_signature) or False (none, not even "
                              f"inferred), got {type(signature).__name__}")
    folder = prepare_folder(path)
    try:
        return _save(folder, spec, signature, input_example, code_paths, pip_requirements,
                     extra_pip_requirements, metadata)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never leave half a model behind
        raise


def _save(folder: Path, spec: FlavorSpec, signature: ModelSignature | bool | None,
          input_example: Any, code_paths: Any, pip_requirements: Any,
          extra_pip_requirements: Any, metadata: dict[str, Any] | None) -> Model:
    code = copy_code_paths(folder, code_paths)
    flavor_params = spec.write(folder)
    model = Model(metadata=dict(metadata) if metadata else None)
    if input_example is not None:
        model.saved_input_example_info = save_input_example(folder, input_example)
        if signature is None:
            signature = _infer_from_example(input_example, spec.predict)
    model.signature = None if signature is False else signature  # False: none, as in MLflow
    model.add_flavor(PYFUNC, loader_module=spec.loader_module, model_path=spec.model_path,
                     code=code, env={"virtualenv": PYTHON_ENV_FILE},
                     python_version=platform.python_version(), **spec.pyfunc_params)
    model.add_flavor(spec.name, code=code, **flavor_params)
    referenced: set[str] = set()
    if pip_requirements is None:
        for pickled in folder.glob("*.pkl"):
            referenced |= pickled_modules(pickled)
    write_environment(folder, requirements(spec.modules, pip_requirements=pip_requirements,
                                           extra_pip_requirements=extra_pip_requirements,
                                           referenced=referenced))
    model.model_size_bytes = folder_size(folder)
    model.save(folder)
    return model


def _infer_from_example(example: Any, predict: Callable[[Any], Any] | None
                        ) -> ModelSignature | None:
    """The signature of ``example`` and of the model's output on it (None if it fails)."""
    from lakeml.models.signature import as_frame_if_tabular

    example = as_frame_if_tabular(example)
    try:
        inputs = infer_signature(example).inputs
    except LakemlError as exc:
        log.warning("no signature inferred from the input example: %s", exc)
        return None
    outputs = None
    if predict is not None:
        try:
            outputs = infer_signature(predict(example)).inputs
        except Exception as exc:  # the model's own error: keep the input half
            log.warning("the model failed on its input example, so the signature has no "
                        "outputs: %s: %s", type(exc).__name__, exc)
    return ModelSignature(inputs, outputs)
