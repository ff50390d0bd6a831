"""Where logged models meet the model registry: ``models:/`` URIs and registered_model_name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.entities.model_version import ModelVersion


def parse_models_uri(model_uri: str) -> tuple[str, str, str]:
    """(name, kind, ref) of ``models:/<name>/<version|stage|latest>`` or ``models:/<name>@<alias>``.

    ``kind`` is ``version``, ``stage``, ``latest`` or ``alias``.
    """
    from lakeml.entities.model_version import canonical_stage
    from lakeml.uris import parse_models_uri as parse

    return parse(model_uri, canonical_stage)


def resolve_models_uri(model_uri: str, *, client: Client | None = None) -> ModelVersion:
    """The version a ``models:/`` URI names now, in ``client``'s store (by default the
    current store)."""
    from lakeml.registry.versions import resolve_models_uri as resolve

    parse_models_uri(model_uri)  # a malformed URI is refused before a store is opened
    if client is None:
        from lakeml import config
        from lakeml.client import Client

        client = Client(config.store_uri())
    return resolve(client, model_uri)


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
