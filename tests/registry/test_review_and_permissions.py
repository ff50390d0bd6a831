"""The review workflow end to end, and permissions from a policy file."""

from __future__ import annotations

import pytest

import lakeml
from lakeml.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from tests.registry.conftest import act_as


def denied_events(client: lakeml.Client) -> list[tuple]:
    return client.sql("SELECT user_id, action, name, version, to_value, comment FROM "
                      "registry_events WHERE outcome = 'denied' ORDER BY seq").fetchall()


def test_request_approve_reject_cancel_without_policy(client: lakeml.Client,
                                                      folder_model: str) -> None:
    for _ in range(2):
        client.register_model(folder_model, "churn")
    req = client.request_transition("churn", 1, "production", comment="AUC 0.91 on holdout")
    assert (req.name, req.version, req.stage, req.status) == ("churn", 1, "Production", "PENDING")
    with pytest.raises(AlreadyExists, match="already pending"):
        client.request_transition("churn", 1, "Production")
    other = client.request_transition("churn", 2, "Staging")
    assert [r.request_id for r in client.get_transition_requests()] == [req.request_id,
                                                                       other.request_id]
    assert [r.version for r in client.get_transition_requests("churn", 2)] == [2]
    # nothing moves until approval
    assert client.get_model_version("churn", 1).current_stage == "None"
    done = client.approve_transition_request("churn", 1, "Production", comment="ship it")
    assert (done.status, done.resolution_comment) == ("APPROVED", "ship it")
    assert client.get_model_version("churn", 1).current_stage == "Production"
    rejected = client.reject_transition_request("churn", 2, "Staging", comment="needs tests")
    assert rejected.status == "REJECTED"
    assert client.get_model_version("churn", 2).current_stage == "None"
    assert client.get_transition_requests() == []
    with pytest.raises(NotFound, match="no pending request"):
        client.approve_transition_request("churn", 2, "Staging")
    again = client.request_transition("churn", 2, "Staging")
    assert client.cancel_transition_request("churn", 2, "Staging").status == "CANCELLED"
    history = client.get_transition_requests("churn", status=None)
    assert [(r.version, r.status) for r in history] == [
        (1, "APPROVED"), (2, "REJECTED"), (2, "CANCELLED")]
    assert history[-1].request_id == again.request_id
    with pytest.raises(InvalidArgument, match="already in Production"):
        client.request_transition("churn", 1, "Production")
    with pytest.raises(InvalidArgument, match="status 'DONE' is not one of"):
        client.get_transition_requests(status="done")
    # the request/approve flow is in SQL too
    rows = client.sql("SELECT version, stage, status, resolved_by FROM transition_requests "
                      "ORDER BY requested_at").fetchall()
    assert [r[:3] for r in rows] == [(1, "Production", "APPROVED"), (2, "Staging", "REJECTED"),
                                     (2, "Staging", "CANCELLED")]


def test_comments(client: lakeml.Client, folder_model: str) -> None:
    client.register_model(folder_model, "churn")
    first = client.create_comment("churn", 1, "drift on feature x?")
    client.create_comment("churn", 1, "checked: fine")
    assert [c.comment for c in client.get_comments("churn", 1)] == ["drift on feature x?",
                                                                    "checked: fine"]
    assert first.name == "churn" and first.version == 1
    with pytest.raises(InvalidArgument, match="comment must be a non-empty string"):
        client.create_comment("churn", 1, "  ")


def test_policy_end_to_end(client: lakeml.Client, folder_model: str, policy,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    act_as(monkeypatch, "ana")  # scientist: register, move to None/Staging, request Production
    client.register_model(folder_model, "churn")
    client.transition_model_version_stage("churn", 1, "Staging")
    with pytest.raises(PermissionDenied, match=r"user 'ana' may not move version 1 of model "
                                               r"'churn': needs 'transition Production'"):
        client.transition_model_version_stage("churn", 1, "Production")
    with pytest.raises(PermissionDenied, match="user 'ana' may not set an alias of model 'churn'"):
        client.set_registered_model_alias("churn", "champion", 1)
    client.request_transition("churn", 1, "Production", comment="please review")
    with pytest.raises(PermissionDenied, match="user 'ana' may not approve the request to move"):
        client.approve_transition_request("churn", 1, "Production")

    act_as(monkeypatch, "mallory")  # not in the file, no default roles: may only read/comment
    with pytest.raises(PermissionDenied, match="user 'mallory' may not register a version of"):
        client.register_model(folder_model, "churn")
    with pytest.raises(PermissionDenied, match="user 'mallory' may not cancel the request"):
        client.cancel_transition_request("churn", 1, "Production")
    assert client.get_model_version("churn", 1).current_stage == "Staging"
    client.create_comment("churn", 1, "lgtm from the outside")

    act_as(monkeypatch, "rui")  # reviewer: approves Production, sets aliases
    with pytest.raises(PermissionDenied, match="user 'rui' may not register a version of"):
        client.register_model(folder_model, "churn")
    client.approve_transition_request("churn", 1, "Production", comment="approved")
    client.set_registered_model_alias("churn", "champion", 1)
    assert client.get_model_version("churn", 1).current_stage == "Production"

    act_as(monkeypatch, "both")  # may request and approve, but not their own request
    client.register_model(folder_model, "churn")
    client.request_transition("churn", 2, "Production")
    with pytest.raises(PermissionDenied, match="it is their own request"):
        client.approve_transition_request("churn", 2, "Production")
    act_as(monkeypatch, "ana")
    with pytest.raises(PermissionDenied, match="may not rename model"):
        client.rename_registered_model("churn", "x")
    act_as(monkeypatch, "root-admin")
    client.approve_transition_request("churn", 2, "Production", archive_existing_versions=True)
    assert client.get_model_version("churn", 1).current_stage == "Archived"

    denied = denied_events(client)
    assert [(d[0], d[1]) for d in denied] == [
        ("ana", "transition_stage"), ("ana", "set_alias"), ("ana", "approve_request"),
        ("mallory", "create_version"), ("mallory", "cancel_request"),
        ("rui", "create_version"), ("both", "approve_request"), ("ana", "rename_model")]
    assert denied[0][2:5] == ("churn", 1, "Production")
    assert "needs 'transition Production'" in denied[0][5]
    # who did what, in order
    applied = client.sql("SELECT user_id, action FROM registry_events WHERE outcome = 'applied' "
                         "AND action IN ('approve_request', 'set_alias') ORDER BY seq").fetchall()
    assert applied == [("rui", "approve_request"), ("rui", "set_alias"),
                       ("root-admin", "approve_request")]


def test_bad_policy_files_are_named(client: lakeml.Client, folder_model: str, tmp_path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.yaml"
    cases = {
        "roles: {r: {fly: true}}": "unknown capability",
        "roles: {r: {transition: [Prod]}}": "stage 'Prod' is not one of",
        "roles: {}\nusers: {ana: [ghost]}": "undefined role",
        "rolez: {}": "unknown key",
    }
    monkeypatch.setenv("LAKEML_PERMISSIONS", str(bad))
    for text, message in cases.items():
        bad.write_text(text)
        with pytest.raises(InvalidArgument, match=message):
            client.register_model(folder_model, "m")
    monkeypatch.setenv("LAKEML_PERMISSIONS", str(tmp_path / "missing.yaml"))
    with pytest.raises(InvalidArgument, match="missing.yaml' .* does not exist"):
        client.register_model(folder_model, "m")


def test_approving_with_archive_needs_transition_archived(
        client: lakeml.Client, folder_model: str, policy,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """archive_existing_versions moves other versions to Archived: a reviewer who may
    approve Production but not move versions to Archived is refused, as on the direct path."""
    act_as(monkeypatch, "root-admin")
    for _ in range(2):
        client.register_model(folder_model, "churn")
    client.transition_model_version_stage("churn", 1, "Production")
    act_as(monkeypatch, "ana")
    client.request_transition("churn", 2, "Production")
    act_as(monkeypatch, "rui")  # reviewer: approve Staging/Production/Archived, no transition
    with pytest.raises(PermissionDenied, match=r"user 'rui' may not move the other Production "
                                               r"versions of model 'churn': needs "
                                               r"'transition Archived'"):
        client.approve_transition_request("churn", 2, "Production",
                                          archive_existing_versions=True)
    assert [(v.version, v.current_stage) for v in client.list_model_versions("churn")] == [
        (1, "Production"), (2, "None")]
    assert client.get_transition_requests("churn", 2)[0].status == "PENDING"
    assert denied_events(client)[-1][:5] == ("rui", "transition_stage", "churn", None,
                                             "Archived")
    client.approve_transition_request("churn", 2, "Production")  # without archiving: allowed
    assert [v.current_stage for v in client.list_model_versions("churn")] == [
        "Production", "Production"]


def test_yaml_1_1_words_as_user_and_role_names(client: lakeml.Client, folder_model: str,
                                              tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML reads plain no/on/null/0123 as booleans, null or numbers: user ``no`` became
    user 'False'. Keys are kept as written; a role name YAML would not read as text is
    refused, naming it."""
    path = tmp_path / "permissions.yaml"
    path.write_text("roles: {admin: {admin: true}, 'off': {register: true}}\n"
                    "users: {no: [admin], on: ['off'], null: [admin], 0123: [admin]}\n")
    monkeypatch.setenv("LAKEML_PERMISSIONS", str(path))
    from lakeml.registry.permissions import current_policy

    assert sorted(current_policy().users) == ["0123", "no", "null", "on"]
    act_as(monkeypatch, "False")  # the name PyYAML made of 'no'
    with pytest.raises(PermissionDenied, match="user 'False' may not register"):
        client.register_model(folder_model, "churn")
    act_as(monkeypatch, "no")
    client.register_model(folder_model, "churn")
    client.delete_registered_model("churn")  # admin
    act_as(monkeypatch, "on")
    client.register_model(folder_model, "churn")
    with pytest.raises(PermissionDenied, match="user 'on' may not delete"):
        client.delete_registered_model("churn")
    path.write_text("roles: {admin: {admin: true}}\nusers: {ana: [no]}\n")
    with pytest.raises(InvalidArgument, match=r"user 'ana' lists role\(s\) \[False\] that YAML "
                                              r"read as booleans"):
        client.register_model(folder_model, "churn")
