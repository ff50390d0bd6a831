"""The ``logged_models`` row of an MLflow logged model copied into lakeml (its lineage)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import LakemlError

if TYPE_CHECKING:
    from lakeml.migrate.source import LoggedModelRecord
    from lakeml.store import Store


def _read_mlmodel(folder: str, storage_options: dict[str, str]) -> Any:
    """The Model descriptor in ``folder`` (a local path or URI), or None if it has none."""
    from lakeml.models.descriptor import Model
    from lakeml.uris import MLMODEL

    try:
        if "://" not in folder:
            return Model.load(folder)
        import fsspec.core
        import yaml

        fs, root = fsspec.core.url_to_fs(folder, **storage_options)
        with fs.open(f"{root}/{MLMODEL}", "r") as fh:
            return Model.from_dict(yaml.safe_load(fh))
    except (LakemlError, OSError):
        return None


def logged_model_row(store: Store, model: LoggedModelRecord, folder: str, uri: str
                     ) -> tuple | None:
    """The lineage row of ``model``, now in ``folder`` and named by ``uri`` (None if the
    folder holds no MLmodel: nothing to describe)."""
    from lakeml.models.descriptor import PYFUNC

    meta = _read_mlmodel(folder, store.artifact_storage_options)
    if meta is None:
        return None
    conf = meta.flavors.get(PYFUNC) or {}
    created = (model.creation_time or 0) * 1000
    return store.rows.logged_models(
        model_uuid=model.model_id, run_id=model.source_run_id, artifact_path=model.name,
        flavors=list(meta.flavors), loader_module=conf.get("loader_module"),
        signature=meta.signature.to_json() if meta.signature else None,
        size_bytes=meta.model_size_bytes, uri=uri, artifact_uri=folder,
        lakeml_version=meta.lakeml_version, created_time=created)
