"""``lakeml registry …`` in-process: register, transition, request, approve, alias, audit."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import cli
from tests.registry.conftest import POLICY


def as_json(capsys, *argv: str) -> list[dict]:
    code, out, err = cli(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_registry_commands_end_to_end(capsys, store_uri: str, folder_model: str) -> None:
    s = ("--store", store_uri)
    (mv,) = as_json(capsys, "registry", "register", folder_model, "churn", "--tag", "t=1", *s)
    assert (mv["name"], mv["version"], mv["current_stage"]) == ("churn", 1, "None")
    as_json(capsys, "registry", "register", folder_model, "churn", *s)
    (moved,) = as_json(capsys, "registry", "transition", "churn", "1", "staging", *s)
    assert moved["current_stage"] == "Staging"
    (req,) = as_json(capsys, "registry", "request", "churn", "2", "Production", "--comment",
                     "AUC up", *s)
    assert (req["status"], req["comment"]) == ("PENDING", "AUC up")
    assert [r["version"] for r in as_json(capsys, "registry", "requests", *s)] == [2]
    (done,) = as_json(capsys, "registry", "approve", "churn", "2", "Production", *s)
    assert done["status"] == "APPROVED"
    as_json(capsys, "registry", "alias", "churn", "champion", "2", *s)
    (model,) = as_json(capsys, "registry", "list", *s)
    assert model["aliases"] == "champion:2"
    assert model["latest_versions"] == "Staging:1, Production:2"
    versions = as_json(capsys, "registry", "show", "churn", *s)
    assert [(v["version"], v["current_stage"], v["aliases"]) for v in versions] == [
        (1, "Staging", ""), (2, "Production", "champion")]
    as_json(capsys, "registry", "comment", "churn", "2", "shipped", *s)
    events = as_json(capsys, "registry", "events", "churn", "--limit", "3", *s)
    assert [e["action"] for e in events] == ["comment", "set_alias", "transition_stage"]
    as_json(capsys, "registry", "alias", "churn", "champion", "--delete", *s)
    assert as_json(capsys, "registry", "list", *s)[0]["aliases"] == ""
    # errors: one line, exit 1
    code, _, err = cli(capsys, "registry", "reject", "churn", "1", "Production", *s)
    assert code == 1 and "no pending request to move version 1" in err
    code, _, err = cli(capsys, "registry", "show", "nope", *s)
    assert code == 1 and "registered model 'nope' does not exist" in err


def test_registry_cli_denial(capsys, store_uri: str, folder_model: str, tmp_path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    path = tmp_path / "perm.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    monkeypatch.setenv("LAKEML_PERMISSIONS", str(path))
    monkeypatch.setenv("LAKEML_USER", "rui")
    code, _, err = cli(capsys, "registry", "register", folder_model, "m", "--store", store_uri)
    assert code == 1
    assert "user 'rui' may not register a version of model 'm': needs 'register'" in err
    events = as_json(capsys, "registry", "events", "--store", store_uri)
    assert [(e["user_id"], e["action"], e["outcome"]) for e in events] == [
        ("rui", "create_version", "denied")]
