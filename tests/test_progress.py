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


def test_bulk_logging_of_many_rows_says_so(capsys, monkeypatch, tmp_path) -> None:
    import pyarrow as pa

    import lakeml

    monkeypatch.setenv("LAKEML_PROGRESS", "lines")
    client = lakeml.Client(str(tmp_path / "lake"))
    exp = client.create_experiment("bulk")
    client.log_runs(exp, pa.table({"params.p": ["a"] * 10}))
    assert capsys.readouterr().err == ""  # small calls stay quiet
    ids = client.log_runs(exp, pa.table({"metrics.m": [1.0] * 100_000}))
    err = capsys.readouterr().err.splitlines()
    assert len(ids) == 100_000
    assert err[0] == "lakeml: logging 100,000 runs…"
    assert err[1].startswith("lakeml: logging 100,000 runs: done in ")
