"""Progress of long work: a bar on a terminal, lines in logs, nothing when off."""

from __future__ import annotations

import pytest

from lakeml import progress
from lakeml.errors import InvalidArgument


def test_lines_when_not_a_terminal(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEML_PROGRESS", "auto")  # pytest's stderr is not a terminal
    assert list(progress.steps(["runs", "metrics"], "compact", unit="table")) == [
        "runs", "metrics"]
    err = capsys.readouterr().err.splitlines()
    assert err == ["lakeml: compact: 0/2 tables done, next runs",
                   "lakeml: compact: 1/2 tables done, next metrics",
                   "lakeml: compact: 2/2 tables done"]
    with progress.phase("writing the run snapshot"):
        pass
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "lakeml: writing the run snapshot…"
    assert err[1].startswith("lakeml: writing the run snapshot: done in ")


def test_many_small_steps_are_rate_limited(capsys, monkeypatch) -> None:
    monkeypatch.setenv("LAKEML_PROGRESS", "lines")
    assert sum(progress.steps(range(1000), "log", every=3600)) == sum(range(1000))
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[-1] == "lakeml: log: 1000/1000 steps done"


def test_bar_and_off(capsys, monkeypatch) -> None:
    monkeypatch.setenv("LAKEML_PROGRESS", "bar")
    assert list(progress.steps([1, 2, 3], "compact")) == [1, 2, 3]
    assert "lakeml: compact" in capsys.readouterr().err  # tqdm's bar
    monkeypatch.setenv("LAKEML_PROGRESS", "off")
    list(progress.steps([1, 2, 3], "compact"))
    with progress.phase("quiet"):
        pass
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("LAKEML_PROGRESS", "loud")
    with pytest.raises(InvalidArgument, match="'loud'"):
        progress.mode()
