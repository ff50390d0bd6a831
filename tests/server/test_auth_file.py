"""The parts of ``lakeml server --auth-file`` that need no team server: the auth file
itself (password hashes, re-reading), the route rules, CORS and two workers (each with a
server of its own)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import lakeml
from lakeml.errors import InvalidArgument, PermissionDenied
from lakeml.server.users import AuthFile, verify_password
from tests.server.conftest import start_server
from tests.server.test_auth import PASSWORDS, call


def test_cors_with_origins(tmp_path: Path) -> None:
    with start_server(tmp_path, "--cors-origins", "https://ui.example") as running:
        url = f"{running.api}/experiments/search"
        ok = httpx.options(url, headers={"Origin": "https://ui.example",
                                         "Access-Control-Request-Method": "POST"})
        other = httpx.options(url, headers={"Origin": "https://evil.example",
                                            "Access-Control-Request-Method": "POST"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://ui.example"
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.slow
def test_two_workers_see_each_others_grants(tmp_path: Path) -> None:
    """A creator's MANAGE grant, written by the worker that created the experiment, holds
    at once on the other worker (each re-reads the auth file when it changes)."""
    users = AuthFile(tmp_path / "auth.json")
    users.add_user("alice", PASSWORDS["alice"])
    with start_server(tmp_path, "--auth-file", str(users.path), "--workers", "2") as server:
        for i in range(6):  # a new connection each: either worker may answer
            exp_id = call(server, "POST", "experiments/create", {"name": f"w{i}"},
                          user="alice")["experiment_id"]
            call(server, "POST", "runs/create", {"experiment_id": exp_id}, user="alice")
            call(server, "POST", "experiments/permissions/create", {
                "experiment_id": exp_id, "username": "alice", "permission": "READ"},
                user="alice")
            call(server, "POST", "runs/create", {"experiment_id": exp_id}, user="alice",
                 status=403)  # ... and her own downgrade, too


def test_a_rewritten_auth_file_is_read_again_at_once(tmp_path: Path) -> None:
    users = AuthFile(tmp_path / "auth.json")
    users.add_user("alice", PASSWORDS["alice"])
    reader = AuthFile(users.path)  # another process's view
    for level in ("EDIT", "READ", "EDIT", "MANAGE"):  # same sizes, within one clock tick
        users.grant("experiment", "1", "alice", level)
        assert reader.permission("alice", "experiment", "1") == level


# ---- every route says what it needs --------------------------------------------------------
def test_every_route_has_a_permission_rule(tmp_path: Path) -> None:
    """A route without a rule is for admins only under --auth-file: a new route must get
    its rule in lakeml/server/rules.py (this test names the ones that have none)."""
    from lakeml.server.app import PREFIX, build_app
    from lakeml.server.rules import RULES

    app = build_app(lakeml.Client(str(tmp_path / "lake")))
    # (the mlflow-artifacts proxy shares the prefix's text but checks in artifacts.py)
    routes = {(method, route.path[len(PREFIX):]) for route in app.routes
              if route.path.startswith(PREFIX + "/") for method in route.methods - {"HEAD"}}
    assert len(routes) > 50
    assert sorted(routes - set(RULES)) == []


def test_a_route_without_a_rule_is_for_admins_only(tmp_path: Path) -> None:
    from lakeml.server.access import SESSION, Session
    from lakeml.server.rules import guard

    users = AuthFile(tmp_path / "a.json")
    alice, root = users.add_user("alice", "alice-pass"), users.add_user("root", "root-pass",
                                                                         admin=True)
    client = lakeml.Client(str(tmp_path / "lake"))
    handler = guard("POST", "/not-ruled", lambda client, f: {"done": True})
    token = SESSION.set(Session(users, alice))
    try:
        with pytest.raises(PermissionDenied, match="only admins"):
            handler(client, None)
    finally:
        SESSION.reset(token)
    token = SESSION.set(Session(users, root))
    try:
        assert handler(client, None) == {"done": True}
    finally:
        SESSION.reset(token)
    assert handler(client, None) == {"done": True}  # no session: an anonymous server


def test_passwords_are_salted_scrypt_hashes(tmp_path: Path) -> None:
    users = AuthFile(tmp_path / "a.json")
    users.add_user("u1", "same-password")
    users.add_user("u2", "same-password")
    stored = [users.stored_password(u) for u in ("u1", "u2")]
    assert stored[0].startswith("scrypt$") and stored[0] != stored[1]
    assert verify_password("same-password", stored[0])
    assert not verify_password("same-passwore", stored[0])
    assert not verify_password("same-password", None)
    with pytest.raises(InvalidArgument, match="at least 8"):
        users.add_user("u3", "short")
    with pytest.raises(InvalidArgument, match="invalid user name 'a:b'"):
        users.add_user("a:b", "long-enough")
