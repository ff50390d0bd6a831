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
import gc
import sys

from lakeml.client import Client
from lakeml.server.app import app_from_environment

if sys.argv[1] == "failing":  # a store whose experiments cannot be read now
    def fail(self, name):
        raise OSError("the store is away")
    Client.get_experiment_by_name = fail
app = app_from_environment()
print(type(app).__name__, "duckdb" in sys.modules, gc.get_freeze_count() > 0)
"""


@pytest.mark.parametrize(("case", "warmed"), [("readable", "True"), ("failing", "False")])
def test_a_worker_sets_up_its_queries_before_it_serves(tmp_path: Path, case: str,
                                                       warmed: str) -> None:
    """A worker of a store that exists reads its experiments at start: its first request
    naming an experiment would otherwise import DuckDB and set up the views on the event
    loop, every other connection of the worker waiting. What start-up made is frozen, out
    of the collector's full passes. A read failing then does not keep the worker from
    serving: its requests report the store's state."""
    import json

    from lakeml.client import Client
    from tests.conftest import run_python

    store = str(tmp_path / "lake")
    Client(store).create_experiment("e")  # (a worker of it then skips making "Default")
    done = run_python(f"import sys; sys.argv = ['worker', {json.dumps(case)}]\n"
                      + WORKER_START, env={"LAKEML_STORE": store})
    assert done.stdout.split() == ["FrontDoor", warmed, "True"]
    if case == "failing":
        assert "could not read the store's experiments at start: the store is away" \
            in done.stderr
