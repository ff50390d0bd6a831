"""A three-step workflow: parallel steps, cache hits, and exactly the changed steps re-run."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from deltalake import DeltaTable

import lakeml

from .conftest import lakeml_cli


def run_workflow(project, store, *args, env=None):
    proc = lakeml_cli("workflow", "run", str(project), "-w", "main", "--store", store,
                      "--format", "json", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    return {row["step"]: row for row in json.loads(proc.stdout[proc.stdout.index("[\n"):])}


def parent_of(client, step_run_id):
    return client.get_run(step_run_id).info.parent_run_id


@pytest.mark.slow
def test_workflow_runs_in_parallel_reuses_unchanged_steps_and_reruns_the_changed(
        tmp_path, project_copy):
    project = project_copy("workflow")
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    barrier = tmp_path / "barrier"
    barrier.mkdir()

    # 1. everything runs; load_a and load_b wait for each other, so they ran at once
    first = run_workflow(project, store, env={"LAKEML_EXAMPLE_BARRIER": str(barrier)})
    assert {s: r["status"] for s, r in first.items()} == {
        "load_a": "executed", "load_b": "executed", "combine": "executed"}
    assert sorted(p.name for p in barrier.iterdir()) == ["raw_a", "raw_b"]
    wf_run = parent_of(client, first["combine"]["run_id"])
    assert {parent_of(client, r["run_id"]) for r in first.values()} == {wf_run}
    assert client.get_run(wf_run).data.tags["lakeml.workflow"] == "main"
    assert client.get_run(wf_run).info.status == "FINISHED"
    table = f"{store}/workflow_data/main/combined"
    assert len(DeltaTable(table).to_pandas()) == 178  # all of scikit-learn's wine data
    combine = client.get_run(first["combine"]["run_id"])
    assert combine.data.metrics["rows"] == 178
    assert 0.85 < combine.data.metrics["cv_accuracy"] <= 1.0
    load_b_rows = client.download_artifacts(first["load_b"]["run_id"], "clean/rows.csv",
                                            str(tmp_path / "dl"))
    raw_b = pd.read_csv(project / "data" / "raw_b.csv")
    assert pd.read_csv(load_b_rows)["alcohol"].tolist() == pytest.approx(
        (raw_b["alcohol"] * 2.0).tolist())  # load_b's scale parameter applied

    # the lineage, in SQL: combine read what the two loads produced
    lineage = lakeml.Client(store).sql(
        "SELECT i.name, i.from_step, i.digest = o.digest AS same "
        "FROM workflow_lineage i JOIN workflow_lineage o "
        "  ON o.workflow_run_id = i.workflow_run_id AND o.step = i.from_step "
        " AND o.direction = 'output' AND o.name = i.from_output "
        "WHERE i.workflow_run_id = ? AND i.step = 'combine' AND i.direction = 'input' "
        "ORDER BY i.name", [wf_run]).fetchall()
    assert lineage == [("a", "load_a", True), ("b", "load_b", True)]
    (out,) = client.sql("SELECT kind, uri, digest FROM workflow_lineage WHERE step = 'combine'"
                        " AND direction = 'output'").fetchall()
    assert out[:2] == ("table", f"{table}@v0")  # the exact Delta version the step made
    made = {(e.src, e.kind) for e in client.get_lineage(f"{table}@v0", depth=1)}
    assert made == {(f"runs:/{first['combine']['run_id']}", "workflow_output")}

    # 2. nothing changed: every step is reused and linked to the run that did the work
    second = run_workflow(project, store)
    assert {s: r["status"] for s, r in second.items()} == {
        "load_a": "reused", "load_b": "reused", "combine": "reused"}
    for step, row in second.items():
        assert row["source_run_id"] == first[step]["run_id"]
        reuse = client.get_run(row["run_id"])
        assert reuse.data.tags["lakeml.workflow.reusedRunId"] == first[step]["run_id"]
        assert reuse.data.tags["lakeml.workflow.cacheHit"] == "true"
        assert reuse.info.parent_run_id != wf_run and reuse.info.status == "FINISHED"
    assert DeltaTable(table).version() == 0  # not rewritten

    # 3. one input changes: exactly load_a and what depends on it run again
    raw_a = pd.read_csv(project / "data" / "raw_a.csv")
    raw_a.iloc[:50].to_csv(project / "data" / "raw_a.csv", index=False)
    third = run_workflow(project, store)
    assert {s: r["status"] for s, r in third.items()} == {
        "load_a": "executed", "load_b": "reused", "combine": "executed"}
    assert third["load_b"]["source_run_id"] == first["load_b"]["run_id"]
    assert len(DeltaTable(table).to_pandas()) == 50 + 89
    assert client.get_run(third["combine"]["run_id"]).data.metrics["rows"] == 139
    counts = dict(client.sql("SELECT status, count(*) FROM workflow_steps GROUP BY 1")
                  .fetchall())
    assert counts == {"executed": 5, "reused": 4}

    # 4. a changed parameter re-runs its step (and the dependents) too
    fourth = run_workflow(project, store, "-P", "load_b.scale=3")
    assert {s: r["status"] for s, r in fourth.items()} == {
        "load_a": "reused", "load_b": "executed", "combine": "executed"}

    # 5. a change to a step's code re-runs that step only (here the last one)
    with open(project / "combine.py", "a") as fh:
        fh.write("# a comment is a change of code\n")
    fifth = lakeml.projects.run_workflow(project, "main", {"load_b.scale": "3"}, store=store)
    assert {s: r.status for s, r in fifth.steps.items()} == {
        "load_a": "reused", "load_b": "reused", "combine": "executed"}
    assert fifth.steps["load_b"].source_run_id == fourth["load_b"]["run_id"]


@pytest.mark.slow
def test_a_missing_declared_output_fails_the_step_and_the_workflow(tmp_path, project_copy):
    project = project_copy("workflow")
    store = str(tmp_path / "lake")
    proc = lakeml_cli("workflow", "run", str(project), "-w", "broken", "--store", store,
                      "--format", "json")
    assert proc.returncode == 1
    assert "step 'forgetful': did not produce its declared output 'report': artifact " \
           "'report.txt' was not written" in proc.stderr
    assert "wrote nothing" in proc.stdout  # the step's own output passes through
    client = lakeml.Client(store)
    (step_run, status, error), = client.sql(
        "SELECT run_id, status, error FROM workflow_steps").fetchall()
    assert status == "failed" and "declared output 'report'" in error
    run = client.get_run(step_run)
    assert run.info.status == "FAILED"
    assert "declared output 'report'" in run.data.tags["lakeml.project.error"]
    assert client.get_run(run.info.parent_run_id).info.status == "FAILED"


@pytest.mark.slow
def test_a_failed_step_skips_its_dependents(tmp_path, project_copy):
    project = project_copy("workflow")
    store = str(tmp_path / "lake")
    proc = lakeml_cli("workflow", "run", str(project), "-w", "main", "--store", store,
                      "-P", "load_a.scale=big", "--format", "json")
    assert proc.returncode == 1
    assert "parameter 'scale' must be a float, got 'big'" in proc.stderr
    rows = dict(lakeml.Client(store).sql(
        "SELECT step, status FROM workflow_steps").fetchall())
    assert rows["load_a"] == "failed" and rows["combine"] == "skipped"


def test_workflow_show_prints_the_dag(project_copy):
    project = project_copy("workflow")
    proc = lakeml_cli("workflow", "show", str(project), "-w", "main", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["level"], r["step"], r["after"]) for r in rows] == [
        (0, "load_a", "-"), (0, "load_b", "-"), (1, "combine", "load_a,load_b")]
    assert rows[2]["inputs"] == "a<-load_a.rows, b<-load_b.rows"
    assert rows[2]["outputs"] == "table->table:combined"
    text = lakeml_cli("workflow", "show", str(project), "-w", "main").stdout
    assert "load_a -> combine" in text


@pytest.mark.parametrize("output", ["{artifact: ../../escaped.txt}", "{artifact: OUTSIDE}",
                                    "{table: ../../escaped}"])
def test_outputs_outside_their_folder_are_refused_before_any_step_runs(tmp_path, output):
    from lakeml.errors import InvalidArgument
    from lakeml.projects import run_workflow as run_in_process

    outside = tmp_path / "outside.txt"
    project = tmp_path / "p"
    project.mkdir()
    (project / "w.py").write_text("import sys\nopen(sys.argv[1], 'w').write('x')\n")
    (project / "MLproject").write_text(
        "entry_points:\n  w:\n    parameters: {out: string}\n"
        "    command: python w.py {out}\n"
        "workflows:\n  main:\n    steps:\n"
        f"      w: {{entry_point: w, outputs: {{out: {output}}}}}\n".replace("OUTSIDE",
                                                                       str(outside)))
    store = str(tmp_path / "lake")
    with pytest.raises(InvalidArgument, match="output 'out' .* must be a relative path"):
        run_in_process(project, "main", store=store)
    assert not outside.exists() and not list(tmp_path.glob("**/escaped*"))
    assert lakeml.Client(store).sql("SELECT count(*) FROM runs").fetchall() == [(0,)]
