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
