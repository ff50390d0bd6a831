"""The Airflow export: the DAG file's tasks, run in DAG order as Airflow's workers would."""

from __future__ import annotations

import ast
import shlex
import subprocess
import sys

import pytest

import lakeml
from lakeml.errors import InvalidArgument
from lakeml.projects import finish_workflow, run_workflow_step, start_workflow
from lakeml.projects.airflow import XCOM_RUN_ID

from .conftest import lakeml_cli


def literals(dag_file: str) -> dict[str, object]:
    """The COMMANDS and EDGES literals of a DAG file (read without Airflow installed)."""
    tree = ast.parse(dag_file)
    return {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id in ("COMMANDS", "EDGES")}


@pytest.mark.slow
def test_exported_dag_runs_the_workflow_step_by_step(tmp_path, project_copy):
    project = project_copy("workflow")
    store = str(tmp_path / "lake")
    dag_path = tmp_path / "dag.py"
    proc = lakeml_cli("workflow", "export-airflow", str(project), "-w", "main", "--store", store,
                      "--lakeml-command", f"{shlex.quote(sys.executable)} -m lakeml",
                      "--dag-id", "wine", "-o", str(dag_path))
    assert proc.returncode == 0, proc.stderr
    text = dag_path.read_text()
    compile(text, str(dag_path), "exec")
    assert "dag_id='wine'" in text
    found = literals(text)
    commands, edges = found["COMMANDS"], found["EDGES"]
    assert list(commands) == ["start", "load_a", "load_b", "combine", "finish"]
    assert sorted(edges) == sorted([
        ("start", "load_a"), ("start", "load_b"), ("load_a", "combine"), ("load_b", "combine"),
        ("load_a", "finish"), ("load_b", "finish"), ("combine", "finish")])

    def task(task_id: str, run_id: str = "") -> str:
        command = commands[task_id].replace(XCOM_RUN_ID, run_id)
        done = subprocess.run(command, shell=True, capture_output=True, text=True)
        assert done.returncode == 0, (task_id, done.stderr)
        return done.stdout.strip().splitlines()[-1]  # what Airflow keeps as the XCom

    run_id = task("start")
    for step in ("load_a", "load_b", "combine"):
        task(step, run_id)
    task("finish", run_id)
    client = lakeml.Client(store)
    assert client.get_run(run_id).info.status == "FINISHED"
    steps = dict(client.sql("SELECT step, status FROM workflow_steps WHERE workflow_run_id = ?",
                            [run_id]).fetchall())
    assert steps == {"load_a": "executed", "load_b": "executed", "combine": "executed"}
    assert client.sql("SELECT DISTINCT r.parent_run_id FROM workflow_steps s "
                      "JOIN runs r ON r.run_id = s.run_id").fetchall() == [(run_id,)]
    # a second run, step by step (here through the Python API), reuses every step
    second = start_workflow(project, "main", store=store)
    for step in ("load_b", "load_a", "combine"):
        assert run_workflow_step(project, step, second, store=store).status == "reused"
    assert finish_workflow(project, second, store=store).status == "FINISHED"
    steps = dict(client.sql("SELECT step, status FROM workflow_steps WHERE workflow_run_id = ?",
                            [second]).fetchall())
    assert steps == {"load_a": "reused", "load_b": "reused", "combine": "reused"}


def test_step_by_step_refuses_a_step_before_its_inputs_and_fails_an_unfinished_run(
        tmp_path, project_copy):
    project = project_copy("workflow")
    store = str(tmp_path / "lake")
    run_id = start_workflow(project, "main", {"load_b.scale": "3"}, store=store)
    assert lakeml.Client(store).get_run(run_id).data.params == {"load_b.scale": "3"}
    with pytest.raises(InvalidArgument, match="reads from step 'load_a', which has not run"):
        run_workflow_step(project, "combine", run_id, store=store)
    result = finish_workflow(project, run_id, store=store)
    assert result.status == "FAILED"
    assert lakeml.Client(store).get_run(run_id).info.status == "FAILED"
    with pytest.raises(InvalidArgument, match="is FAILED; start a new one"):
        run_workflow_step(project, "load_a", run_id, store=store)
