"""The model registry through lakeml's REST client and a real ``lakeml server``: models,
versions, stages, aliases, tags, search, review (transition requests and comments), the
audit trail, bulk registration and the registry as of a past time."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

import lakeml
from lakeml.errors import AlreadyExists, InvalidArgument, NotFound
from tests.server.conftest import Server
from tests.server.test_rest_client import unique


@pytest.fixture
def rest(server: Server) -> lakeml.Client:
    return lakeml.Client(server.url)


def model_run(rest: lakeml.Client) -> str:
    """A run with a model folder (an MLmodel file) in its artifacts: sent through the
    server's artifact proxy when it has one, else written to its disk (the test's)."""
    run = rest.create_run()
    if run.info.artifact_uri.startswith("mlflow-artifacts:"):
        rest.log_text(run.info.run_id, "flavors: {}\n", "model/MLmodel")
    else:
        folder = Path(run.info.artifact_uri, "model")
        folder.mkdir(parents=True)
        (folder / "MLmodel").write_text("flavors: {}\n")
    return run.info.run_id


def test_models_versions_stages_aliases_and_tags(rest: lakeml.Client) -> None:
    run_id = model_run(rest)
    name = unique("model")
    rm = rest.create_registered_model(name, tags={"team": "ml"}, description="churn")
    assert (rm.name, rm.tags, rm.description) == (name, {"team": "ml"}, "churn")
    with pytest.raises(AlreadyExists, match=name):
        rest.create_registered_model(name)
    v1 = rest.register_model(f"runs:/{run_id}/model", name, tags={"k": "v"})
    assert (v1.version, v1.run_id, v1.tags) == (1, run_id, {"k": "v"})
    assert v1.storage_location.endswith(f"{run_id}/artifacts/model")  # the server's path
    v2 = rest.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id,
                                   description="second")
    assert v2.version == 2 and v2.description == "second"
    assert [v.version for v in rest.list_model_versions(name)] == [1, 2]
    assert rest.get_model_version_download_uri(name, 2) == f"runs:/{run_id}/model"

    rest.transition_model_version_stage(name, 1, "Production")
    staged = rest.transition_model_version_stage(name, "2", "production",
                                                 archive_existing_versions=True)
    assert staged.current_stage == "Production"
    assert rest.get_model_version(name, 1).current_stage == "Archived"
    assert [v.version for v in rest.get_latest_versions(name, ["Production"])] == [2]
    rest.set_registered_model_alias(name, "champion", 2)
    assert rest.get_model_version_by_alias(name, "champion").version == 2
    assert rest.get_registered_model(name).aliases == {"champion": 2}
    rest.delete_registered_model_alias(name, "champion")
    with pytest.raises(NotFound):
        rest.get_model_version_by_alias(name, "champion")

    rest.set_model_version_tag(name, 2, "ok", "yes")
    rest.delete_model_version_tag(name, 2, "ok")
    rest.set_registered_model_tag(name, "tier", "gold")
    rest.delete_registered_model_tag(name, "team")
    assert rest.get_registered_model(name).tags == {"tier": "gold"}
    assert rest.update_model_version(name, 2, "best").description == "best"
    assert rest.update_registered_model(name, "new text").description == "new text"

    found = rest.search_model_versions(f"name = '{name}'", max_results=1,
                                       order_by=["version_number DESC"])
    more = rest.search_model_versions(f"name = '{name}'", max_results=1,
                                      order_by=["version_number DESC"], page_token=found.token)
    assert [v.version for v in found + more] == [2, 1]
    models = rest.search_registered_models(f"name = '{name}' or name = 'absent'")
    assert [m.name for m in models] == [name]

    renamed = rest.rename_registered_model(name, name + "-b")
    assert renamed.name == name + "-b"
    rest.delete_model_version(name + "-b", 1)
    assert [v.version for v in rest.list_model_versions(name + "-b")] == [2]
    rest.delete_registered_model(name + "-b")
    with pytest.raises(NotFound):
        rest.get_registered_model(name + "-b")


def test_transition_requests_comments_and_audit_events(rest: lakeml.Client,
                                                       server: Server) -> None:
    run_id = model_run(rest)
    name = unique("review")
    rest.register_model(f"runs:/{run_id}/model", name)
    rest.register_model(f"runs:/{run_id}/model", name)
    asked = rest.request_transition(name, 1, "Staging", comment="please")
    assert (asked.status, asked.stage, asked.comment) == ("PENDING", "Staging", "please")
    other = rest.request_transition(name, 2, "Production")
    withdrawn = rest.request_transition(name, 2, "Staging")
    pending = rest.get_transition_requests(name)
    assert [r.request_id for r in pending] == [asked.request_id, other.request_id,
                                               withdrawn.request_id]
    approved = rest.approve_transition_request(name, 1, "Staging", comment="ok")
    assert (approved.status, approved.resolution_comment) == ("APPROVED", "ok")
    assert rest.get_model_version(name, 1).current_stage == "Staging"
    assert rest.reject_transition_request(name, 2, "Production").status == "REJECTED"
    assert rest.cancel_transition_request(name, 2, "Staging").status == "CANCELLED"
    assert rest.get_transition_requests(name) == []
    every = rest.get_transition_requests(name, status=None)
    assert sorted(r.status for r in every) == ["APPROVED", "CANCELLED", "REJECTED"]
    assert [r.version for r in rest.get_transition_requests(name, 2, "REJECTED")] == [2]
    with pytest.raises(InvalidArgument, match="'LATER'"):
        rest.get_transition_requests(name, status="LATER")

    note = rest.create_comment(name, 1, "looks good")
    assert note.comment == "looks good" and note.version == 1
    assert [c.comment for c in rest.get_comments(name, 1)] == ["looks good"]

    events = rest.registry.registry_events(name, max_results=100)
    actions = [e["action"] for e in reversed(events)]  # oldest first
    assert [a for a in actions if a in ("request_transition", "approve_request",
                                        "reject_request", "cancel_request")] == [
        "request_transition", "request_transition", "request_transition", "approve_request",
        "reject_request", "cancel_request"]
    assert actions.index("create_model") < actions.index("create_version")
    assert all(e["name"] == name and e["outcome"] for e in events)
    assert events == sorted(events, key=lambda e: -e["seq"])
    answer = httpx.get(f"{server.url}/api/2.0/lakeml/registry/events",
                       params={"name": name, "max_results": 0})
    assert answer.status_code == 400 and "max_results" in answer.json()["message"]


def test_the_registry_as_of_a_past_time(rest: lakeml.Client) -> None:
    run_id = model_run(rest)
    name = unique("past")
    rest.register_model(f"runs:/{run_id}/model", name)
    time.sleep(0.05)
    before = datetime.now(timezone.utc)
    time.sleep(0.05)
    rest.transition_model_version_stage(name, 1, "Production")
    rest.register_model(f"runs:/{run_id}/model", name)
    past = rest.registry_as_of(before)
    assert past.get_model_version(name, 1).current_stage == "None"
    assert [v.version for v in past.list_model_versions(name)] == [1]
    assert past.get_latest_versions(name, ["Production"]) == []
    assert [v.version for v in past.search_model_versions(f"name = '{name}'")] == [1]
    assert past.get_registered_model(name).name == name
    with pytest.raises(InvalidArgument, match="read-only"):
        past.create_registered_model(unique("never"))
    with pytest.raises(InvalidArgument, match="ISO 8601"):
        rest.registry_as_of("yesterday-ish")


def test_bulk_registration_and_permission_checks(rest: lakeml.Client) -> None:
    run_id = model_run(rest)
    name = unique("bulk")
    rest.create_registered_model(name)
    count = rest.register_model_versions([
        {"name": name, "source": f"runs:/{run_id}/model", "stage": "Staging"},
        {"name": name, "source": f"runs:/{run_id}/model", "alias": "next"}])
    assert count == 2
    assert rest.get_model_version_by_alias(name, "next").version == 2
    assert rest.get_model_version(name, 1).current_stage == "Staging"
    rest.require("register", "create_version", name)  # no policy: everyone may
