"""Users and permissions of ``lakeml server --auth-file``, over real HTTP on loopback.

One server for the module, with four users (root the admin; alice, bob and carol), the
registry policy of a small team (LAKEML_PERMISSIONS: alice a scientist, bob a reviewer) and
a 1 MB body limit. The checks go through plain HTTP (httpx), the admin CLI, MLflow's own
client, and the store's tables read back with lakeml.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

import lakeml
from lakeml.server.users import AuthFile
from tests.server.conftest import ROOT, Server, settled, start_server

PASSWORDS = {"root": "root-secret-1", "alice": "alice-secret-1", "bob": "bob-secret-1",
             "carol": "carol-secret-1"}
POLICY = """
roles:
  scientist: {register: true, transition: [None, Staging], request: [Production]}
  reviewer: {approve: [Staging, Production]}
users: {alice: [scientist], bob: [reviewer], carol: [scientist]}
"""


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, AuthFile, str]]:
    base = tmp_path_factory.mktemp("auth")
    users = AuthFile(base / "auth.json")
    for name, password in PASSWORDS.items():
        users.add_user(name, password, admin=name == "root")
    token = users.new_token("alice")
    (base / "policy.yaml").write_text(POLICY)
    os.environ["LAKEML_PERMISSIONS"] = str(base / "policy.yaml")
    try:
        running = start_server(base, "--auth-file", str(users.path), "--max-body-mb", "1",
                               "--read-timeout", "2")
        server = running.__enter__()
    finally:
        del os.environ["LAKEML_PERMISSIONS"]  # the server process has its copy
    try:
        yield server, users, token
    finally:
        running.__exit__(None, None, None)


def call(server: Server, method: str, path: str, body: Any = None, *, user: str | None = None,
         token: str | None = None, status: int = 200, **params: Any) -> dict:
    headers = {}
    if user is not None:
        raw = f"{user}:{PASSWORDS[user]}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(raw).decode()}"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    response = httpx.request(method, f"{server.api}/{path}", json=body, headers=headers,
                             params=params or None, timeout=60)
    assert response.status_code == status, response.text
    return response.json()


def denied(server: Server, method: str, path: str, body: Any = None, *, user: str,
           **params: Any) -> str:
    out = call(server, method, path, body, user=user, status=403, **params)
    assert out["error_code"] == "PERMISSION_DENIED"
    return out["message"]


def grant(server: Server, kind: str, key: str, user: str, level: str, *, by: str) -> None:
    field = "experiment_id" if kind == "experiments" else "name"
    call(server, "POST", f"{kind}/permissions/create",
         {field: key, "username": user, "permission": level}, user=by)


def events(server: Server) -> list[dict]:
    rows = lakeml.Client(server.store).sql(
        "SELECT user_id, action, outcome, name, key, value, from_value, to_value, comment "
        "FROM registry_events ORDER BY seq")
    return [dict(zip(rows.columns, row)) for row in rows.fetchall()]


# ---- authentication -------------------------------------------------------------------------
def test_basic_and_bearer_sign_in_and_wrong_credentials_get_401(team) -> None:
    server, users, token = team
    assert httpx.get(f"{server.url}/health").status_code == 200  # open: a load balancer's
    assert httpx.get(f"{server.url}/version").status_code == 401  # as in MLflow
    version = httpx.get(f"{server.url}/version", auth=("alice", PASSWORDS["alice"]))
    assert version.status_code == 200 and version.text == lakeml.__version__
    info = httpx.get(f"{server.url}/api/3.0/mlflow/server-info")  # open, as in MLflow
    assert info.status_code == 200 and info.json()["workspaces_enabled"] is False
    anonymous = httpx.post(f"{server.api}/experiments/search", json={})
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    assert anonymous.headers["www-authenticate"].startswith("Basic")

    assert call(server, "POST", "experiments/search", {}, user="alice")["experiments"]
    assert call(server, "POST", "experiments/search", {}, token=token)["experiments"]

    wrong = [("Basic " + base64.b64encode(b"alice:not-her-password").decode()),
             ("Basic " + base64.b64encode(b"nobody:alice-secret-1").decode()),
             "Basic !!!not-base64", "Bearer " + token[:-2] + "xx", "Bearer lkm_nope_nope",
             "Bearer", "Digest abc", token]  # a bare token, without its scheme
    for header in wrong:
        response = httpx.post(f"{server.api}/experiments/search", json={},
                              headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["error_code"] == "UNAUTHENTICATED", header


def test_the_caller_is_the_runs_user_whatever_the_body_says(team) -> None:
    server, _, token = team
    exp = call(server, "POST", "experiments/create", {"name": "alice-own"}, token=token)
    run = call(server, "POST", "runs/create", {
        "experiment_id": exp["experiment_id"], "user_id": "mallory",
        "tags": [{"key": "mlflow.user", "value": "mallory"}]}, token=token)["run"]
    assert run["info"]["user_id"] == "alice"
    settled(server)  # the server's journal is committed: read the store
    stored = lakeml.Client(server.store).get_run(run["info"]["run_id"])
    assert stored.info.user_id == "alice" and stored.data.tags["mlflow.user"] == "alice"


# ---- experiments --------------------------------------------------------------------------
def test_experiment_permissions_read_edit_manage_and_none(team) -> None:
    server, _, _ = team
    exp_id = call(server, "POST", "experiments/create", {"name": "alice-exp"},
                  user="alice")["experiment_id"]
    run_id = call(server, "POST", "runs/create", {"experiment_id": exp_id},
                  user="alice")["run"]["info"]["run_id"]

    # carol holds the default, READ: she reads but may not write
    assert call(server, "GET", "experiments/get", user="carol",
                experiment_id=exp_id)["experiment"]["name"] == "alice-exp"
    assert call(server, "POST", "runs/search", {"experiment_ids": [exp_id]},
                user="carol")["runs"][0]["info"]["run_id"] == run_id
    message = denied(server, "POST", "runs/create", {"experiment_id": exp_id}, user="carol")
    assert "needs EDIT, has READ" in message and "'carol'" in message
    denied(server, "POST", "runs/log-batch",
           {"run_id": run_id, "params": [{"key": "p", "value": "1"}]}, user="carol")
    # ... nor grant: granting takes MANAGE
    denied(server, "POST", "experiments/permissions/create",
           {"experiment_id": exp_id, "username": "carol", "permission": "MANAGE"},
           user="carol")

    # EDIT: she logs, but may not delete
    grant(server, "experiments", exp_id, "carol", "EDIT", by="alice")
    call(server, "POST", "runs/log-batch", {
        "run_id": run_id, "params": [{"key": "p", "value": "1"}],
        "metrics": [{"key": "m", "value": 0.5, "timestamp": 1, "step": 0}]}, user="carol")
    settled(server)  # the server's journal is committed: read the store
    assert lakeml.Client(server.store).get_run(run_id).data.params == {"p": "1"}
    denied(server, "POST", "runs/delete", {"run_id": run_id}, user="carol")
    denied(server, "POST", "experiments/delete", {"experiment_id": exp_id}, user="carol")

    # MANAGE: she deletes and grants
    grant(server, "experiments", exp_id, "carol", "MANAGE", by="alice")
    call(server, "POST", "runs/delete", {"run_id": run_id}, user="carol")
    grant(server, "experiments", exp_id, "bob", "NO_PERMISSIONS", by="carol")
    assert call(server, "GET", "experiments/permissions/get", user="carol",
                experiment_id=exp_id, username="bob")["experiment_permission"] == {
        "experiment_id": exp_id, "user_id": 3, "permission": "NO_PERMISSIONS"}

    # NO_PERMISSIONS: bob does not see it at all
    denied(server, "GET", "experiments/get", user="bob", experiment_id=exp_id)
    denied(server, "GET", "experiments/get-by-name", user="bob", experiment_name="alice-exp")
    names = [e["name"] for e in call(server, "POST", "experiments/search", {},
                                     user="bob")["experiments"]]
    assert "alice-exp" not in names and "Default" in names
    # the admin passes everywhere
    call(server, "POST", "experiments/delete", {"experiment_id": exp_id}, user="root")


# ---- registered models --------------------------------------------------------------------
def _model_with_version(server: Server, name: str, tmp: Path) -> None:
    (tmp / "MLmodel").write_text("flavors: {}\n")  # a model folder, as far as the registry asks
    call(server, "POST", "registered-models/create", {"name": name}, user="alice")
    call(server, "POST", "model-versions/create", {"name": name, "source": str(tmp)},
         user="alice")


def test_registered_model_permissions(team, tmp_path: Path) -> None:
    server, users, _ = team
    _model_with_version(server, "churn", tmp_path)
    assert users.grants("registered_model", "churn") == {"alice": "MANAGE"}  # the creator

    assert call(server, "GET", "registered-models/get", user="bob",
                name="churn")["registered_model"]["name"] == "churn"
    denied(server, "POST", "registered-models/set-tag",
           {"name": "churn", "key": "k", "value": "v"}, user="bob")
    denied(server, "POST", "registered-models/alias",
           {"name": "churn", "alias": "champion", "version": "1"}, user="bob")

    grant(server, "registered-models", "churn", "carol", "EDIT", by="alice")
    call(server, "POST", "registered-models/set-tag", {"name": "churn", "key": "k",
                                                       "value": "v"}, user="carol")
    denied(server, "DELETE", "registered-models/delete", {"name": "churn"}, user="carol")

    grant(server, "registered-models", "churn", "bob", "NO_PERMISSIONS", by="alice")
    denied(server, "GET", "model-versions/get", user="bob", name="churn", version="1")
    found = call(server, "GET", "registered-models/search", user="bob")["registered_models"]
    assert "churn" not in [m["name"] for m in found]
    found = call(server, "GET", "model-versions/search", user="bob",
                 filter="name = 'churn'")["model_versions"]
    assert found == []

    # a renamed model keeps its grants; a deleted one loses them. Renaming and deleting
    # are for the registry's admins (its policy), and the server's admin is one of them
    assert "needs 'admin'" in denied(server, "POST", "registered-models/rename",
                                     {"name": "churn", "new_name": "churn2"}, user="alice")
    call(server, "POST", "registered-models/rename", {"name": "churn", "new_name": "churn2"},
         user="root")
    assert users.grants("registered_model", "churn2")["carol"] == "EDIT"
    call(server, "DELETE", "registered-models/delete", {"name": "churn2"}, user="root")
    assert users.grants("registered_model", "churn2") == {}


# ---- the registry's review rules, enforced by user ------------------------------------------
def test_review_rules_apply_to_the_authenticated_user(team, tmp_path: Path) -> None:
    server, _, _ = team
    _model_with_version(server, "fraud", tmp_path)
    request = {"name": "fraud", "version": "1", "stage": "Production"}
    # alice may not move it into Production herself, only ask
    denied(server, "POST", "model-versions/transition-stage", request, user="alice")
    made = call(server, "POST", "transition-requests/create", request, user="alice")
    assert made["request"]["requested_by"] == "alice"
    # she may not approve her own request (nor is she a reviewer)
    assert "alice" in denied(server, "POST", "transition-requests/approve", request,
                             user="alice")
    # bob, the reviewer, needs EDIT on the model, which its owner gives
    assert "needs EDIT" in denied(server, "POST", "transition-requests/approve", request,
                                  user="bob")
    grant(server, "registered-models", "fraud", "bob", "EDIT", by="alice")
    done = call(server, "POST", "transition-requests/approve", request, user="bob")
    assert done["request"]["status"] == "APPROVED" and done["request"]["resolved_by"] == "bob"
    version = call(server, "GET", "model-versions/get", user="bob", name="fraud",
                   version="1")["model_version"]
    assert version["current_stage"] == "Production"

    rows = [e for e in events(server) if e["name"] == "fraud"]
    assert {(e["user_id"], e["action"], e["outcome"]) for e in rows} >= {
        ("alice", "create_model", "applied"), ("alice", "transition_stage", "denied"),
        ("alice", "request_transition", "applied"), ("alice", "approve_request", "denied"),
        ("bob", "api_request", "denied"), ("bob", "approve_request", "applied")}


def test_every_denial_is_in_the_audit_log(team) -> None:
    server, _, _ = team
    exp_id = call(server, "POST", "experiments/create", {"name": "audited"},
                  user="alice")["experiment_id"]
    message = denied(server, "POST", "experiments/set-experiment-tag",
                     {"experiment_id": exp_id, "key": "k", "value": "v"}, user="carol")
    denied(server, "POST", "users/create", {"username": "eve", "password": "x" * 10},
           user="carol")
    rows = [e for e in events(server) if e["outcome"] == "denied" and e["user_id"] == "carol"]
    tag = [e for e in rows if e["value"] == f"experiment {exp_id}"]
    assert tag == [{"user_id": "carol", "action": "api_request", "outcome": "denied",
                    "name": None, "key": "POST /experiments/set-experiment-tag",
                    "value": f"experiment {exp_id}", "from_value": "READ",
                    "to_value": "EDIT", "comment": message}]
    assert any(e["key"] == "POST /users/create" and e["value"] == "user eve" for e in rows)
    run_id = call(server, "POST", "runs/create", {"experiment_id": exp_id},
                  user="alice")["run"]["info"]["run_id"]
    denied(server, "POST", "runs/log-metric",
           {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}, user="carol")
    logged = lakeml.Client(server.store).sql(
        "SELECT run_id, value FROM registry_events WHERE key = 'POST /runs/log-metric'")
    assert logged.fetchall() == [(run_id, f"experiment {exp_id}")]


# ---- MLflow's user calls, and no secret anywhere ------------------------------------------
def test_user_calls_and_no_secret_in_responses_or_logs(team) -> None:
    server, users, token = team
    seen = []
    seen.append(call(server, "POST", "users/create",
                     {"username": "dave", "password": "dave-secret-1"}, user="root"))
    assert seen[-1]["user"]["username"] == "dave" and not seen[-1]["user"]["is_admin"]
    exp_id = call(server, "POST", "experiments/create", {"name": "alice-listed"},
                  user="alice")["experiment_id"]
    seen.append(call(server, "GET", "users/get", user="alice", username="alice"))
    assert {"experiment_id": exp_id, "user_id": 2, "permission": "MANAGE"} in seen[-1][
        "user"]["experiment_permissions"]
    denied(server, "GET", "users/get", user="alice", username="bob")
    assert call(server, "GET", "users/current", user="bob")["user"]["username"] == "bob"
    seen.append(call(server, "GET", "users/list", user="root"))
    assert {"root", "alice", "bob", "carol", "dave"} <= {
        u["username"] for u in seen[-1]["users"]}
    denied(server, "GET", "users/list", user="alice")
    call(server, "PATCH", "users/update-password",
         {"username": "dave", "password": "dave-secret-2"}, user="root")
    dave = base64.b64encode(b"dave:dave-secret-2").decode()
    assert httpx.post(f"{server.api}/experiments/search", json={},
                      headers={"Authorization": f"Basic {dave}"}).status_code == 200
    call(server, "DELETE", "users/delete", {"username": "dave"}, user="root")
    assert httpx.post(f"{server.api}/experiments/search", json={},
                      headers={"Authorization": f"Basic {dave}"}).status_code == 401

    data = users.data()
    secrets = [*PASSWORDS.values(), "dave-secret-1", "dave-secret-2", token,
               token.split("_", 2)[2]]
    secrets += [u["password"].split("$")[-1] for u in data["users"].values()]
    secrets += [t["hash"] for u in data["users"].values() for t in u["tokens"].values()]
    text = json.dumps(seen) + server.log.read_text()
    assert [s for s in secrets if s in text] == []
    assert "Traceback" not in server.log.read_text()


# ---- limits -----------------------------------------------------------------------------------
def test_a_body_over_the_limit_gets_413(team) -> None:
    server, _, token = team
    big = json.dumps({"name": "x" * 1_100_000}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    response = httpx.post(f"{server.api}/experiments/create", content=big, headers=headers)
    assert response.status_code == 413
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert "limit" in response.json()["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: caught while it streams in
        for _ in range(12):
            yield b" " * 100_000
    response = httpx.post(f"{server.api}/experiments/create", content=chunks(),
                          headers=headers)
    assert response.status_code == 413 and response.json()["error_code"] == "BAD_REQUEST"


def test_a_body_that_stalls_gets_408(team) -> None:
    import socket
    from urllib.parse import urlsplit

    server, _, token = team
    where = urlsplit(server.url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as sock:
        sock.sendall(b"POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\n"
                     b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + token.encode() + b"\r\n"
                     b"Content-Length: 100\r\n\r\n{\"name\": ")  # ... and nothing more
        answer = b""
        while not answer.rstrip().endswith(b"}"):  # the headers, then the JSON body
            part = sock.recv(65536)
            if not part:
                break
            answer += part
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 408"), answer
    assert '"error_code": "BAD_REQUEST"' in answer and "not received within 2 s" in answer


def test_cors_is_off_unless_origins_are_given(team, server: Server) -> None:
    for running in (team[0], server):
        response = httpx.options(f"{running.api}/experiments/search", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in response.headers


# ---- the admin CLI ----------------------------------------------------------------------------
def lakeml_cli(*args: str, stdin: str = "", code: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "lakeml", "server", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


def test_users_cli_writes_what_the_server_reads(team, tmp_path: Path) -> None:
    server, users, _ = team
    where = ("--auth-file", str(users.path))
    lakeml_cli("users", "add", "erin", "--password-stdin", *where, stdin="erin-secret-1\n")
    failed = lakeml_cli("users", "add", "erin", "--password-stdin", *where,
                        stdin="erin-secret-1\n", code=1)
    assert "already exists" in failed.stderr
    token = lakeml_cli("users", "token", "erin", *where).stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{server.api}/experiments/search", json={},
                      headers=bearer).status_code == 200  # no restart needed

    listed = lakeml_cli("users", "list", "--format", "json", *where).stdout
    erin = [u for u in json.loads(listed) if u["user"] == "erin"][0]
    assert erin["admin"] is False and erin["token ids"] == token.split("_")[1]
    assert token.split("_", 2)[2] not in listed and "scrypt" not in listed

    lakeml_cli("permissions", "set", "experiment", "0", "erin", "EDIT", *where)
    call(server, "POST", "runs/create", {"experiment_id": "0"}, token=token)
    lakeml_cli("permissions", "set", "experiment", "0", "erin", "DEFAULT", *where)
    call(server, "POST", "runs/create", {"experiment_id": "0"}, token=token, status=403)

    lakeml_cli("users", "token", "erin", "--revoke", token.split("_")[1], *where)
    assert httpx.post(f"{server.api}/experiments/search", json={},
                      headers=bearer).status_code == 401
    lakeml_cli("users", "remove", "erin", *where)
    assert users.user("erin") is None
    bad = lakeml_cli("permissions", "set", "model", "m", "alice", "ALL", *where, code=1)
    assert "'ALL' is not one of NO_PERMISSIONS, READ, EDIT, MANAGE" in bad.stderr
    fresh = tmp_path / "new.json"
    lakeml_cli("permissions", "default", "NO_PERMISSIONS", "--auth-file", str(fresh))
    assert AuthFile(fresh).data()["default_permission"] == "NO_PERMISSIONS"
    assert oct(fresh.stat().st_mode & 0o777) == "0o600"


# ---- MLflow's own client ----------------------------------------------------------------------
MLFLOW_SCRIPT = r'''
import json, sys
import mlflow
from mlflow.exceptions import MlflowException

mlflow.set_experiment("mlflow-alice")
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("loss", 0.25)
found = mlflow.search_runs(experiment_names=["mlflow-alice"])
out = {"run_id": run.info.run_id, "found": list(found["run_id"]),
       "user": mlflow.MlflowClient().get_run(run.info.run_id).info.user_id}
try:
    mlflow.MlflowClient().delete_experiment("0")
except MlflowException as exc:
    out["denied"] = exc.error_code
print(json.dumps(out))
'''


@pytest.mark.slow
def test_mlflow_client_with_username_and_password(team) -> None:
    from tests.server.test_mlflow_client import mlflow_python

    server, _, token = team
    python = mlflow_python()
    if python is None:
        message = "no MLflow virtualenv: run `bash benchmarks/setup_mlflow.sh`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MLFLOW_", "LAKEML_", "PYTHONPATH"))}
    env.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_TRACKING_USERNAME="alice",
               MLFLOW_TRACKING_PASSWORD=PASSWORDS["alice"])
    proc = subprocess.run([str(python), "-c", MLFLOW_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log.read_text()[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["found"] == [out["run_id"]] and out["user"] == "alice"
    assert out["denied"] == "PERMISSION_DENIED"
    settled(server)  # the server's journal is committed: read the store
    assert lakeml.Client(server.store).get_run(out["run_id"]).data.params == {"alpha": "0.5"}

    # a wrong password is refused; a token (MLFLOW_TRACKING_TOKEN) works
    env["MLFLOW_TRACKING_PASSWORD"] = "wrong-password"
    proc = subprocess.run([str(python), "-c", MLFLOW_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)
    assert proc.returncode != 0 and "UNAUTHENTICATED" in proc.stderr, proc.stderr
    del env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]
    env["MLFLOW_TRACKING_TOKEN"] = token
    proc = subprocess.run([str(python), "-c", MLFLOW_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["user"] == "alice"


AUTH_CLIENT_SCRIPT = r"""
import json
import mlflow
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

auth = get_app_client("basic-auth", tracking_uri=mlflow.get_tracking_uri())
made = auth.create_user("grace", "grace-secret-1")
auth.update_user_admin("grace", True)
auth.update_user_password("grace", "grace-secret-2")
got = auth.get_user("grace")
out = {"made": [made.username, made.is_admin], "got": [got.username, got.is_admin]}
auth.delete_user("grace")
try:
    auth.get_user("grace")
except MlflowException as exc:
    out["gone"] = exc.error_code
print(json.dumps(out))
"""


@pytest.mark.slow
def test_mlflow_auth_client_manages_users(request: pytest.FixtureRequest) -> None:
    """MLflow's own client of its auth API (mlflow.server.get_app_client("basic-auth")),
    signed in as the admin, against the server's user calls."""
    from tests.server.test_mlflow_client import mlflow_python

    python = mlflow_python()
    check = (None if python is None else subprocess.run(
        [str(python), "-c", "import flask_wtf"], capture_output=True))
    if check is None or check.returncode != 0:
        message = ("no MLflow virtualenv with flask-wtf (MLflow's auth client needs it): run "
                   "`bash benchmarks/setup_mlflow.sh`")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    server = request.getfixturevalue("team")[0]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MLFLOW_", "LAKEML_", "PYTHONPATH"))}
    env.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_TRACKING_USERNAME="root",
               MLFLOW_TRACKING_PASSWORD=PASSWORDS["root"])
    proc = subprocess.run([str(python), "-c", AUTH_CLIENT_SCRIPT], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log.read_text()[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"made": ["grace", False], "got": ["grace", True],
                   "gone": "RESOURCE_DOES_NOT_EXIST"}


AUTH_V3_SCRIPT = r"""
import json, os, sys
import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

passwords = json.loads(sys.argv[1])
def as_user(name, password=None):
    os.environ["MLFLOW_TRACKING_USERNAME"] = name
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password or passwords[name]
def code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except MlflowException as exc:
        return exc.error_code
    return "OK"

auth = get_app_client("basic-auth", tracking_uri=mlflow.get_tracking_uri())
out = {}
as_user("alice")
exp = MlflowClient().create_experiment("v3-permissions")
auth.grant_user_permission("carol", "experiment", exp, "EDIT")
got = auth.get_user_permission("carol", "experiment", exp)
out["carol_edit"] = [got.allowed, got.permission]
out["grant_again"] = code(auth.grant_user_permission, "carol", "experiment", exp, "READ")
as_user("carol")
out["carol_run"] = code(MlflowClient().create_run, exp)
out["carol_grants"] = code(auth.grant_user_permission, "bob", "experiment", exp, "READ")
out["carol_asks_alice"] = code(auth.get_user_permission, "alice", "experiment", exp)
out["carol_asks_self"] = auth.get_user_permission("carol", "experiment", exp).permission
as_user("alice")
auth.revoke_user_permission("carol", "experiment", exp)
got = auth.get_user_permission("carol", "experiment", exp)
out["carol_after_revoke"] = [got.allowed, got.permission]
out["revoke_again"] = code(auth.revoke_user_permission, "carol", "experiment", exp)
MlflowClient().create_registered_model("v3-model")
auth.grant_user_permission("bob", "registered_model", "v3-model", "MANAGE")
got = auth.get_user_permission("bob", "registered_model", "v3-model")
out["bob_model"] = [got.allowed, got.permission]
out["run_type"] = code(auth.grant_user_permission, "bob", "run", "abc", "READ")
out["wildcard"] = code(auth.grant_user_permission, "bob", "experiment", "*", "READ")
out["use_level"] = code(auth.grant_user_permission, "bob", "experiment", exp, "USE")
out["no_user"] = code(auth.grant_user_permission, "nobody", "experiment", exp, "READ")
out["no_experiment"] = code(auth.get_user_permission, "bob", "experiment", "99999")
as_user("root")
got = auth.get_user_permission("root", "experiment", exp)
out["root"] = [got.allowed, got.permission]
out["roles"] = code(auth.create_role, "default", "team")
out["user_roles"] = code(auth.list_user_roles, "bob")
as_user("carol")
out["own_no_current"] = code(auth.update_user_password, "carol", "carol-secret-9")
out["own_wrong_current"] = code(auth.update_user_password, "carol", "carol-secret-9",
                                current_password="wrong")
auth.update_user_password("carol", "carol-secret-9", current_password=passwords["carol"])
as_user("carol", "carol-secret-9")
auth.update_user_password("carol", passwords["carol"], current_password="carol-secret-9")
as_user("root")
out["delete_self"] = code(auth.delete_user, "root")
print(json.dumps(out))
"""


@pytest.mark.slow
def test_mlflow_3_auth_client_grants_revokes_and_checks(request: pytest.FixtureRequest
                                                        ) -> None:
    """MLflow 3.17's AuthServiceClient: its /api/3.0 per-user permission calls, its
    self-service password change, and a clear refusal of what the auth file cannot hold."""
    from tests.server.test_mlflow_client import mlflow_python

    python = mlflow_python()
    check = (None if python is None else subprocess.run(
        [str(python), "-c", "import flask_wtf"], capture_output=True))
    if check is None or check.returncode != 0:
        message = ("no MLflow virtualenv with flask-wtf (MLflow's auth client needs it): run "
                   "`bash benchmarks/setup_mlflow.sh`")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    server, users, _ = request.getfixturevalue("team")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("MLFLOW_", "LAKEML_", "PYTHONPATH"))}
    env["MLFLOW_TRACKING_URI"] = server.url
    proc = subprocess.run([str(python), "-c", AUTH_V3_SCRIPT, json.dumps(PASSWORDS)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr + server.log.read_text()[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {
        "carol_edit": [True, "EDIT"], "grant_again": "RESOURCE_ALREADY_EXISTS",
        "carol_run": "OK", "carol_grants": "PERMISSION_DENIED",
        "carol_asks_alice": "PERMISSION_DENIED", "carol_asks_self": "EDIT",
        "carol_after_revoke": [False, "READ"],
        "revoke_again": "RESOURCE_DOES_NOT_EXIST", "bob_model": [True, "MANAGE"],
        "run_type": "INVALID_PARAMETER_VALUE", "wildcard": "INVALID_PARAMETER_VALUE",
        "use_level": "INVALID_PARAMETER_VALUE", "no_user": "RESOURCE_DOES_NOT_EXIST",
        # alice lacks MANAGE on an unknown id: 403, as on a known one (ids do not leak)
        "no_experiment": "PERMISSION_DENIED", "root": [True, "MANAGE"],
        "roles": "NOT_IMPLEMENTED", "user_roles": "NOT_IMPLEMENTED",
        "own_no_current": "INVALID_PARAMETER_VALUE",
        "own_wrong_current": "INVALID_PARAMETER_VALUE", "delete_self": "BAD_REQUEST"}
    assert users.check_password("carol", PASSWORDS["carol"]) is not None
    exp_id = lakeml.Client(server.store).get_experiment_by_name("v3-permissions").experiment_id
    assert "carol" not in users.grants("experiment", exp_id)
    assert users.grants("registered_model", "v3-model")["bob"] == "MANAGE"
    # the calls MLflow's web UI makes: the caller's own grants, a user's for admins
    v3 = f"{server.url}/api/3.0/mlflow"
    raw = base64.b64encode(f"bob:{PASSWORDS['bob']}".encode()).decode()
    own = httpx.get(f"{v3}/users/current/permissions", timeout=60,
                    headers={"Authorization": f"Basic {raw}"})
    assert own.status_code == 200, own.text
    assert {"role_id": 0, "role_name": f"__user_{users.user('bob').id}__",
            "workspace": "default", "resource_type": "registered_model",
            "resource_pattern": "v3-model", "permission": "MANAGE"} in own.json()["permissions"]
    assert own.json()["is_admin"] is False
    other = httpx.get(f"{v3}/users/permissions/list", params={"username": "alice"},
                      timeout=60, headers={"Authorization": f"Basic {raw}"})
    assert other.status_code == 403 and other.json()["error_code"] == "PERMISSION_DENIED"
    # without MANAGE, an unknown experiment answers as a known one does: ids do not leak
    for experiment_id in (exp_id, "987654"):
        denied = httpx.post(f"{v3}/users/permissions/grant", timeout=60, json={
            "username": "bob", "resource_type": "experiment", "resource_id": experiment_id,
            "permission": "READ"}, headers={"Authorization": f"Basic {raw}"})
        assert denied.status_code == 403, (experiment_id, denied.text)
    root = base64.b64encode(f"root:{PASSWORDS['root']}".encode()).decode()
    unknown = httpx.post(f"{v3}/users/permissions/grant", timeout=60, json={
        "username": "bob", "resource_type": "experiment", "resource_id": "987654",
        "permission": "READ"}, headers={"Authorization": f"Basic {root}"})
    assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_artifact_proxy_and_lakeml_routes_follow_experiment_permissions(team) -> None:
    server, _, _ = team
    exp_id = call(server, "POST", "experiments/create", {"name": "alice-files"},
                  user="alice")["experiment_id"]
    run_id = call(server, "POST", "runs/create", {"experiment_id": exp_id},
                  user="alice")["run"]["info"]["run_id"]
    proxy = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"

    def send(method: str, target: str, user: str, body: bytes | None = None,
             **params: str) -> httpx.Response:
        raw = f"{user}:{PASSWORDS[user]}".encode()
        return httpx.request(method, f"{proxy}/{target}" if target else proxy, content=body,
                             params=params or None, timeout=60, headers={
                                 "Authorization": f"Basic {base64.b64encode(raw).decode()}"})

    target = f"{exp_id}/{run_id}/artifacts/notes.txt"
    assert send("PUT", target, "alice", b"hello").status_code == 200
    assert send("GET", target, "carol").content == b"hello"  # READ by default
    refused = send("PUT", target, "carol", b"overwritten")
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert send("DELETE", target, "carol").status_code == 403
    assert send("GET", "", "carol", path="").status_code == 403  # the root: admins only
    assert send("GET", "", "root", path="").status_code == 200
    assert send("GET", target, "alice").content == b"hello"
    # lakeml's own routes check the same permissions
    lake = f"{server.url}/api/2.0/lakeml"
    raw = base64.b64encode(f"carol:{PASSWORDS['carol']}".encode()).decode()
    carol = {"Authorization": f"Basic {raw}"}
    found = httpx.post(f"{lake}/runs/search", json={"experiment_ids": [exp_id]},
                       headers=carol, timeout=60)
    assert found.status_code == 200 and found.json()["runs"][0]["info"]["run_id"] == run_id
    assert httpx.post(f"{lake}/runs/create", json={"experiment_id": exp_id}, headers=carol,
                      timeout=60).status_code == 403
    assert httpx.post(f"{lake}/sql", json={"query": "SELECT 1"}, headers=carol,
                      timeout=60).status_code == 403  # SQL reads everything: admins only


def test_the_proxy_finds_the_experiment_of_a_custom_artifact_location(team) -> None:
    """A path under an experiment made with its own artifact_location is checked against
    that experiment; when locations nest, the OLDEST experiment holding the path decides,
    so nobody takes over another team's files by making an experiment inside their folder
    (or at an id folder, or at the root); a path under no experiment is for admins."""
    server, _, _ = team
    proxy = f"{server.url}/api/2.0/mlflow-artifacts/artifacts"

    def send(method: str, target: str, user: str, body: bytes | None = None) -> httpx.Response:
        raw = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
        return httpx.request(method, f"{proxy}/{target}", content=body, timeout=60,
                             headers={"Authorization": f"Basic {raw}"})

    def experiment(name: str, location: str, user: str) -> tuple[str, str]:
        exp_id = call(server, "POST", "experiments/create",
                      {"name": name, "artifact_location": location}, user=user
                      )["experiment_id"]
        run = call(server, "POST", "runs/create", {"experiment_id": exp_id}, user=user)
        return exp_id, run["run"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")

    outer, outer_run = experiment("team-churn", "mlflow-artifacts:/team-a/churn", "alice")
    inner, inner_run = experiment("team-churn-bob", "mlflow-artifacts:/team-a/churn/bob",
                                  "bob")
    assert outer_run.startswith("team-a/churn/") and inner_run.startswith("team-a/churn/bob/")
    assert send("PUT", f"{outer_run}/a.txt", "alice", b"alice's").status_code == 200
    assert send("GET", f"{outer_run}/a.txt", "carol").content == b"alice's"  # READ default
    refused = send("PUT", f"{outer_run}/a.txt", "carol", b"carol's")
    assert refused.status_code == 403 and f"experiment {outer!r}" in refused.json()["message"]
    grant(server, "experiments", outer, "carol", "EDIT", by="alice")
    assert send("PUT", f"{outer_run}/a.txt", "carol", b"carol's").status_code == 200
    # bob's experiment lies inside alice's older folder: alice's experiment decides there
    refused = send("PUT", f"{inner_run}/b.txt", "bob", b"bob's")  # MANAGE on inner only
    assert refused.status_code == 403 and f"experiment {outer!r}" in refused.json()["message"]
    assert send("PUT", f"{inner_run}/b.txt", "carol", b"x").status_code == 200  # EDIT: outer
    # no takeover by a newer location around, at the root, or in an id folder
    default_run = call(server, "POST", "runs/create", {"experiment_id": "0"}, user="root")
    default_path = default_run["run"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    assert send("PUT", f"{default_path}/d.txt", "root", b"root's").status_code == 200
    for location in ("mlflow-artifacts:/team-a", "mlflow-artifacts:/",
                     "mlflow-artifacts:/0", f"mlflow-artifacts:/{default_path}"):
        experiment(f"bob at {location}", location, "bob")
        for target in (f"{outer_run}/a.txt", f"{default_path}/d.txt"):
            assert send("PUT", target, "bob", b"bob's").status_code == 403, (location, target)
            assert send("DELETE", target, "bob").status_code == 403, (location, target)
    refused = send("PUT", "no-such-folder/x.txt", "alice", b"x")
    assert refused.status_code == 403 and "under no experiment" in refused.json()["message"]
    assert send("PUT", "no-such-folder/x.txt", "root", b"x").status_code == 200
    refused = send("PUT", "987654/x.txt", "alice", b"x")  # the id folder of no experiment
    assert refused.status_code == 403 and "under no experiment" in refused.json()["message"]
    assert any(e["key"] == "PUT mlflow-artifacts" and e["value"] == f"experiment {outer}"
               for e in events(server))


def test_the_web_uis_data_follows_each_users_permissions(team) -> None:
    # (tests/ui/test_team_api.py checks every UI route; here: the same server's rules)
    server, _, _ = team

    def get(user: str, path: str = "experiments", **params: str) -> httpx.Response:
        raw = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
        return httpx.request("POST" if path == "sql" else "GET",
                             f"{server.url}/ajax-api/lakeml/{path}", timeout=60,
                             params=None if path == "sql" else params,
                             json=params if path == "sql" else None,
                             headers={"Authorization": f"Basic {raw}", "X-Lakeml-UI": "1"})

    assert get("carol").status_code == 200  # READ by default: she sees the experiments
    refused = get("carol", "sql", q="SELECT 1")
    assert refused.status_code == 403 and "only admins" in refused.json()["message"]
    assert get("root").status_code == 200
    assert httpx.get(f"{server.url}/ajax-api/lakeml/experiments", timeout=60,
                     headers={"X-Lakeml-UI": "1"}).status_code == 401
