"""The ``lakeml`` command, in-process through main() and as a real console script."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
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
    lakeml.Client(store_uri)  # the store exists; the run does not
    code, out, err = cli(capsys, "runs", "show", "f" * 32, "--store", store_uri)
    assert code == 1 and out == ""
    assert err.startswith("lakeml: error:") and "f" * 32 in err
    assert f"(store: {store_uri})" in err  # a not-found error says where lakeml looked
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
    monkeypatch.setenv("LAKEML_PROGRESS", "off")  # the error alone (progress: test_progress)
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


def test_table_escapes_control_characters_of_old_names(capsys, store_uri: str) -> None:
    client = lakeml.Client(store_uri)
    client.create_experiment("plain")
    # A store written before such names were refused: the row goes in directly.
    name = "evil\nFAKE  active\x1b[2J"
    experiments = client.tracking._experiments
    experiments._claim_name(name, experiments._experiment_row(
        "99", name=name, artifact_location="/x", lifecycle_stage="active", created=True),
        exists_message="")
    code, out, _ = cli(capsys, "experiments", "list", "--store", store_uri)
    assert code == 0
    lines = out.rstrip("\n").split("\n")
    assert len(lines) == 2 + 3  # header, rule, Default, plain, the old name on one line
    assert "\x1b" not in out
    assert "evil\\nFAKE  active\\x1b[2J" in lines[-1]
    code, out, _ = cli(capsys, "experiments", "list", "--store", store_uri, "--format", "json")
    assert json.loads(out)[-1]["name"] == name  # machine formats keep the value exact


def test_read_commands_never_create_a_store(capsys, tmp_path: Path) -> None:
    # conftest: the working directory is tmp_path and no store is set
    for argv in (["experiments", "list"], ["runs", "list", "--experiment", "x"],
                 ["runs", "show", "f" * 32], ["sql", "SELECT 1"], ["registry", "list"],
                 ["maintenance", "status"], ["artifacts", "list", "--run-id", "f" * 32]):
        code, out, err = cli(capsys, *argv)
        assert code == 1 and out == "", argv
        assert f"no lakeml store at {str(tmp_path / 'lakeml-store')!r}" in err, argv
    assert list(tmp_path.iterdir()) == []


def test_bare_commands_print_help_and_version(capsys) -> None:
    code, out, _ = cli(capsys)
    assert code == 0 and out.startswith("usage: lakeml")
    for group in ("experiments", "runs", "artifacts", "maintenance", "sql", "models",
                  "registry", "config", "demo", "run", "workflow"):
        assert f"\n    {group}" in out, group  # every command is listed with its line
    assert "``" not in out  # no raw RST markup
    code, out, _ = cli(capsys, "runs")
    assert code == 0 and "compare" in out and "usage: lakeml runs" in out
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == (
        f"lakeml {lakeml.__version__}")


def test_every_command_has_a_help_line() -> None:
    from lakeml.cli import build_parser

    def walk(parser, path):  # noqa: ANN001
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {c.dest: c.help for c in action._choices_actions}
                for name, child in action.choices.items():
                    assert helps.get(name), f"'lakeml {' '.join([*path, name])}' has no help"
                    walk(child, [*path, name])

    walk(build_parser(), [])


def test_runs_list_columns_filter_order_and_compare(capsys, store_uri: str) -> None:
    client = lakeml.Client(store_uri)
    exp = client.create_experiment("cols")
    ids = []
    for alpha, rmse in (("0.1", 0.5), ("0.2", 0.3), ("0.3", 0.4)):
        run = client.create_run(exp, run_name=f"a{alpha}")
        client.log_batch(run.info.run_id, params={"alpha": alpha, "same": "x"},
                         metrics={"rmse": rmse, "one": 1.0})
        ids.append(run.info.run_id)
    code, out, _ = cli(capsys, "runs", "list", "--experiment", "cols", "--store", store_uri,
                       "--order-by", "metrics.rmse ASC", "--columns", "auto", "--format", "json")
    rows = json.loads(out)
    assert [r["run_name"] for r in rows] == ["a0.2", "a0.3", "a0.1"]
    assert set(rows[0]) >= {"params.alpha", "metrics.rmse"}
    assert "params.same" not in rows[0] and "metrics.one" not in rows[0]  # they do not vary
    code, out, _ = cli(capsys, "runs", "list", "--experiment", "cols", "--store", store_uri,
                       "--filter", "metrics.rmse > 0.35", "--columns", "params.alpha,tags.none",
                       "--format", "csv")
    listed = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["params.alpha"] for r in listed) == ["0.1", "0.3"]
    assert [r["tags.none"] for r in listed] == ["", ""]
    code, _, err = cli(capsys, "runs", "list", "--experiment", "cols", "--store", store_uri,
                       "--columns", "rmse")
    assert code == 1 and "'rmse'" in err
    code, out, _ = cli(capsys, "runs", "compare", ids[0], ids[1], "--store", store_uri,
                       "--format", "json")
    rows = {(r["kind"], r["key"]): r for r in json.loads(out)}
    assert rows[("param", "alpha")]["diff"] == "*"
    assert rows[("param", "alpha")]["a0.1"] == "0.1" and rows[("param", "alpha")]["a0.2"] == "0.2"
    assert ("param", "same") not in rows  # equal everywhere: shown only with --all
    code, out, _ = cli(capsys, "runs", "compare", ids[0], ids[1], "--all", "--store", store_uri,
                       "--format", "json")
    assert ("param", "same") in {(r["kind"], r["key"]) for r in json.loads(out)}
    code, _, err = cli(capsys, "runs", "compare", ids[0], "--store", store_uri)
    assert code == 1 and "two or more" in err


def test_a_closed_pipe_ends_quietly(store_uri: str) -> None:
    client = lakeml.Client(store_uri)
    exp = client.create_experiment("many")
    client.log_runs(exp, pa.table({"params.p": [str(i) for i in range(3000)]}))
    client.flush()
    exe = shutil.which("lakeml", path=str(Path(os.sys.executable).parent))
    proc = subprocess.run(f"{exe} runs list --experiment many --max-results 3000 "
                          f"--store {store_uri} --format json | head -1",
                          shell=True, capture_output=True, text=True, timeout=120,
                          executable="/bin/bash")
    assert proc.stdout.strip() == "["
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
