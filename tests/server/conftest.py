"""One real ``lakeml server`` for the session, on loopback, over a store of its own."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    store: str
    log: Path

    @property
    def api(self) -> str:
        return f"{self.url}/api/2.0/mlflow"


def settled(server: Server) -> None:
    """Wait until every write ``server`` acknowledged is committed to Delta: a write is
    answered once in the server's journal (docs/server-durability.md), and a reader
    outside the server, as a test reading the store directly, sees it a moment later."""
    from lakeml.server.journal import wait_settled
    from lakeml.server.journal_writes import journal_folder
    from lakeml.store import normalize_uri

    folder = journal_folder(normalize_uri(server.store))
    if folder is not None:
        wait_settled(folder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    with start_server(tmp_path_factory.mktemp("server")) as running:
        yield running


@contextlib.contextmanager
def start_server(base: Path, *options: str) -> Iterator[Server]:
    """Start ``lakeml server`` over a store in ``base``, yield it once it answers, stop it."""
    import httpx

    store, log = str(base / "lake"), base / "server.log"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("LAKEML_STORE", "LAKEML_CONF", "LAKEML_EXPERIMENT_NAME",
                 "LAKEML_EXPERIMENT_ID", "LAKEML_RUN_ID"):
        env.pop(name, None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lakeml", "server", "--store", store, "--port", str(port),
             "--log-level", "warning", *options], cwd=base, env=env, stdout=out,
            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"lakeml server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"lakeml server did not answer in {START_TIMEOUT} s:\n"
                            f"{log.read_text()}")
            time.sleep(0.2)
        yield Server(url, store, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
