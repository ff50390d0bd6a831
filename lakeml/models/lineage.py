"""Logging a saved model into a run, and its lineage row in ``logged_models``.

The model folder is saved locally, copied under the run's artifacts at
``<name>/``, and one row (run id, path, flavors, signature, size, URI) is
appended to the ``logged_models`` table through the store's batched writer,
so SQL can join models to the runs, params and metrics that produced them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lakeml.artifacts import clean_relative
from lakeml.errors import InvalidArgument, NotFound
from lakeml.models.descriptor import PYFUNC, Model
from lakeml.models.registration import check_can_register, register_logged_model
from lakeml.models.signature import ModelSignature
from lakeml.times import now_us
from lakeml.uris import MLMODEL

if TYPE_CHECKING:
    from lakeml.client import Client


@dataclass(frozen=True)
class ModelInfo:
    """What ``log_model`` returns: where the model went and what it is."""

    artifact_path: str
    flavors: dict[str, Any]
    model_uri: str
    model_uuid: str
    run_id: str
    signature: ModelSignature | None
    utc_time_created: str
    lakeml_version: str | None
    size_bytes: int | None
    artifact_uri: str
    registered_model_version: int | None = None


def log_model(client: Client, run_id: str, name: str, save: Callable[[str], Model], *,
              registered_model_name: str | None = None) -> ModelInfo:
    """Save a model with ``save(folder)`` and log it as ``name`` in run ``run_id``."""
    artifact_path = clean_relative(name, "model name")
    if not artifact_path:
        raise InvalidArgument(f"model name must be a non-empty relative path, got {name!r}")
    client.check_run_writable(run_id)  # fail before saving, not after
    if registered_model_name is not None:
        check_can_register(client, registered_model_name)  # else a retry would log it twice
    with tempfile.TemporaryDirectory(prefix="lakeml-model-") as tmp:
        folder = Path(tmp, "model")
        meta = save(str(folder))
        meta.run_id = run_id
        meta.artifact_path = artifact_path
        meta.save(folder)
        client.log_artifacts(run_id, folder, artifact_path)
    model_uri, artifact_uri = _append_lineage(client, run_id, artifact_path, meta)
    version = None
    if registered_model_name is not None:
        version = register_logged_model(client, model_uri, registered_model_name).version
    return ModelInfo(artifact_path, meta.flavors, model_uri, meta.model_uuid, run_id,
                     meta.signature, meta.utc_time_created, meta.lakeml_version,
                     meta.model_size_bytes, artifact_uri, version)


def _append_lineage(client: Client, run_id: str, artifact_path: str, meta: Model
                    ) -> tuple[str, str]:
    """Buffer the ``logged_models`` row of the model ``meta`` at ``artifact_path`` in run
    ``run_id``; returns its ``runs:/`` URI and its storage URI."""
    model_uri = f"runs:/{run_id}/{artifact_path}"
    artifact_uri = client.get_artifact_uri(run_id, artifact_path)
    conf = meta.flavors.get(PYFUNC) or {}
    client.store.append("logged_models", client.store.rows.logged_models(
        model_uuid=meta.model_uuid, run_id=run_id, artifact_path=artifact_path,
        flavors=list(meta.flavors), loader_module=conf.get("loader_module"),
        signature=meta.signature.to_json() if meta.signature else None,
        size_bytes=meta.model_size_bytes, uri=model_uri, artifact_uri=artifact_uri,
        lakeml_version=meta.lakeml_version, created_time=now_us()))
    return model_uri, artifact_uri


def record_logged_model(client: Client, run_id: str, artifact_path: str, *,
                        meta: Model | None = None, model_uuid: str | None = None) -> None:
    """Record the lineage row of a model another client put in run ``run_id`` at
    ``artifact_path`` (MLflow's client through lakeml server): ``meta`` is its MLmodel, read
    from the run's artifacts when not given (NotFound if there is none there).
    ``model_uuid`` overrides the MLmodel's own (MLflow 3 names a model by its model id)."""
    import yaml

    path = clean_relative(artifact_path, "model artifact path")
    if not path:
        raise InvalidArgument("a logged model's artifact path must not be empty")
    if meta is None:
        import fsspec.core

        uri = client.get_artifact_uri(run_id, f"{path}/{MLMODEL}")
        options = client.store.artifact_storage_options
        try:
            with fsspec.core.open(uri, "r", **options) as fh:
                meta = Model.from_dict(yaml.safe_load(fh.read()))
        except FileNotFoundError:
            raise NotFound(f"run {run_id!r} has no model at {path!r} (no {MLMODEL} file)") \
                from None
    if model_uuid:
        meta.model_uuid = model_uuid
    _append_lineage(client, run_id, path, meta)


def log_model_with(save_model: Callable[..., Any], model: Any, name: str, *,
                   registered_model_name: str | None = None, run_id: str | None = None,
                   **save_kwargs: Any) -> ModelInfo:
    """Log ``model``, saved by a flavor's ``save_model``, into the active run as ``name``.

    The flavors' ``log_model`` functions (``lakeml.sklearn.log_model``…) call
    this; a run is started if none is active, as MLflow does. (It is here, above the
    fluent API, so that fluent needs nothing of models.)
    """
    from lakeml import fluent

    rid = fluent.current_run_id(run_id)
    return log_model(fluent.state.client(), rid, name,
                     lambda path: save_model(model, path, **save_kwargs),
                     registered_model_name=registered_model_name)
