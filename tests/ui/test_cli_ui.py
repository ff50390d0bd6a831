"""``lakeml ui``: the server with the UI, on loopback only."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx

from tests.server.conftest import ROOT, free_port


def test_lakeml_ui_serves_the_pages_on_loopback(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LAKEML_STORE", None)
    log = tmp_path / "ui.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "lakeml", "ui", "--store",
                                 str(tmp_path / "lake"), "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "lakeml ui did not answer in 60 s"
                time.sleep(0.2)
        assert page.status_code == 200 and "/static/js/main.js" in page.text
        body = httpx.get(f"http://127.0.0.1:{port}/ajax-api/lakeml/experiments",
                         headers={"X-Lakeml-UI": "1"}).json()
        assert [e["name"] for e in body["experiments"]] == ["Default"]
        # bound to loopback: the port is not open on another address of this machine
        import socket

        others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None,
                                                      socket.AF_INET)} - {"127.0.0.1"}
        for address in others:
            with socket.socket() as sock:
                sock.settimeout(1)
                assert sock.connect_ex((address, port)) != 0, address
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert f"http://127.0.0.1:{port}/" in log.read_text()
