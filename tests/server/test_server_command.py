"""``lakeml server``'s hand-over to uvicorn (the server itself runs in tests/server)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.mark.parametrize(("level", "access_log"), [("info", True), ("debug", True),
                                                  ("warning", False), ("error", False)])
def test_a_line_per_request_only_where_the_log_level_shows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str, access_log: bool) -> None:
    import uvicorn

    from lakeml.cli.app import main

    # the command hands its settings to its workers in the environment: put it back after
    monkeypatch.setattr(os, "environ", os.environ.copy())
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    assert main(["server", "--store", str(tmp_path / "lake"), "--log-level", level]) == 0
    assert len(calls) == 1 and calls[0]["log_level"] == level
    assert calls[0]["access_log"] is access_log


WORKER_START = """
import sys
from lakeml.server.app import app_from_environment

import gc
app_from_environment()
print("duckdb" in sys.modules, gc.get_freeze_count() > 0)
"""


def test_a_worker_sets_up_its_queries_before_it_serves(tmp_path: Path) -> None:
    """A worker of a store that exists reads its experiments at start: its first request
    naming an experiment would otherwise import DuckDB and set up the views on the event
    loop, every other connection of the worker waiting. And what start-up made is frozen,
    out of the collector's full passes."""
    import subprocess
    import sys

    from lakeml.client import Client

    store = str(tmp_path / "lake")
    Client(store).create_experiment("e")  # (a worker of it then skips making "Default")
    done = subprocess.run([sys.executable, "-c", WORKER_START], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "LAKEML_STORE": store})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["True", "True"]
