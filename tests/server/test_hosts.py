"""DNS-rebinding protection of ``lakeml server`` (lakeml/server/hosts.py): requests with a
forged ``Host`` header against real servers on loopback, and the patterns' rules."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import httpx
import pytest

from lakeml.server.hosts import AllowedHosts, default_allowed_hosts, parse_allowed_hosts
from tests.server.conftest import Server, start_server


def send(server: Server, path: str, host: str | None, method: str = "GET",
         body: bytes | None = None) -> tuple[int, dict]:
    """``path`` with the Host header ``host`` (None: no Host header at all), as a rebound
    page's browser would send it to 127.0.0.1."""
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=60)
    try:
        conn.putrequest(method, path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        if body is not None:
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw or b"{}")
        except ValueError:
            return response.status, {"text": raw.decode(errors="replace")}
    finally:
        conn.close()


def port(server: Server) -> str:
    return server.url.rsplit(":", 1)[1]


def test_a_forged_host_gets_403_naming_it(server: Server) -> None:
    search = "/api/2.0/mlflow/experiments/search?max_results=5"
    status, body = send(server, search, f"evil.example:{port(server)}")
    assert status == 403, body
    assert body["error_code"] == "PERMISSION_DENIED"
    assert f"'evil.example:{port(server)}'" in body["message"]
    assert "--allowed-hosts" in body["message"] and "DNS rebinding" in body["message"]
    # a write is refused before it acts
    made = json.dumps({"name": "rebound"}).encode()
    status, _ = send(server, "/api/2.0/mlflow/experiments/create", "evil.example",
                     "POST", made)
    assert status == 403
    assert send(server, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=rebound",
                f"127.0.0.1:{port(server)}")[0] == 404
    status, body = send(server, search, None)  # HTTP/1.1 without Host: uvicorn's own 400
    assert status in (400, 403) and "experiments" not in body, body
    # the artifact proxy and the web UI's API are behind the same check
    assert send(server, "/api/2.0/mlflow-artifacts/artifacts?path=", "evil.example")[0] == 403
    assert send(server, "/ajax-api/lakeml/experiments", "evil.example")[0] == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}",
                                  "[::1]:{port}", "localhost", "127.0.0.1"])
def test_this_machines_names_are_answered(server: Server, host: str) -> None:
    status, body = send(server, "/api/2.0/mlflow/experiments/search?max_results=1",
                        host.format(port=port(server)))
    assert status == 200, body


def test_health_answers_any_host(server: Server) -> None:
    assert send(server, "/health", "evil.example")[0] == 200


def test_allowed_hosts_given_replace_the_default(tmp_path: Path) -> None:
    with start_server(tmp_path, "--allowed-hosts",
                      "mlflow.corp.example:*, *.team.example:*") as running:
        search = "/api/2.0/mlflow/experiments/search?max_results=1"
        assert send(running, search, f"mlflow.corp.example:{port(running)}")[0] == 200
        assert send(running, search, "ml.team.example:443")[0] == 200
        assert send(running, search, "mlflow.corp.example")[0] == 403  # no port: not matched
        assert send(running, search, "team.example.evil:80")[0] == 403
        assert send(running, search, f"127.0.0.1:{port(running)}")[0] == 403
        assert httpx.get(f"{running.url}/health", timeout=60).status_code == 200


def test_default_patterns_follow_the_bound_address() -> None:
    loopback = AllowedHosts(None, patterns=default_allowed_hosts("127.0.0.1"))
    assert loopback.allows("localhost:5000") and loopback.allows("[::1]:5000")
    assert loopback.allows("0.0.0.0:5000")
    assert not loopback.allows("192.168.1.20:5000") and not loopback.allows("")
    assert not loopback.allows("localhost.evil.example:5000")
    everywhere = AllowedHosts(None, patterns=default_allowed_hosts("0.0.0.0"))
    for host in ("192.168.1.20:5000", "10.0.0.3", "172.20.1.1:80", "localhost:5000"):
        assert everywhere.allows(host), host
    for host in ("[fd00::1]:5000", "[fc12::7]", "10.255.0.1:8080"):
        assert everywhere.allows(host), host
    for host in ("172.32.0.1:80", "mlflow.corp.example:5000", "8.8.8.8:5000",
                 # names that merely start like a private address: DNS rebinding
                 "10.evil.example:5000", "192.168.evil.example", "172.16.a.evil.example:80",
                 "fd00.evil.example", "[2001:db8::1]:80"):
        assert not everywhere.allows(host), host
    bound = AllowedHosts(None, patterns=default_allowed_hosts("203.0.113.7"))
    assert bound.allows("203.0.113.7:5000") and not bound.allows("203.0.113.8:5000")
    assert AllowedHosts(None, patterns=default_allowed_hosts("::1")).allows("[::1]:80")
    assert AllowedHosts(None, patterns=["*"]).allows("anything:1")


def test_an_empty_allowed_hosts_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="' , '"):
        parse_allowed_hosts(" , ")
    assert parse_allowed_hosts("a.example, b.example:*") == ["a.example", "b.example:*"]
