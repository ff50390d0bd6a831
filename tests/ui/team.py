"""A store and an auth file for the UI's tests with users: a team whose registry follows a
review policy, and an experiment and a model that one user may not read.

Users: ``root`` (admin), ``alice`` (a scientist: may request Staging and Production),
``bob`` (a reviewer: approves them), ``carol`` (a scientist who may only READ the model),
``dave`` (the registry policy's admin, READ on the model), ``eve`` (no grant; the default
is NO_PERMISSIONS).
"""

from __future__ import annotations

import base64
from pathlib import Path

PASSWORDS = {"root": "root-secret-1", "alice": "alice-secret-1", "bob": "bob-secret-1",
             "carol": "carol-secret-1", "dave": "dave-secret-1", "eve": "eve-secret-1"}
POLICY = """
roles:
  scientist: {register: true, transition: [None], request: [Staging, Production]}
  reviewer: {approve: [Staging, Production]}
  steward: {admin: true}
users: {alice: [scientist], bob: [reviewer], carol: [scientist], dave: [steward]}
"""
MODEL = "review-model"
SECRET_MODEL = "secret-model"


def basic(user: str) -> str:
    """The Authorization header of ``user``."""
    raw = f"{user}:{PASSWORDS[user]}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def seed_team(base: Path) -> tuple[Path, Path, dict[str, str]]:
    """Fill ``base/lake`` and write ``base/auth.json`` and ``base/policy.yaml``; returns
    the two files and the ids the tests use."""
    import lakeml
    from lakeml.server.users import AuthFile

    client = lakeml.Client(str(base / "lake"))
    shared = client.create_experiment("team-shared")
    secret = client.create_experiment("team-secret")
    run = client.create_run(shared, run_name="shared-run")
    client.log_param(run.info.run_id, "lr", "0.1")
    client.log_metric(run.info.run_id, "acc", 0.9)
    hidden = client.create_run(secret, run_name="secret-run")
    client.set_tag(hidden.info.run_id, "secret", "do-not-show")
    client.log_text(run.info.run_id, "artifact_path: model\nflavors: {}\n", "model/MLmodel")
    client.create_registered_model(MODEL, description="A **team** model")
    for _ in range(2):  # version 1 for the API tests, 2 for the browser's
        client.create_model_version(MODEL, f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id)
    client.create_registered_model(SECRET_MODEL)
    client.flush()
    users = AuthFile(base / "auth.json")
    for name, password in PASSWORDS.items():
        users.add_user(name, password, admin=name == "root")
    users.set_default("NO_PERMISSIONS")
    for name in ("alice", "bob"):
        users.grant("experiment", shared, name, "EDIT")
        users.grant("registered_model", MODEL, name, "EDIT")
    for name in ("carol", "dave"):
        users.grant("registered_model", MODEL, name, "READ")
    (base / "policy.yaml").write_text(POLICY)
    return users.path, base / "policy.yaml", {
        "shared": shared, "secret": secret, "run": run.info.run_id,
        "secret_run": hidden.info.run_id}
