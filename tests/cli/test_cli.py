"""The ``lakeml`` command, in-process through main() and as a real console script."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import lakeml
from lakeml.cli import main

ROOT = Path(__file__).resolve().parents[2]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def logged(store_uri: str, tmp_path: Path) -> str:
    """One experiment with one finished run that has a param, a metric and an artifact."""
    lakeml.set_experiment("cli-exp")
    (tmp_path / "notes.txt").write_text("hello")
    with lakeml.start_run(run_name="first") as run:
        lakeml.log_param("alpha", 0.5)
        lakeml.log_metric("loss", 0.25)
        lakeml.log_artifact(str(tmp_path / "notes.txt"), "docs")
    return run.info.run_id


def test_experiments_create_list_delete(capsys, store_uri: str) -> None:
    code, out, _ = cli(capsys, "experiments", "create", "churn", "--store", store_uri,
                       "--format", "json")
    assert code == 0
    created = json.loads(out)
    assert created[0]["name"] == "churn"
    code, out, _ = cli(capsys, "experiments", "list", "--store", store_uri, "--format", "csv")
    names = [row["name"] for row in csv.DictReader(io.StringIO(out))]
    assert names == ["Default", "churn"]  # oldest first; every store has Default
    assert cli(capsys, "experiments", "delete", "churn", "--store", store_uri)[0] == 0
    code, out, _ = cli(capsys, "experiments", "list", "--view", "DELETED_ONLY",
                       "--store", store_uri, "--format", "json")
    assert [e["name"] for e in json.loads(out)] == ["churn"]


def test_runs_list_and_show(capsys, store_uri: str, logged: str) -> None:
    code, out, _ = cli(capsys, "runs", "list", "--experiment", "cli-exp", "--store", store_uri,
                       "--format", "json")
    runs = json.loads(out)
    assert [(r["run_id"], r["run_name"], r["status"]) for r in runs] == [
        (logged, "first", "FINISHED")]
    code, out, _ = cli(capsys, "runs", "show", logged, "--store", store_uri, "--format", "json")
    shown = {(r["kind"], r["key"]): r["value"] for r in json.loads(out)}
    assert shown[("param", "alpha")] == "0.5"
    assert shown[("metric", "loss")] == 0.25
    assert shown[("info", "status")] == "FINISHED"
    code, out, _ = cli(capsys, "runs", "show", logged, "--store", store_uri)
    assert "alpha" in out and "0.5" in out and "FINISHED" in out  # the terminal table


def test_artifacts_list_and_download(capsys, store_uri: str, logged: str,
                                     tmp_path: Path) -> None:
    code, out, _ = cli(capsys, "artifacts", "list", "--run-id", logged, "--store", store_uri,
                       "--format", "json")
    assert [(a["path"], a["is_dir"]) for a in json.loads(out)] == [("docs", True)]
    dst = tmp_path / "dl"
    dst.mkdir()
    code, out, _ = cli(capsys, "artifacts", "download", "--run-id", logged, "--path", "docs",
                       "--dst", str(dst), "--store", store_uri)
    assert code == 0
    assert (dst / "docs" / "notes.txt").read_text() == "hello"


def test_errors_are_one_line_and_exit_1(capsys, store_uri: str) -> None:
    code, out, err = cli(capsys, "runs", "show", "f" * 32, "--store", store_uri)
    assert code == 1 and out == ""
    assert err.startswith("lakeml: error:") and "f" * 32 in err
    code, _, err = cli(capsys, "runs", "list", "--experiment", "no-such", "--store", store_uri)
    assert code == 1 and "no-such" in err


def test_maintenance_status_and_compact(capsys, store_uri: str, logged: str) -> None:
    code, out, _ = cli(capsys, "maintenance", "status", "--store", store_uri, "--format", "json")
    status = {r["table"]: r for r in json.loads(out)}
    assert status["runs"]["files"] >= 1 and status["metrics"]["files"] >= 1
    code, out, _ = cli(capsys, "maintenance", "compact", "--table", "runs", "--store", store_uri,
                       "--format", "json")
    assert code == 0 and json.loads(out)[0]["table"] == "runs"
    code, out, _ = cli(capsys, "maintenance", "snapshot", "--store", store_uri,
                       "--format", "json")
    saved = json.loads(out)[0]
    assert code == 0 and saved["runs"] >= 1 and Path(saved["file"]).is_file()
    assert Path(saved["file"]).parent == Path(store_uri) / "state"


def test_a_snapshot_that_cannot_be_written_is_a_one_line_error(
        capsys, store_uri: str, logged: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEML_SNAPSHOT_MEMORY", "1MB")   # far too little for DuckDB
    code, out, err = cli(capsys, "maintenance", "snapshot", "--store", store_uri)
    assert code == 1 and out == ""
    assert err.startswith("lakeml: error: cannot write the run snapshot")
    assert "LAKEML_SNAPSHOT_MEMORY" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.setenv("LAKEML_SNAPSHOT_MEMORY", "lots")
    code, _, err = cli(capsys, "maintenance", "snapshot", "--store", store_uri)
    assert code == 1 and "'lots'" in err and "LAKEML_SNAPSHOT_MEMORY" in err


def test_console_script_in_a_real_process(store_uri: str, logged: str) -> None:
    exe = shutil.which("lakeml", path=str(Path(os.sys.executable).parent))
    assert exe, "the lakeml console script is not installed next to this Python"
    proc = subprocess.run([exe, "runs", "list", "--experiment", "cli-exp", "--format", "csv"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LAKEML_STORE": store_uri})
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["run_id"] for r in rows] == [logged]
    proc = subprocess.run([exe, "experiments", "list", "--store", "s9://nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "s9" in proc.stderr
