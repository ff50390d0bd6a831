"""``/api/2.0/mlflow/logged-models/...``: MLflow 3's logged models.

``mlflow.<flavor>.log_model`` creates a logged model (PENDING), uploads the model folder
to its ``artifact_uri`` through the artifact proxy, then finalizes it READY. The
model's state is kept by :mod:`lakeml.models.logged`, which also decides where its
files go: in the source run's artifacts at ``<name>/`` when that is free, where
``lakeml.pyfunc.load_model("runs:/<run_id>/<name>")`` and MLflow's
``runs:/`` URIs both find it.

Routes with the model id in their path are registered through
:func:`lakeml.server.path_fields.path_fields`, which hands the id to the handler as
the field ``model_id`` (and a tag's key as ``tag_key``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.models import logged
from lakeml.server.protocol import key_value_list, page
from lakeml.server.proxy_uris import public, stored

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.models.logged import LoggedModelState
    from lakeml.server.protocol import Fields

#: lakeml's status <-> MLflow's LoggedModelStatus enum (its JSON name and number)
_STATUS_NAMES = {logged.PENDING: "LOGGED_MODEL_PENDING", logged.READY: "LOGGED_MODEL_READY",
                 logged.FAILED: "LOGGED_MODEL_UPLOAD_FAILED"}
_STATUS_OF = {**{name: status for status, name in _STATUS_NAMES.items()},
              1: logged.PENDING, 2: logged.READY, 3: logged.FAILED,
              **{status: status for status in logged.STATUSES}}
SEARCH_PAGE = 100  # MLflow's default page of logged models


def logged_model_json(model: LoggedModelState) -> dict[str, Any]:
    info: dict[str, Any] = {
        "model_id": model.model_id, "experiment_id": model.experiment_id, "name": model.name,
        "creation_timestamp_ms": model.creation_time,
        "last_updated_timestamp_ms": model.last_updated_time,
        "artifact_uri": public(model.artifact_location),
        "status": _STATUS_NAMES[model.status], "tags": key_value_list(model.tags),
    }
    optional = {"model_type": model.model_type, "source_run_id": model.source_run_id,
                "status_message": model.status_message}
    info.update({key: value for key, value in optional.items() if value is not None})
    return {"info": info, "data": {"params": key_value_list(model.params), "metrics": []}}


def version_source(client: Client, source: str) -> str:
    """Where a new model version's files are, for the registry: a logged model's
    (``models:/<model_id>``, what ``log_model(..., registered_model_name=...)`` registers)
    or a proxied location's (``mlflow-artifacts:/...``) real location in the store; any
    other source as it is."""
    from lakeml.models.uri import logged_model_id

    model_id = logged_model_id(source) if isinstance(source, str) else None
    if model_id is not None:
        return logged.get(client, model_id).artifact_location
    return stored(client.store.artifact_root, source)  # type: ignore[return-value]


def _status(value: Any) -> str:
    status = _STATUS_OF.get(value) if isinstance(value, (str, int)) else None
    if status is None:
        raise InvalidArgument(f"status must be one of {list(_STATUS_NAMES.values())}, got "
                              f"{value!r:.80}")
    return status


def _model_id(f: Fields) -> str:
    return f.required_text("model_id")


def create(client: Client, f: Fields) -> dict[str, Any]:
    model = logged.create(
        client, f.required_text("experiment_id"), name=f.text("name"),
        source_run_id=f.text("source_run_id"), model_type=f.text("model_type"),
        tags=dict(f.key_values("tags")), params=dict(f.key_values("params")))
    return {"model": logged_model_json(model)}


def get(client: Client, f: Fields) -> dict[str, Any]:
    return {"model": logged_model_json(logged.get(client, _model_id(f)))}


def finalize(client: Client, f: Fields) -> dict[str, Any]:
    model = logged.finalize(client, _model_id(f), _status(f.required("status")))
    return {"model": logged_model_json(model)}


def delete(client: Client, f: Fields) -> dict[str, Any]:
    logged.delete(client, _model_id(f))
    return {}


def search(client: Client, f: Fields) -> dict[str, Any]:
    experiment_ids = f.many("experiment_ids")
    if not experiment_ids:
        raise InvalidArgument("Missing value for required parameter 'experiment_ids'")
    if f.many("datasets"):
        raise InvalidArgument("searching logged models by dataset metrics is not supported: "
                              "lakeml records no metrics of logged models")
    models = logged.search(client, [str(e) for e in experiment_ids], f.text("filter"),
                           f.many("order_by"))
    shown, token = page(models, f.integer("max_results", SEARCH_PAGE), f.text("page_token"),
                        "logged-models")
    out: dict[str, Any] = {"models": [logged_model_json(m) for m in shown]}
    if token:
        out["next_page_token"] = token
    return out


def set_tags(client: Client, f: Fields) -> dict[str, Any]:
    logged.set_tags(client, _model_id(f), dict(f.key_values("tags")))
    return {}


def delete_tag(client: Client, f: Fields) -> dict[str, Any]:
    logged.delete_tag(client, _model_id(f), f.required_text("tag_key"))
    return {}


def log_params(client: Client, f: Fields) -> dict[str, Any]:
    logged.log_params(client, _model_id(f), dict(f.key_values("params")))
    return {}


#: (method, path under /api/2.0/mlflow, handler, writes)
ROUTES = (
    ("POST", "/logged-models", create, True),
    ("POST", "/logged-models/search", search, False),
    ("GET", "/logged-models/{model_id}", get, False),
    ("PATCH", "/logged-models/{model_id}", finalize, True),
    ("DELETE", "/logged-models/{model_id}", delete, True),
    ("PATCH", "/logged-models/{model_id}/tags", set_tags, True),
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}", delete_tag, True),
    ("POST", "/logged-models/{model_id}/params", log_params, True),
)
