"""Where logged models meet the model registry: ``models:/`` URIs and registered_model_name."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    from lakeml.registry.entities import ModelVersion
    from lakeml.tracking.client import Client

_VERSION = re.compile(r"^\d+$")


def parse_models_uri(model_uri: str) -> tuple[str, str, str]:
    """(name, kind, ref) of ``models:/<name>/<version|stage|latest>`` or ``models:/<name>@<alias>``.

    ``kind`` is ``version``, ``stage``, ``latest`` or ``alias``.
    """
    from lakeml.registry.entities import canonical_stage

    rest = model_uri[len("models:"):].lstrip("/")
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        if name and alias and "/" not in name:
            return name, "alias", alias
    else:
        name, _, ref = rest.partition("/")
        if name and ref and "/" not in ref:
            if _VERSION.match(ref):
                return name, "version", ref
            if ref.lower() == "latest":
                return name, "latest", ref
            try:
                return name, "stage", canonical_stage(ref)
            except InvalidArgument:
                pass
    raise InvalidArgument(f"model URI {model_uri!r} must look like models:/<name>/<version>, "
                          "models:/<name>/<stage> (None, Staging, Production, Archived), "
                          "models:/<name>/latest or models:/<name>@<alias>")


def resolve_models_uri(model_uri: str, *, client: Client | None = None) -> ModelVersion:
    """The version a ``models:/`` URI names now, in ``client``'s store (by default the
    current store)."""
    from lakeml.errors import NotFound

    name, kind, ref = parse_models_uri(model_uri)
    if client is None:
        from lakeml import config
        from lakeml.tracking.client import Client

        client = Client(config.store_uri())
    if kind == "version":
        return client.get_model_version(name, ref)
    if kind == "alias":
        return client.get_model_version_by_alias(name, ref)
    found = client.get_latest_versions(name, None if kind == "latest" else [ref])
    if not found:
        raise NotFound(f"registered model {name!r} has no version in stage {ref!r}"
                       if kind == "stage" else f"registered model {name!r} has no versions")
    return max(found, key=lambda mv: mv.version)


def registry_artifact_uri(model_uri: str, *, client: Client | None = None) -> str:
    """The storage location of the version that a ``models:/`` URI names (in ``client``'s
    store, by default the current store)."""
    return resolve_models_uri(model_uri, client=client).storage_location


def check_can_register(client: Client, name: str) -> None:
    """Raise before anything is saved unless registering as ``name`` could succeed
    (a bad name, or a denial, which is recorded like any other)."""
    client.require("register", "create_version", name)


def register_logged_model(client: Client, model_uri: str, name: str) -> ModelVersion:
    """Register the model just logged at ``model_uri`` under ``name``."""
    return client.register_model(model_uri, name)
