"""``/api/2.0/mlflow/experiments/...``: MLflow's experiment calls (service.proto)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.entities import ViewType
from lakeml.errors import NotFound
from lakeml.server.protocol import experiment_json
from lakeml.server.proxy_uris import stored

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.protocol import Fields


def create(client: Client, f: Fields) -> dict[str, Any]:
    tags = dict(f.key_values("tags"))
    experiment_id = client.create_experiment(
        f.required_text("name"),
        artifact_location=stored(client.store.artifact_root, f.text("artifact_location")),
        tags=tags or None)
    return {"experiment_id": experiment_id}


def get(client: Client, f: Fields) -> dict[str, Any]:
    return {"experiment": experiment_json(client.get_experiment(
        f.required_text("experiment_id")))}


def get_by_name(client: Client, f: Fields) -> dict[str, Any]:
    name = f.required_text("experiment_name")
    exp = client.get_experiment_by_name(name)
    if exp is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment_json(exp)}


def search(client: Client, f: Fields) -> dict[str, Any]:
    page = client.search_experiments(
        view_type=f.get("view_type", ViewType.ACTIVE_ONLY),
        max_results=f.integer("max_results", 1000), filter_string=f.text("filter"),
        order_by=f.many("order_by") or None, page_token=f.text("page_token"))
    out: dict[str, Any] = {"experiments": [experiment_json(exp) for exp in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def update(client: Client, f: Fields) -> dict[str, Any]:
    experiment_id = f.required_text("experiment_id")
    new_name = f.text("new_name")
    if new_name:
        client.rename_experiment(experiment_id, new_name)
    else:
        client.get_experiment(experiment_id)  # an unknown id is still an error
    return {}


def delete(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_experiment(f.required_text("experiment_id"))
    return {}


def restore(client: Client, f: Fields) -> dict[str, Any]:
    client.restore_experiment(f.required_text("experiment_id"))
    return {}


def set_tag(client: Client, f: Fields) -> dict[str, Any]:
    client.set_experiment_tag(f.required_text("experiment_id"), f.required_text("key"),
                              f.get("value", ""))
    return {}


def delete_tag(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_experiment_tag(f.required_text("experiment_id"), f.required_text("key"))
    return {}


#: (method, path under /api/2.0/mlflow, handler, writes)
ROUTES = (
    ("POST", "/experiments/create", create, True),
    ("GET", "/experiments/get", get, False),
    ("GET", "/experiments/get-by-name", get_by_name, False),
    ("POST", "/experiments/search", search, False),
    ("GET", "/experiments/search", search, False),
    ("POST", "/experiments/update", update, True),
    ("POST", "/experiments/delete", delete, True),
    ("POST", "/experiments/restore", restore, True),
    ("POST", "/experiments/set-experiment-tag", set_tag, True),
    ("POST", "/experiments/delete-experiment-tag", delete_tag, True),
)
