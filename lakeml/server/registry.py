"""``/api/2.0/mlflow/registered-models/...`` and ``model-versions/...``: MLflow's model
registry calls (model_registry.proto), over the Client's registry methods.

Versions go out as strings, as MLflow writes them; they come in as strings or numbers.
Updates are PATCH and deletes DELETE, as in MLflow; a DELETE carries its fields in a JSON
body or in query parameters (MLflow's clients send either).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lakeml import arguments
from lakeml.errors import InvalidArgument
from lakeml.server.logged_models import version_source
from lakeml.server.protocol import key_value_list
from lakeml.server.proxy_uris import public

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.entities import ModelVersion, RegisteredModel
    from lakeml.server.protocol import Fields


# ---- entities as MLflow's JSON -------------------------------------------------------------
def model_version_json(mv: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": mv.name, "version": str(mv.version),
        "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp,
        "current_stage": mv.current_stage, "source": public(mv.source), "status": mv.status,
        "tags": key_value_list(mv.tags), "aliases": list(mv.aliases),
    }
    optional = {"description": mv.description, "user_id": mv.user_id, "run_id": mv.run_id,
                "status_message": mv.status_message, "run_link": mv.run_link}
    out.update({key: value for key, value in optional.items() if value is not None})
    return out


def registered_model_json(rm: RegisteredModel) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": rm.name, "creation_timestamp": rm.creation_timestamp,
        "last_updated_timestamp": rm.last_updated_timestamp,
        "latest_versions": [model_version_json(mv) for mv in rm.latest_versions],
        "tags": key_value_list(rm.tags),
        "aliases": [{"alias": alias, "version": str(version)}
                    for alias, version in rm.aliases.items()],
    }
    if rm.description is not None:
        out["description"] = rm.description
    return out


def version_field(f: Fields) -> Any:
    """The request's ``version``: a number or its text (InvalidArgument otherwise)."""
    version = f.required("version")
    if isinstance(version, bool) or not isinstance(version, (str, int)):
        raise InvalidArgument(f"parameter 'version' must be a version number, got "
                              f"{version!r:.80}")
    return version


def flag_field(f: Fields, name: str) -> bool:
    """A boolean field, sent as JSON true/false or as text ("true", "false", any case);
    anything else is InvalidArgument naming it (lakeml.arguments.flag)."""
    return arguments.flag(f.get(name), name)


def _paged(key: str, items: Any, to_json: Any) -> dict[str, Any]:
    out: dict[str, Any] = {key: [to_json(item) for item in items]}
    if items.token:
        out["next_page_token"] = items.token
    return out


# ---- registered models ---------------------------------------------------------------------
def create_model(client: Client, f: Fields) -> dict[str, Any]:
    tags = dict(f.key_values("tags"))
    rm = client.create_registered_model(f.required_text("name"), tags=tags or None,
                                        description=f.text("description"))
    return {"registered_model": registered_model_json(rm)}


def get_model(client: Client, f: Fields) -> dict[str, Any]:
    return {"registered_model": registered_model_json(
        client.get_registered_model(f.required_text("name")))}


def rename_model(client: Client, f: Fields) -> dict[str, Any]:
    rm = client.rename_registered_model(f.required_text("name"), f.required_text("new_name"))
    return {"registered_model": registered_model_json(rm)}


def update_model(client: Client, f: Fields) -> dict[str, Any]:
    rm = client.update_registered_model(f.required_text("name"), f.text("description"))
    return {"registered_model": registered_model_json(rm)}


def delete_model(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_registered_model(f.required_text("name"))
    return {}


#: What MLflow 3's client appends to every registered-model search to leave prompts out.
#: MLflow's stores read it as "not tagged a prompt", so it keeps every model without the
#: tag; lakeml's ``!=`` keeps only models that have the tag. The server takes the clause
#: off and drops the prompts from the page itself (a page may then come out short).
_NOT_PROMPT = re.compile(
    r"^(?:(?P<rest>.*\S)\s+AND\s+)?tags?\.(?:`mlflow\.prompt\.is_prompt`|"
    r"mlflow\.prompt\.is_prompt)\s*!=\s*'true'\s*$", re.IGNORECASE | re.DOTALL)
PROMPT_TAG = "mlflow.prompt.is_prompt"


def search_models(client: Client, f: Fields) -> dict[str, Any]:
    filter_string = f.text("filter")
    not_prompt = _NOT_PROMPT.match(filter_string or "")
    if not_prompt:
        filter_string = not_prompt.group("rest")
    found = client.search_registered_models(
        filter_string=filter_string, max_results=f.integer("max_results", 100),
        order_by=f.many("order_by") or None, page_token=f.text("page_token"))
    out = _paged("registered_models", found, registered_model_json)
    if not_prompt:
        out["registered_models"] = [
            rm for rm in out["registered_models"]
            if all(t["key"] != PROMPT_TAG or t["value"] != "true" for t in rm["tags"])]
    return out


def latest_versions(client: Client, f: Fields) -> dict[str, Any]:
    versions = client.get_latest_versions(f.required_text("name"),
                                          stages=f.many("stages") or None)
    return {"model_versions": [model_version_json(mv) for mv in versions]}


def set_model_tag(client: Client, f: Fields) -> dict[str, Any]:
    client.set_registered_model_tag(f.required_text("name"), f.required_text("key"),
                                    f.get("value", ""))
    return {}


def delete_model_tag(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_registered_model_tag(f.required_text("name"), f.required_text("key"))
    return {}


def set_alias(client: Client, f: Fields) -> dict[str, Any]:
    client.set_registered_model_alias(f.required_text("name"), f.required_text("alias"),
                                      version_field(f))
    return {}


def delete_alias(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_registered_model_alias(f.required_text("name"), f.required_text("alias"))
    return {}


def get_by_alias(client: Client, f: Fields) -> dict[str, Any]:
    mv = client.get_model_version_by_alias(f.required_text("name"), f.required_text("alias"))
    return {"model_version": model_version_json(mv)}


# ---- model versions ------------------------------------------------------------------------
def create_version(client: Client, f: Fields) -> dict[str, Any]:
    tags = dict(f.key_values("tags"))
    mv = client.create_model_version(
        f.required_text("name"),
        version_source(client, f.required_text("source")), run_id=f.text("run_id"),
        tags=tags or None, description=f.text("description"))
    return {"model_version": model_version_json(mv)}


def get_version(client: Client, f: Fields) -> dict[str, Any]:
    return {"model_version": model_version_json(
        client.get_model_version(f.required_text("name"), version_field(f)))}


def update_version(client: Client, f: Fields) -> dict[str, Any]:
    mv = client.update_model_version(f.required_text("name"), version_field(f),
                                     f.text("description"))
    return {"model_version": model_version_json(mv)}


def delete_version(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_model_version(f.required_text("name"), version_field(f))
    return {}


def search_versions(client: Client, f: Fields) -> dict[str, Any]:
    found = client.search_model_versions(
        filter_string=f.text("filter"), max_results=f.integer("max_results", 10_000),
        order_by=f.many("order_by") or None, page_token=f.text("page_token"))
    return _paged("model_versions", found, model_version_json)


def transition_stage(client: Client, f: Fields) -> dict[str, Any]:
    mv = client.transition_model_version_stage(
        f.required_text("name"), version_field(f), f.required_text("stage"),
        archive_existing_versions=flag_field(f, "archive_existing_versions"),
        comment=f.text("comment"))
    return {"model_version": model_version_json(mv)}


def set_version_tag(client: Client, f: Fields) -> dict[str, Any]:
    client.set_model_version_tag(f.required_text("name"), version_field(f),
                                 f.required_text("key"), f.get("value", ""))
    return {}


def delete_version_tag(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_model_version_tag(f.required_text("name"), version_field(f),
                                    f.required_text("key"))
    return {}


def download_uri(client: Client, f: Fields) -> dict[str, Any]:
    uri = client.get_model_version_download_uri(f.required_text("name"), version_field(f))
    return {"artifact_uri": public(uri)}


#: (method, path under /api/2.0/mlflow, handler, writes)
ROUTES = (
    ("POST", "/registered-models/create", create_model, True),
    ("GET", "/registered-models/get", get_model, False),
    ("POST", "/registered-models/rename", rename_model, True),
    ("PATCH", "/registered-models/update", update_model, True),
    ("DELETE", "/registered-models/delete", delete_model, True),
    ("GET", "/registered-models/search", search_models, False),
    ("POST", "/registered-models/get-latest-versions", latest_versions, False),
    ("GET", "/registered-models/get-latest-versions", latest_versions, False),
    ("POST", "/registered-models/set-tag", set_model_tag, True),
    ("DELETE", "/registered-models/delete-tag", delete_model_tag, True),
    ("POST", "/registered-models/alias", set_alias, True),
    ("DELETE", "/registered-models/alias", delete_alias, True),
    ("GET", "/registered-models/alias", get_by_alias, False),
    ("POST", "/model-versions/create", create_version, True),
    ("GET", "/model-versions/get", get_version, False),
    ("PATCH", "/model-versions/update", update_version, True),
    ("DELETE", "/model-versions/delete", delete_version, True),
    ("GET", "/model-versions/search", search_versions, False),
    ("POST", "/model-versions/transition-stage", transition_stage, True),
    ("POST", "/model-versions/set-tag", set_version_tag, True),
    ("DELETE", "/model-versions/delete-tag", delete_version_tag, True),
    ("GET", "/model-versions/get-download-uri", download_uri, False),
)
