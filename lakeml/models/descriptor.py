"""The MLmodel descriptor: the YAML file at the root of every model folder.

Its fields follow MLflow's MLmodel (``artifact_path``, ``flavors``,
``run_id``, ``utc_time_created``, ``model_uuid``, ``signature``,
``saved_input_example_info``, ``model_size_bytes``) with ``lakeml_version``
in place of ``mlflow_version``.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lakeml.errors import InvalidArgument, NotFound
from lakeml.models.signature import ModelSignature, Schema
from lakeml.uris import MLMODEL

PYFUNC = "python_function"


def _yaml_loader() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Model:
    """What one model folder holds, as read from or written to its MLmodel file."""

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifact_path: str | None = None
    run_id: str | None = None
    utc_time_created: str = field(
        default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"))
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    lakeml_version: str | None = None
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    model_size_bytes: int | None = None
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.lakeml_version is None:
            from lakeml.version import __version__

            self.lakeml_version = __version__

    def add_flavor(self, name: str, **params: Any) -> Model:
        """Record flavor ``name`` with its loading parameters."""
        self.flavors[name] = params
        return self

    @property
    def input_schema(self) -> Schema | None:
        return self.signature.inputs if self.signature else None

    @property
    def output_schema(self) -> Schema | None:
        return self.signature.outputs if self.signature else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.artifact_path is not None:
            out["artifact_path"] = self.artifact_path
        out["flavors"] = self.flavors
        out["lakeml_version"] = self.lakeml_version
        if self.metadata:
            out["metadata"] = self.metadata
        if self.model_size_bytes is not None:
            out["model_size_bytes"] = self.model_size_bytes
        out["model_uuid"] = self.model_uuid
        if self.run_id is not None:
            out["run_id"] = self.run_id
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        out["utc_time_created"] = self.utc_time_created
        return out

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), default_flow_style=False, sort_keys=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the MLmodel file into folder ``path``."""
        Path(path, MLMODEL).write_text(self.to_yaml())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise InvalidArgument("an MLmodel file must be a mapping with a 'flavors' mapping, "
                                  f"got {type(data).__name__}")
        sig = data.get("signature")
        try:
            signature = ModelSignature.from_dict(sig) if sig else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # JSONDecodeError too
            raise InvalidArgument(f"its signature is malformed ({type(exc).__name__}: {exc}); "
                                  "it must hold 'inputs' (and optionally 'outputs' and "
                                  "'params') as JSON text") from None
        return cls(flavors=data["flavors"], artifact_path=data.get("artifact_path"),
                   run_id=data.get("run_id"),
                   utc_time_created=str(data.get("utc_time_created", "")),
                   model_uuid=data.get("model_uuid") or uuid.uuid4().hex,
                   lakeml_version=data.get("lakeml_version") or data.get("mlflow_version"),
                   signature=signature,
                   saved_input_example_info=data.get("saved_input_example_info"),
                   model_size_bytes=data.get("model_size_bytes"),
                   metadata=data.get("metadata"))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Model:
        """Read the MLmodel file of model folder ``path`` (or the file itself)."""
        import yaml

        file = Path(path)
        if file.is_dir():
            file = file / MLMODEL
        if not file.is_file():
            raise NotFound(f"no MLmodel file at {os.fspath(path)!r}: not a lakeml/MLflow model "
                           "folder")
        try:
            data = yaml.load(file.read_text(), Loader=_yaml_loader())  # noqa: S506 - safe loader
        except yaml.YAMLError as exc:
            raise InvalidArgument(f"{file} is not valid YAML: {exc}") from None
        try:
            return cls.from_dict(data)
        except InvalidArgument as exc:
            raise InvalidArgument(f"{file}: {exc}") from None

    def load_input_example(self, path: str | os.PathLike[str]) -> Any:
        """The input example saved in model folder ``path``, or None."""
        from lakeml.models.input_example import load_input_example

        if not self.saved_input_example_info:
            return None
        return load_input_example(Path(path), self.saved_input_example_info)


def folder_size(path: str | os.PathLike[str]) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
