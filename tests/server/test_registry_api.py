"""The model registry over MLflow's REST API 2.0 of ``lakeml server``, over plain HTTP.

A real model is logged into the server's store from this process (lakeml's fluent API on
the same store), then registered, read, staged, aliased, tagged, searched and deleted
over HTTP; what the server acknowledged is read back with lakeml's own Client.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import lakeml
from tests.server.conftest import Server
from tests.server.test_api import get, post, tags_of, unique


def call(server: Server, method: str, path: str, body: Any = None, *, status: int = 200,
         **params: Any) -> dict:
    response = httpx.request(method, f"{server.api}/{path}", json=body,
                             params=params or None, timeout=60)
    assert response.status_code == status, response.text
    return response.json()


def log_model(server: Server) -> tuple[str, str]:
    """A tiny scikit-learn model logged in the server's store: (run_id, source)."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    lakeml.set_store(server.store)
    with lakeml.start_run() as run:
        info = lakeml.sklearn.log_model(model, "model")
    lakeml.flush()
    return run.info.run_id, info.model_uri


@pytest.fixture
def model(server: Server) -> dict[str, Any]:
    """A registered model with one version from a logged run."""
    run_id, source = log_model(server)
    name = unique("model")
    post(server, "registered-models/create", {"name": name})
    mv = post(server, "model-versions/create",
              {"name": name, "source": source, "run_id": run_id})["model_version"]
    return {"name": name, "run_id": run_id, "source": source, "version": mv}


def test_create_and_get_registered_model(server: Server) -> None:
    name = unique("model")
    rm = post(server, "registered-models/create",
              {"name": name, "description": "churn",
               "tags": [{"key": "team", "value": "ml"}]})["registered_model"]
    assert rm["name"] == name and rm["description"] == "churn"
    assert tags_of(rm) == {"team": "ml"}
    assert rm["latest_versions"] == [] and rm["aliases"] == []
    assert isinstance(rm["creation_timestamp"], int)
    again = get(server, "registered-models/get", name=name)["registered_model"]
    assert again == rm
    error = post(server, "registered-models/create", {"name": name}, status=400)
    assert error["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_model_version_from_a_logged_model(server: Server, model: dict[str, Any]) -> None:
    mv, name = model["version"], model["name"]
    assert mv["name"] == name and mv["version"] == "1"
    assert mv["run_id"] == model["run_id"] and mv["source"] == model["source"]
    assert mv["current_stage"] == "None" and mv["status"] == "READY"
    assert mv["run_link"] == f"runs:/{model['run_id']}"
    assert {"creation_timestamp", "last_updated_timestamp", "tags", "aliases"} <= mv.keys()
    assert get(server, "model-versions/get", name=name, version="1")["model_version"] == mv
    uri = get(server, "model-versions/get-download-uri", name=name, version=1)
    assert uri["artifact_uri"]
    rm = get(server, "registered-models/get", name=name)["registered_model"]
    assert [v["version"] for v in rm["latest_versions"]] == ["1"]


def test_update_rename_and_search(server: Server, model: dict[str, Any]) -> None:
    name = model["name"]
    rm = call(server, "PATCH", "registered-models/update",
              {"name": name, "description": "v2"})["registered_model"]
    assert rm["description"] == "v2"
    mv = call(server, "PATCH", "model-versions/update",
              {"name": name, "version": "1", "description": "first"})["model_version"]
    assert mv["description"] == "first"
    found = get(server, "registered-models/search", filter=f"name = '{name}'")
    assert [m["name"] for m in found["registered_models"]] == [name]
    versions = get(server, "model-versions/search", filter=f"name = '{name}'")
    assert [v["version"] for v in versions["model_versions"]] == ["1"]
    new_name = unique("renamed")
    rm = post(server, "registered-models/rename",
              {"name": name, "new_name": new_name})["registered_model"]
    assert rm["name"] == new_name
    assert get(server, "registered-models/get", name=name, status=404)["error_code"] \
        == "RESOURCE_DOES_NOT_EXIST"
    assert get(server, "model-versions/get", name=new_name,
               version="1")["model_version"]["description"] == "first"


def test_search_pages(server: Server) -> None:
    prefix = unique("paged")
    for i in range(3):
        post(server, "registered-models/create", {"name": f"{prefix}-{i}"})
    names, token = [], None
    while True:
        params: dict[str, Any] = {"filter": f"name LIKE '{prefix}-%'", "max_results": 2}
        if token:
            params["page_token"] = token
        page = get(server, "registered-models/search", **params)
        names += [m["name"] for m in page["registered_models"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(names) == [f"{prefix}-{i}" for i in range(3)]


def test_stages_and_latest_versions(server: Server, model: dict[str, Any]) -> None:
    name = model["name"]
    second = post(server, "model-versions/create",
                  {"name": name, "source": model["source"],
                   "run_id": model["run_id"]})["model_version"]
    assert second["version"] == "2"
    mv = post(server, "model-versions/transition-stage",
              {"name": name, "version": "1", "stage": "Production",
               "archive_existing_versions": False})["model_version"]
    assert mv["current_stage"] == "Production"
    post(server, "model-versions/transition-stage",
         {"name": name, "version": "2", "stage": "production",
          "archive_existing_versions": True})
    assert get(server, "model-versions/get", name=name,
               version="1")["model_version"]["current_stage"] == "Archived"
    latest = post(server, "registered-models/get-latest-versions",
                  {"name": name, "stages": ["Production"]})["model_versions"]
    assert [(v["version"], v["current_stage"]) for v in latest] == [("2", "Production")]
    every = post(server, "registered-models/get-latest-versions", {"name": name})
    assert {v["version"] for v in every["model_versions"]} == {"1", "2"}
    error = post(server, "model-versions/transition-stage",
                 {"name": name, "version": "1", "stage": "Shipped"}, status=400)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"


def test_aliases(server: Server, model: dict[str, Any]) -> None:
    name = model["name"]
    post(server, "registered-models/alias", {"name": name, "alias": "champion",
                                             "version": "1"})
    mv = get(server, "registered-models/alias", name=name, alias="champion")["model_version"]
    assert mv["version"] == "1" and mv["aliases"] == ["champion"]
    rm = get(server, "registered-models/get", name=name)["registered_model"]
    assert rm["aliases"] == [{"alias": "champion", "version": "1"}]
    # a DELETE with a JSON body, and one with query parameters
    post(server, "registered-models/alias", {"name": name, "alias": "other", "version": 1})
    call(server, "DELETE", "registered-models/alias", {"name": name, "alias": "champion"})
    call(server, "DELETE", "registered-models/alias", name=name, alias="other")
    assert get(server, "registered-models/get", name=name)["registered_model"]["aliases"] == []
    error = get(server, "registered-models/alias", status=404, name=name, alias="champion")
    assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_tags(server: Server, model: dict[str, Any]) -> None:
    name = model["name"]
    post(server, "registered-models/set-tag", {"name": name, "key": "team", "value": "ml"})
    post(server, "model-versions/set-tag",
         {"name": name, "version": "1", "key": "validated", "value": "yes"})
    assert tags_of(get(server, "registered-models/get", name=name)["registered_model"]) \
        == {"team": "ml"}
    assert tags_of(get(server, "model-versions/get", name=name,
                       version="1")["model_version"]) == {"validated": "yes"}
    call(server, "DELETE", "registered-models/delete-tag", {"name": name, "key": "team"})
    call(server, "DELETE", "model-versions/delete-tag", name=name, version="1",
         key="validated")
    assert tags_of(get(server, "registered-models/get", name=name)["registered_model"]) == {}
    assert tags_of(get(server, "model-versions/get", name=name,
                       version="1")["model_version"]) == {}


def test_delete_version_and_model(server: Server, model: dict[str, Any]) -> None:
    name = model["name"]
    call(server, "DELETE", "model-versions/delete", {"name": name, "version": "1"})
    error = get(server, "model-versions/get", status=404, name=name, version="1")
    assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    call(server, "DELETE", "registered-models/delete", {"name": name})
    error = get(server, "registered-models/get", status=404, name=name)
    assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_errors(server: Server) -> None:
    missing = unique("missing")
    for method, path, body in (
            ("GET", "registered-models/get", None),
            ("POST", "registered-models/get-latest-versions", {"name": missing}),
            ("PATCH", "registered-models/update", {"name": missing, "description": "x"}),
            ("DELETE", "registered-models/delete", {"name": missing}),
            ("POST", "model-versions/create", {"name": missing, "source": "runs:/x/model"}),
            ("GET", "model-versions/get", None)):
        params = {"name": missing, "version": "1"} if body is None else {}
        error = call(server, method, path, body, status=404, **params)
        assert error["error_code"] == "RESOURCE_DOES_NOT_EXIST", (path, error)
    error = post(server, "registered-models/create", {}, status=400)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "'name'" in error["message"]
    error = call(server, "DELETE", "registered-models/delete", status=400)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    response = httpx.post(f"{server.api}/registered-models/update", json={"name": "x"},
                          timeout=60)
    assert response.status_code == 405 and response.json()["error_code"] == "BAD_REQUEST"


def test_read_back_with_lakeml_client(server: Server, model: dict[str, Any]) -> None:
    name = model["name"]
    post(server, "registered-models/alias", {"name": name, "alias": "prod", "version": "1"})
    post(server, "model-versions/transition-stage",
         {"name": name, "version": "1", "stage": "Staging"})
    client = lakeml.Client(server.store)
    mv = client.get_model_version_by_alias(name, "prod")
    assert mv.version == 1 and mv.current_stage == "Staging"
    assert mv.run_id == model["run_id"]
    assert client.get_registered_model(name).aliases == {"prod": 1}


def test_search_with_mlflow_clients_prompt_clause(server: Server) -> None:
    """MLflow 3's client appends ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every
    registered-model search: a model without the tag is still found, a prompt is not."""
    prefix = unique("prompted")
    post(server, "registered-models/create", {"name": f"{prefix}-model"})
    post(server, "registered-models/create",
         {"name": f"{prefix}-prompt",
          "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    found = get(server, "registered-models/search",
                filter=f"name LIKE '{prefix}-%' AND tag.`mlflow.prompt.is_prompt` != 'true'")
    assert [m["name"] for m in found["registered_models"]] == [f"{prefix}-model"]
    found = get(server, "registered-models/search",
                filter="tags.`mlflow.prompt.is_prompt` != 'true'")
    names = {m["name"] for m in found["registered_models"]}
    assert f"{prefix}-model" in names and f"{prefix}-prompt" not in names
