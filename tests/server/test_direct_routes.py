"""MLflow's plain routes go straight from the gate to their endpoint (app.py's
DirectRoutes), with the answers the framework's router gives; other requests still go
through the router."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.routing import Router

import lakeml

API = "/api/2.0/mlflow"


class Calls:
    """Blocking calls into the app in process (httpx's ASGI transport)."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://127.0.0.1") as client:
                return await client.request(method, path, **kwargs)
        return asyncio.run(call())

    def get(self, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        return self._call("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:  # noqa: ANN003
        return self._call("POST", path, **kwargs)


@pytest.fixture()
def client_and_routed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from lakeml.server.app import build_app

    routed: list[str] = []
    through = Router.__call__

    async def counting(self, scope, receive, send):  # noqa: ANN001, ANN202
        routed.append(f"{scope['method']} {scope['path']}")
        await through(self, scope, receive, send)

    monkeypatch.setattr(Router, "__call__", counting)
    yield Calls(build_app(lakeml.Client(str(tmp_path / "lake")))), routed


def test_mlflow_calls_skip_the_router_with_the_same_answers(client_and_routed) -> None:
    client, routed = client_and_routed
    created = client.post(f"{API}/experiments/create", json={"name": "direct"})
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    got = client.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
    assert got.json()["experiment"]["name"] == "direct"
    run = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id}).json()
    run_id = run["run"]["info"]["run_id"]
    logged = client.post(f"{API}/runs/log-batch", json={
        "run_id": run_id, "params": [{"key": "lr", "value": "0.1"}],
        "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}]})
    assert logged.status_code == 200 and logged.json() == {}
    read = client.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    assert read["data"]["params"] == [{"key": "lr", "value": "0.1"}]
    # errors keep MLflow's shape and status
    missing = client.get(f"{API}/runs/get")
    assert missing.status_code == 400 and missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    unknown = client.get(f"{API}/runs/get", params={"run_id": "f" * 32})
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert routed == []


def test_other_requests_still_go_through_the_router(client_and_routed) -> None:
    client, routed = client_and_routed
    assert client.get("/health").json() == {"status": "OK"}
    wrong_method = client.get(f"{API}/experiments/create")  # a POST route
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error_code"] == "BAD_REQUEST"
    nowhere = client.post(f"{API}/no-such-call", json={})
    assert nowhere.status_code == 404 and nowhere.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert routed == ["GET /health", f"GET {API}/experiments/create",
                      f"POST {API}/no-such-call"]


def test_the_front_door_takes_direct_routes_past_the_framework_not_past_the_gate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's app (FrontDoor) sends MLflow's plain routes through the app's own
    middleware (allowed hosts, the gate and its users) to their endpoint, without the
    framework's outer layers; everything else goes through the framework as before."""
    from fastapi import FastAPI

    from lakeml.server.app import FrontDoor, build_app
    from lakeml.server.users import AuthFile

    users = AuthFile(tmp_path / "auth.json")
    users.add_user("alice", "alice-pass", admin=True)
    monkeypatch.setenv("LAKEML_SERVER_AUTH_FILE", str(tmp_path / "auth.json"))
    framework: list[str] = []
    through = FastAPI.__call__

    async def counting(self, scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] == "http":
            framework.append(f"{scope['method']} {scope['path']}")
        await through(self, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", counting)
    client = Calls(FrontDoor(build_app(lakeml.Client(str(tmp_path / "lake")))))
    alice = {"auth": ("alice", "alice-pass")}
    created = client.post(f"{API}/experiments/create", json={"name": "front"}, **alice)
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    run = client.post(f"{API}/runs/create", json={"experiment_id": experiment_id}, **alice)
    run_id = run.json()["run"]["info"]["run_id"]
    assert client.post(f"{API}/runs/log-batch", json={
        "run_id": run_id, "metrics": [{"key": "loss", "value": 0.5, "timestamp": 1,
                                       "step": 0}]}, **alice).json() == {}
    # the gate and the allowed hosts still stand in front of them
    anonymous = client.post(f"{API}/runs/log-batch", json={"run_id": run_id})
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "UNAUTHENTICATED"
    forged = client.post(f"{API}/runs/log-batch", json={"run_id": run_id},
                         headers={"host": "evil.example"}, **alice)
    assert forged.status_code == 403
    # errors keep MLflow's shape
    unknown = client.get(f"{API}/runs/get", params={"run_id": "f" * 32}, **alice)
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert framework == []
    assert client.get("/health").json() == {"status": "OK"}
    nowhere = client.post(f"{API}/no-such-call", json={}, **alice)
    assert nowhere.status_code == 404 and nowhere.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert framework == ["GET /health", f"POST {API}/no-such-call"]


def test_the_front_door_answers_an_error_escaping_its_chain_in_mlflows_shape(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the framework's exception middleware, an error the middleware chain raises
    (here the allowed-hosts check) is still answered 500 in MLflow's shape, no traceback;
    and CORS, when configured, still answers a direct route."""
    from lakeml.server.app import FrontDoor, build_app
    from lakeml.server.hosts import AllowedHosts

    monkeypatch.setenv("LAKEML_SERVER_CORS_ORIGINS", "http://ui.example")
    client = Calls(FrontDoor(build_app(lakeml.Client(str(tmp_path / "lake")))))
    created = client.post(f"{API}/experiments/create", json={"name": "cors"},
                          headers={"origin": "http://ui.example"})
    assert created.status_code == 200
    assert created.headers["access-control-allow-origin"] == "http://ui.example"

    def broken(self, host):  # noqa: ANN001, ANN202
        raise RuntimeError("a bug in a middleware")

    monkeypatch.setattr(AllowedHosts, "allows", broken)
    failed = client.post(f"{API}/runs/create", json={"experiment_id": "0"})
    assert failed.status_code == 500
    assert failed.json() == {"error_code": "INTERNAL_ERROR",
                             "message": "internal server error (see the server's log)"}
