"""The UI's JSON API on a server with users: each route checks the caller's permission as
the REST routes do, lists leave out what the caller may not read, writes take JSON only,
and the registry's review policy applies to the acting user. Real server, real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

import lakeml
from tests.ui.team import MODEL, SECRET_MODEL, basic

UI = "/ajax-api/lakeml"


def ui(server, method: str, path: str, user: str | None, *, status: int = 200,
       body: Any = None, **params: Any) -> dict:
    headers = {"X-Lakeml-UI": "1", **({"Authorization": basic(user)} if user else {})}
    r = httpx.request(method, f"{server.url}{UI}{path}", headers=headers, json=body,
                      params=params or None, timeout=60)
    assert r.status_code == status, r.text
    return r.json()


def test_a_user_sees_only_what_they_may_read(team_server) -> None:
    server, ids = team_server
    names = {e["name"] for e in ui(server, "GET", "/experiments", "eve")["experiments"]}
    assert names == set()
    assert {e["name"] for e in ui(server, "GET", "/experiments", "alice")["experiments"]
            } == {"team-shared"}
    assert "team-secret" in {e["name"] for e in ui(server, "GET", "/experiments",
                                                   "root")["experiments"]}
    assert ui(server, "GET", "/models", "alice")["models"][0]["name"] == MODEL
    assert [m["name"] for m in ui(server, "GET", "/models", "alice")["models"]] == [MODEL]
    assert ui(server, "GET", "/models", "eve")["models"] == []
    # every route that reads one thing checks it
    for path, params in (("/experiment", {"experiment_id": ids["secret"]}),
                         ("/runs", {"experiment_id": ids["secret"]}),
                         ("/keys", {"experiment_id": ids["secret"]}),
                         ("/run", {"run_id": ids["secret_run"]}),
                         ("/artifacts", {"run_id": ids["secret_run"]}),
                         ("/metric-history", {"run_id": ids["secret_run"], "key": "x"}),
                         ("/compare", {"run_id": [ids["run"], ids["secret_run"]]}),
                         ("/compare", {"run_id": [ids["run"]] * 3 + [ids["secret_run"]]}),
                         ("/compare", {"run_id": [ids["run"], "0" * 32, "1" * 32, "2" * 32,
                                                  ids["secret_run"]]}),
                         ("/points", {"run_id": [ids["run"], ids["secret_run"]]}),
                         ("/points", {"experiment_id": ids["secret"]}),
                         ("/groups", {"experiment_id": ids["secret"], "by": "params.lr"}),
                         ("/workflow", {"run_id": ids["secret_run"]}),
                         ("/model-version/events", {"name": MODEL, "version": "1"}),
                         ("/model", {"name": SECRET_MODEL}),
                         ("/model-version", {"name": MODEL, "version": "1"})):
        out = ui(server, "GET", path, "eve", status=403, **params)
        assert out["error_code"] == "PERMISSION_DENIED", path
    assert "do-not-show" not in str(ui(server, "GET", "/run", "alice", status=403,
                                       run_id=ids["secret_run"]))
    # routes with no rule (the SQL box reads every table) are for admins
    assert "only admins" in ui(server, "POST", "/sql", "alice", status=403,
                                body={"q": "SELECT 1"})["message"]
    assert ui(server, "POST", "/sql", "root", body={"q": "SELECT 1 AS one"})["rows"] == [[1]]
    assert ui(server, "GET", "/run", "alice", run_id=ids["run"])["params"] == {"lr": "0.1"}
    # the refusals are in the audit log, with the UI route
    denied = lakeml.Client(server.store).sql(
        "SELECT key FROM registry_events WHERE outcome = 'denied' AND user_id = 'eve'"
    ).fetchall()
    assert ("UI /model",) in denied and ("UI /run",) in denied
    # no credentials: 401 before anything is read
    assert ui(server, "GET", "/experiments", None, status=401)["error_code"] == "UNAUTHENTICATED"


def test_review_request_approve_and_audit_as_two_users(team_server) -> None:
    server, _ = team_server
    who = ui(server, "GET", "/me", "alice")
    assert who == {"user": "alice", "admin": False, "registry_admin": False, "signed_in": True}
    assert ui(server, "GET", "/me", "root") == {"user": "root", "admin": True,
                                                "registry_admin": True, "signed_in": True}
    move = {"name": MODEL, "version": "1", "stage": "Staging"}
    made = ui(server, "POST", "/review/transition", "alice",
              body={**move, "action": "request", "comment": "ready <b>now</b>"})
    assert made["request"]["status"] == "PENDING" and made["request"]["requested_by"] == "alice"
    # alice may request, not approve (the registry's policy); eve may not even look
    own = ui(server, "POST", "/review/transition", "alice", status=403,
             body={**move, "action": "approve"})
    assert "needs 'approve Staging'" in own["message"]
    ui(server, "POST", "/review/transition", "eve", status=403, body={**move, "action": "approve"})
    ui(server, "POST", "/review/comment", "eve", status=403,
       body={"name": MODEL, "version": "1", "comment": "sneaky"})
    done = ui(server, "POST", "/review/transition", "bob",
              body={**move, "action": "approve", "comment": "lgtm"})
    assert done["request"]["status"] == "APPROVED" and done["request"]["resolved_by"] == "bob"
    page = ui(server, "GET", "/model-version", "bob", name=MODEL, version="1")
    assert page["version"]["current_stage"] == "Staging"
    events = ui(server, "GET", "/model-version/events", "alice", name=MODEL, version="1")["events"]
    seen = [(e["user_id"], e["action"], e["outcome"]) for e in events]
    assert ("alice", "request_transition", "applied") in seen
    assert ("bob", "approve_request", "applied") in seen
    assert ("alice", "approve_request", "denied") in seen
    assert seen.index(("bob", "approve_request", "applied")) < seen.index(
        ("alice", "request_transition", "applied"))  # newest first
    # a request cancelled by its author; a bad action named
    ui(server, "POST", "/review/transition", "alice", body={**move, "stage": "Production",
                                                             "action": "request"})
    cancelled = ui(server, "POST", "/review/transition", "alice",
                   body={**move, "stage": "Production", "action": "cancel"})
    assert cancelled["request"]["status"] == "CANCELLED"
    ui(server, "POST", "/review/transition", "alice", body={**move, "stage": "Production",
                                                             "action": "request"})
    rejected = ui(server, "POST", "/review/transition", "bob",
                  body={**move, "stage": "Production", "action": "reject", "comment": "no"})
    assert rejected["request"]["status"] == "REJECTED"
    assert ui(server, "GET", "/model-version", "bob", name=MODEL, version="1"
              )["version"]["current_stage"] == "Staging"  # a rejection moves nothing
    bad = ui(server, "POST", "/review/transition", "alice", status=400,
             body={**move, "action": "promote"})
    assert "'promote'" in bad["message"]
    ui(server, "POST", "/review/comment", "bob", body={"name": MODEL, "version": "1",
                                                      "comment": "thanks"})
    assert ui(server, "GET", "/model-version", "alice", name=MODEL, version="1"
              )["comments"][-1]["comment"] == "thanks"


def test_a_reader_may_cancel_their_own_request_as_over_rest(team_server, monkeypatch) -> None:
    """Cancelling needs READ on the model, as the REST route does; the registry then lets
    only the request's author (or an admin) cancel it."""
    server, _ = team_server
    move = {"name": MODEL, "version": "1", "stage": "Archived"}
    # carol (READ on the model, a scientist in the policy) may not request in the UI...
    ui(server, "POST", "/review/transition", "carol", status=403,
       body={**move, "action": "request"})
    # ...so her request is made on the store, as she would make it with a Client
    monkeypatch.setenv("LAKEML_USER", "carol")
    lakeml.Client(server.store).request_transition(MODEL, 1, "Archived", comment="drop it")
    monkeypatch.setenv("LAKEML_USER", "alice")
    lakeml.Client(server.store).request_transition(MODEL, 1, "Production", comment="alice's")
    theirs = ui(server, "POST", "/review/transition", "carol", status=403,
                body={**move, "stage": "Production", "action": "cancel"})
    assert "needs 'admin'" in theirs["message"]  # the registry's refusal, not the UI's
    mine = ui(server, "POST", "/review/transition", "carol", body={**move, "action": "cancel"})
    assert mine["request"]["status"] == "CANCELLED"
    assert mine["request"]["requested_by"] == "carol"
    # dave holds the policy's admin role: his page shows him Cancel on anyone's request,
    # and the registry lets him
    assert ui(server, "GET", "/me", "dave")["registry_admin"] is True
    assert ui(server, "GET", "/me", "carol")["registry_admin"] is False
    theirs = ui(server, "POST", "/review/transition", "dave",
                body={**move, "stage": "Production", "action": "cancel"})
    assert theirs["request"]["status"] == "CANCELLED"
    assert theirs["request"]["requested_by"] == "alice"


def test_writes_take_json_posts_only(team_server) -> None:
    server, ids = team_server
    url = f"{server.url}{UI}/run/set-tag"
    form = httpx.post(url, data={"run_id": ids["run"], "key": "k", "value": "v"},
                      headers={"Authorization": basic("alice")}, timeout=60)
    assert form.status_code == 415
    plain = httpx.post(url, content=b'{"run_id": "x"}', timeout=60,
                       headers={"Authorization": basic("alice"), "Content-Type": "text/plain"})
    assert plain.status_code == 415
    assert httpx.get(url, params={"run_id": ids["run"], "key": "k", "value": "v"},
                     headers={"Authorization": basic("alice")}, timeout=60).status_code == 405
    tags = lakeml.Client(server.store).get_run(ids["run"]).data.tags
    assert "k" not in tags


def test_tags_experiments_and_descriptions_follow_permissions(team_server) -> None:
    server, ids = team_server
    ui(server, "POST", "/run/set-tag", "alice", body={"run_id": ids["run"], "key": "note",
                                                      "value": "<script>x</script>"})
    assert ui(server, "GET", "/run", "bob", run_id=ids["run"])["tags"]["note"] == \
        "<script>x</script>"
    ui(server, "POST", "/run/delete-tag", "bob", body={"run_id": ids["run"], "key": "note"})
    assert "note" not in ui(server, "GET", "/run", "alice", run_id=ids["run"])["tags"]
    system = ui(server, "POST", "/run/set-tag", "alice", status=400,
                body={"run_id": ids["run"], "key": "mlflow.runName", "value": "x"})
    assert "'mlflow.runName' is a system tag" in system["message"]
    ui(server, "POST", "/run/set-tag", "eve", status=403,
       body={"run_id": ids["secret_run"], "key": "a", "value": "b"})
    # an experiment's creator manages it; others may not touch it
    made = ui(server, "POST", "/experiments/create", "eve", body={"name": "eve's own"})
    eid = made["experiment_id"]
    assert [e["name"] for e in ui(server, "GET", "/experiments", "eve")["experiments"]] == [
        "eve's own"]
    ui(server, "POST", "/experiments/rename", "alice", status=403,
       body={"experiment_id": eid, "name": "taken over"})
    ui(server, "POST", "/experiments/rename", "eve", body={"experiment_id": eid, "name": "eve2"})
    ui(server, "POST", "/experiments/delete", "eve", body={"experiment_id": eid})
    assert ui(server, "GET", "/experiments", "eve")["experiments"] == []
    assert [e["name"] for e in ui(server, "GET", "/experiments", "eve", view="deleted")[
        "experiments"]] == ["eve2"]
    ui(server, "POST", "/experiments/restore", "eve", body={"experiment_id": eid})
    assert lakeml.Client(server.store).get_experiment(eid).lifecycle_stage == "active"
    # descriptions: markdown rendered with raw HTML as text
    out = ui(server, "POST", "/model/description", "alice",
             body={"name": MODEL, "description": "# Card\n\n**bold** <script>alert(1)</script>"
                   " [x](javascript:alert(1))"})
    html = out["description_html"]
    assert "<strong>bold</strong>" in html and "&lt;script&gt;" in html
    assert "<script" not in html and "href=\"javascript" not in html  # the link stays text
    ui(server, "POST", "/model/description", "eve", status=403,
       body={"name": MODEL, "description": "defaced"})
    assert lakeml.Client(server.store).get_registered_model(MODEL).description.startswith(
        "# Card")


def test_the_workflow_list_pages_after_leaving_out_what_a_user_may_not_read(
        team_server) -> None:
    """The newest workflow run is in an experiment alice may not read: her page of one
    still holds the newest she may read (the cut comes after the permission filter)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.server.conftest import ROOT

    server, ids = team_server
    project = Path(__file__).parent / "workflow_project"
    for experiment in ("team-shared", "team-secret"):  # the secret one newest
        proc = subprocess.run([sys.executable, "-m", "lakeml", "workflow", "run", str(project),
                               "-w", "main", "--store", server.store,
                               "--experiment", experiment],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr
    everything = ui(server, "GET", "/workflows", "root")["workflow_runs"]
    assert [w["experiment_id"] for w in everything[:2]] == [ids["secret"], ids["shared"]]
    one = ui(server, "GET", "/workflows", "alice", max_results="1")["workflow_runs"]
    assert [w["workflow_run_id"] for w in one] == [everything[1]["workflow_run_id"]]
    assert ui(server, "GET", "/workflows", "root", max_results="1")["workflow_runs"] == \
        everything[:1]
