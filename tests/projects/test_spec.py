"""The project file: parameters, command templates, and workflow DAGs (in-process)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from lakeml.errors import InvalidArgument, NotFound
from lakeml.projects import load_project, load_workflow
from lakeml.projects.workflow import show

from .conftest import EXAMPLES


@pytest.fixture
def local():
    return load_project(EXAMPLES / "local_project")


def test_declared_parameters_get_defaults_and_fill_the_command(local, tmp_path):
    main = local.entry_point("main")
    assert {n: (p.type, p.default) for n, p in main.parameters.items()} == {
        "alpha": ("float", "1.0"), "max_iter": ("int", "100"), "data_note": ("string", "diabetes")}
    declared, extra = main.resolve({"alpha": "0.25", "extra": "a b; rm -rf /"},
                                   project_dir=local.folder, cwd=tmp_path)
    assert declared == {"alpha": "0.25", "max_iter": "100", "data_note": "diabetes"}
    assert extra == {"extra": "a b; rm -rf /"}
    command = main.command_line(declared, extra)
    assert command == ("python train.py --alpha 0.25 --max-iter 100 --note diabetes "
                       "--extra 'a b; rm -rf /'")
    assert shlex.split(command)[-1] == "a b; rm -rf /"  # passed as one quoted argument


@pytest.mark.parametrize(("given", "message"), [
    ({"alpha": "abc"}, "parameter 'alpha' must be a float, got 'abc'"),
    ({"alpha": "nan"}, "parameter 'alpha' must be a float, got NaN"),
    ({"max_iter": "1.5"}, "parameter 'max_iter' must be an int, got '1.5'"),
])
def test_wrong_types_name_the_parameter_and_value(local, tmp_path, given, message):
    with pytest.raises(InvalidArgument, match=message):
        local.entry_point("main").resolve(given, project_dir=local.folder, cwd=tmp_path)


def test_path_and_uri_parameters(local, tmp_path):
    entry = local.entry_point("needs_path")
    with pytest.raises(InvalidArgument, match=r"needs parameter\(s\) \['table'\] that have no "
                                              "default"):
        entry.resolve({}, project_dir=local.folder, cwd=tmp_path)
    with pytest.raises(InvalidArgument, match="path 'nope.csv' does not exist"):
        entry.resolve({"table": "nope.csv"}, project_dir=local.folder, cwd=tmp_path)
    (tmp_path / "t.csv").write_text("x\n")
    declared, _ = entry.resolve({"table": "t.csv"}, project_dir=local.folder, cwd=tmp_path)
    assert declared == {"table": str(tmp_path / "t.csv"), "label": "s3://bucket/labels"}
    declared, _ = entry.resolve({"table": f"file://{tmp_path}/t.csv", "label": "rel/x"},
                                project_dir=local.folder, cwd=tmp_path)
    assert declared == {"table": str(tmp_path / "t.csv"), "label": str(tmp_path / "rel/x")}
    with pytest.raises(InvalidArgument, match="remote URI"):
        entry.resolve({"table": "s3://b/t.csv"}, project_dir=local.folder, cwd=tmp_path)


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLproject").write_text(text)
    return folder


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nentry_point: {}\n", r"unknown field\(s\) \['entry_point'\]"),
    ("entry_points:\n  main:\n    parameters: {a: double}\n    command: x\n",
     "parameter 'a' of entry point 'main' has type 'double'"),
    ("entry_points:\n  main: {parameters: {}}\n", "entry point 'main' needs a command"),
    ("entry_points: [main]\n", "entry_points must be a mapping"),
    ("entry_points:\n  main: {command: x, parameters: [a]}\n", "must be a mapping"),
    ("python_env: p.yaml\n", "python_env file 'p.yaml' does not exist"),
    ("docker_env: {image: a}\npython_env: p.yaml\n", "at most one of"),
    ("entry_points:\n  main: {command: 'echo {b}'}\n", None),
])
def test_bad_project_files_are_refused_naming_the_field(tmp_path, text, message):
    folder = write(tmp_path / "p", text)
    if message is None:  # a template naming an undeclared parameter fails when used
        entry = load_project(folder).entry_point("main")
        with pytest.raises(InvalidArgument, match=r"uses \{b\}, which is not a declared"):
            entry.command_line({}, {})
        return
    with pytest.raises((InvalidArgument, NotFound), match=message):
        load_project(folder)


def test_a_folder_without_project_file_runs_its_scripts(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "fit.py").write_text("print(1)\n")
    project = load_project(tmp_path / "p")
    assert project.name == "p" and project.env_type == "none"
    assert project.entry_point("fit.py").command == "python fit.py"
    with pytest.raises(NotFound, match="has no entry point 'main'"):
        project.entry_point("main")


def test_the_example_workflow_is_a_dag_of_two_levels():
    project = load_project(EXAMPLES / "workflow")
    wf = load_workflow(project, "main")
    assert wf.levels == (("load_a", "load_b"), ("combine",))
    assert wf.steps["combine"].upstream == ("load_a", "load_b")
    assert wf.downstream("load_a") == {"combine"}
    assert {n: (o.kind, o.location) for n, o in wf.steps["combine"].outputs.items()} == {
        "table": ("table", "combined")}
    text = show(wf)
    assert "[0] load_a (entry point load)" in text and "[1] combine" in text
    assert "load_a -> combine" in text and "load_b -> combine" in text
    with pytest.raises(InvalidArgument, match=r"workflows \['broken', 'main'\]; name one"):
        load_workflow(project)


STEPS = """
entry_points:
  e: {command: "python e.py"}
workflows:
  w:
    steps:
%s
"""


@pytest.mark.parametrize(("steps", "message"), [
    ("      a: {entry_point: e, inputs: {x: b.nope}}\n"
     "      b: {entry_point: e, outputs: {out: o.txt}}\n",
     r"step 'a' input 'x' reads 'b.nope', but step 'b' declares outputs \['out'\]"),
    ("      a: {entry_point: e, outputs: {out: o}, inputs: {y: b.out}}\n"
     "      b: {entry_point: e, inputs: {y: a.out}, outputs: {out: o.txt}}\n",
     r"cycle among steps \['a', 'b'\]"),
    ("      a: {entry_point: e, inputs: {x: c.out}}\n", "reads from step 'c', which does not"),
    ("      a: {entry_point: e, parameters: {x: 1}, outputs: {x: o}}\n", "named twice"),
    ("      a: {entry_point: nope}\n", "has no entry point 'nope'"),
    ("      a: {entry_point: e, inputs: {x: data.csv}}\n",
     "step 'data', which does not exist.*path: file"),
    ("      a: {entry_point: e, inputs: {x: 'data/x.csv'}}\n", "must be 'step.output'"),
    ("      a: {entry_point: e, outputs: {x: {s3: o}}}\n", "output 'x' must be"),
    ("      a: {entry_point: e, retries: 3}\n", r"unknown field\(s\) \['retries'\]"),
    ("      a: {entry_point: e, outputs: {t: {table: x}}}\n"
     "      b: {entry_point: e, outputs: {u: {table: x}}}\n",
     "outputs 'a.t' and 'b.u' of workflow 'w' both write table 'x'"),
    ("      a: {entry_point: e, outputs: {t: {table: x}}}\n"
     "      b: {entry_point: e, outputs: {u: {table: ./y/../x}}}\n", "both write table 'x'"),
    ("      a: {entry_point: e, outputs: {x: {artifact: ../../x}}}\n",
     r"output 'x' \{artifact: '../../x'\} must be a relative path that stays inside the step"),
    ("      a: {entry_point: e, outputs: {x: a/../../x}}\n", r"'a/../../x'\} must be a rel"),
    ("      a: {entry_point: e, outputs: {x: {artifact: /etc/x}}}\n", r"'/etc/x'\} must be"),
    ("      a: {entry_point: e, outputs: {x: {artifact: .}}}\n", r"'\.'\} must be"),
    ("      a: {entry_point: e, outputs: {t: {table: ../..}}}\n",
     r"output 't' \{table: '../..'\} must be a relative path .*workflow_data"),
    ("      a: {entry_point: e, outputs: {t: {table: ../other/t}}}\n", "'../other/t'"),
    ("      a: {entry_point: e, outputs: {t: {table: [x]}}}\n", "output 't' must be"),
    ('      "a\\n": {entry_point: e}\n', r"step 'a\\n': step names are letters"),
    ('      a: {entry_point: e, outputs: {"t\\n": x}}\n', r"output name 't\\n' must be"),
])
def test_bad_workflows_are_refused_with_the_reason(tmp_path, steps, message):
    project = load_project(write(tmp_path / "p", STEPS % steps))
    with pytest.raises((InvalidArgument, NotFound), match=message):
        load_workflow(project, "w")


def test_output_locations_are_normalized_and_absolute_tables_kept(tmp_path):
    steps = ("      a: {entry_point: e, outputs: {x: {artifact: ./d//r.csv}, "
             "t: {table: s3://bucket/t}, u: {table: /abs/u}, v: {table: sub/./v}}}\n")
    wf = load_workflow(load_project(write(tmp_path / "p", STEPS % steps)), "w")
    assert {n: o.location for n, o in wf.steps["a"].outputs.items()} == {
        "x": "d/r.csv", "t": "s3://bucket/t", "u": "/abs/u", "v": "sub/v"}


@pytest.mark.parametrize("name", ["..", "a/b", "x\ny"])
def test_workflow_names_that_would_leave_the_data_folder_are_refused(tmp_path, name):
    text = (STEPS % "      a: {entry_point: e}\n").replace("  w:\n", f"  {json.dumps(name)}:\n")
    with pytest.raises(InvalidArgument, match="workflow name"):
        load_workflow(load_project(write(tmp_path / "p", text)), name)


@pytest.mark.parametrize("command, quoted", [
    ('echo "{msg}"', "{msg}"), ("echo '{msg}' {n}", "{msg}"), ("echo \\{msg}", "{msg}"),
    ('echo "a {msg} b" "{n}"', "{msg}, {n}"),
])
def test_placeholders_inside_quotes_are_refused(tmp_path, command, quoted):
    text = ("entry_points:\n  main:\n    parameters: {msg: string, n: {type: int, default: 1}}\n"
            f"    command: {json.dumps(command)}\n")
    with pytest.raises(InvalidArgument, match=re.escape(f"'main': {quoted} in command")):
        load_project(write(tmp_path / "p", text))


def test_unquoted_placeholders_keep_hostile_values_inert(tmp_path):
    text = ('entry_points:\n  main:\n    parameters: {msg: string}\n'
            '    command: "echo pre-{msg} --x={msg} $(echo {msg}) \'lit\' \\\\\\\\ {{x}}"\n')
    entry = load_project(write(tmp_path / "p", text)).entry_point("main")
    hostile = "$(touch pwned); `touch pwned` \"' \\"
    line = entry.command_line(*entry.resolve({"msg": hostile}, project_dir=tmp_path))
    out = subprocess.run(["bash", "-c", line], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "pwned").exists()
    assert out.stdout.count(hostile) == 3 and out.stdout.endswith("lit \\ {x}\n")
