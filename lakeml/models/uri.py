"""Model URIs: where a model lives, and a local folder holding it.

Accepted: ``runs:/<run_id>/<path>`` (a run's artifacts in the current store),
``models:/…`` (the registry, see registration.py), ``models:/<model_id>`` (a model
MLflow 3's client logged through lakeml server, see logged.py), a local folder or
``file://`` URI, and any fsspec URI (``s3://…``, ``gs://…``). Remote models
are downloaded once into the model cache (LAKEML_MODEL_CACHE), one folder
per URI, and loaded from there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from lakeml.arguments import path as path_argument
from lakeml.errors import NotFound, StoreUnavailable
from lakeml.models.registration import registry_artifact_uri
from lakeml.uris import MLMODEL, default_layout_model, model_location

if TYPE_CHECKING:
    from lakeml.client import Client


def artifact_uri_of(model_uri: str, *, client: Client | None = None) -> str:
    """The storage URI (a local path or ``scheme://…``) behind ``model_uri``.

    ``runs:/`` and ``models:/`` URIs are looked up in ``client``'s store, by
    default in the current store (``lakeml.set_store``, LAKEML_STORE…).
    """
    def run_location(run_id: str, path: str) -> str:
        if client is None:
            from lakeml import config

            store = config.store_uri()
        else:
            store = client.store_uri
        fast = default_layout_model(store, run_id, path)
        if fast is not None:
            return fast
        if client is not None:
            return client.get_artifact_uri(run_id, path)
        from lakeml.client import Client

        return Client(store).get_artifact_uri(run_id, path)

    def version_location(uri: str) -> str:
        model_id = logged_model_id(uri)
        if model_id is None:
            return registry_artifact_uri(uri, client=client)
        from lakeml.models import logged

        if client is None:
            from lakeml.client import Client

            return logged.get(Client(), model_id).artifact_location
        return logged.get(client, model_id).artifact_location

    return model_location(model_uri, run_location, version_location)


def logged_model_id(model_uri: str) -> str | None:
    """The id in ``models:/<model_id>`` (MLflow 3's URI of a logged model, ``m-`` and hex
    digits), or None for a registry URI (``models:/<name>/<version>``, ``@alias``...)."""
    import re

    match = re.fullmatch(r"models:/+(m-[0-9a-f]{32})/*", model_uri)
    return match.group(1) if match else None


def _cache_root() -> Path:
    from lakeml import config

    configured = config.get("model_cache")
    return Path(configured).expanduser() if configured else \
        Path.home() / ".cache" / "lakeml" / "models"


def local_model_path(model_uri: str | os.PathLike[str]) -> str:
    """A local folder with the model at ``model_uri`` (downloaded first if remote).

    Example:
        >>> local_model_path("runs:/0192f0c2.../model")   # doctest: +SKIP
        '/tmp/lake/artifacts/0/0192f0c2.../artifacts/model'
    """
    model_uri = path_argument(model_uri, "model URI")
    uri = artifact_uri_of(model_uri)
    if "://" not in uri:
        path = Path(uri).expanduser()
        if not (path / MLMODEL).is_file():
            what = "does not exist" if not path.exists() else "has no MLmodel file"
            raise NotFound(f"no model at {model_uri!r}: {path} {what}")
        return str(path.resolve())
    return _download(uri)


def _download(uri: str) -> str:
    import fsspec.core

    target = _cache_root() / hashlib.sha256(uri.encode()).hexdigest()[:32]
    if (target / MLMODEL).is_file():
        return str(target)
    staging: Path | None = None
    try:
        fs, root = fsspec.core.url_to_fs(uri)
        if not fs.exists(f"{root}/{MLMODEL}"):
            raise NotFound(f"no model at {uri!r} (no MLmodel file there)")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
        for file in fs.find(root):
            out = staging / os.path.relpath(file, root)
            out.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(file, str(out))
    except BaseException as exc:
        if staging is not None:  # a half-downloaded model must not pile up in the cache
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, (OSError, ValueError)):
            raise StoreUnavailable(f"cannot download the model at {uri!r}: {exc}") from exc
        raise
    if target.exists() and not (target / MLMODEL).is_file():
        # Left behind by something other than this function (os.replace is atomic), and
        # broken: without MLmodel it is no model, so it gives way to the fresh download.
        shutil.rmtree(target, ignore_errors=True)
    try:
        os.replace(staging, target)  # atomic: concurrent loaders see all or nothing
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    if not (target / MLMODEL).is_file():
        raise StoreUnavailable(f"cannot download the model at {uri!r}: the cache folder "
                               f"{target} exists but holds no MLmodel; remove it")
    return str(target)
