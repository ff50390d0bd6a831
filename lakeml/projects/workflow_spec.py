"""Workflows in the project file: steps with declared inputs and outputs, as a DAG.

A workflow lists steps; each runs an entry point with parameters, reads
declared inputs (another step's output ``step.output``, a project file
``{path: …}``, or a Delta table ``{table: …}``) and must produce its declared
outputs (a run artifact ``{artifact: file}`` or a Delta table
``{table: location}``). Each input and output is handed to the command as a
parameter of the same name: the local path of an input, the path or table
URI where an output must be written. The steps that a step reads from (and
those named in ``after``) run before it; the others may run at once.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from lakeml.errors import InvalidArgument, NotFound
from lakeml.projects.spec import Project

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # with fullmatch: "$" would pass "a\n"


@dataclass(frozen=True)
class Input:
    """A step input: another step's output, or an external file or Delta table."""

    name: str
    kind: str  # "step", "path" or "table"
    ref: str  # "step.output", the project-relative path, or the table location
    step: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class Output:
    """A step output: an artifact of the step's run, or a Delta table."""

    name: str
    kind: str  # "artifact" or "table"
    location: str  # artifact path in the run, or table location


@dataclass(frozen=True)
class Step:
    """One step of a workflow."""

    name: str
    entry_point: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    inputs: Mapping[str, Input] = field(default_factory=dict)
    outputs: Mapping[str, Output] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    code: tuple[str, ...] = ()

    @property
    def upstream(self) -> tuple[str, ...]:
        """The steps that must finish before this one, sorted."""
        ups = {i.step for i in self.inputs.values() if i.step} | set(self.after)
        return tuple(sorted(ups))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Workflow:
    """A named DAG of steps; ``levels`` lists the steps that may run together."""

    name: str
    steps: Mapping[str, Step]
    levels: tuple[tuple[str, ...], ...]

    def downstream(self, step: str) -> set[str]:
        """The steps that read, directly or not, from ``step``."""
        found: set[str] = set()
        frontier = [step]
        while frontier:
            current = frontier.pop()
            for other in self.steps.values():
                if current in other.upstream and other.name not in found:
                    found.add(other.name)
                    frontier.append(other.name)
        return found


def load_workflow(project: Project, name: str | None = None) -> Workflow:
    """The workflow ``name`` of ``project`` (the only one if None), checked.

    Example:
        >>> wf = load_workflow(load_project("tests/projects/examples/workflow"))  # doctest: +SKIP
        >>> wf.levels                                                              # doctest: +SKIP
        (('load_a', 'load_b'), ('combine',))
    """
    where = project.file or project.folder
    if not project.workflows:
        raise NotFound(f"{where}: the project declares no workflows")
    if name is None:
        if len(project.workflows) > 1:
            raise InvalidArgument(f"{where}: the project has workflows "
                                  f"{sorted(project.workflows)}; name one")
        name = next(iter(project.workflows))
    if name not in project.workflows:
        raise NotFound(f"{where}: no workflow {name!r}; workflows: {sorted(project.workflows)}")
    if name in ("", ".", "..") or any(c in "/\\" or ord(c) < 32 or ord(c) == 127
                                                for c in str(name)):
        raise InvalidArgument(f"{where}: workflow name {name!r} names a folder of its tables "
                              "(<store>/workflow_data/<workflow>/): no '/', '\\', '..' or "
                              "control characters")
    data = project.workflows[name]
    if not isinstance(data, dict) or not isinstance(data.get("steps"), dict) \
            or not data["steps"]:
        raise InvalidArgument(f"{where}: workflow {name!r} needs a non-empty mapping 'steps'")
    unknown = set(data) - {"steps", "description"}
    if unknown:
        raise InvalidArgument(f"{where}: workflow {name!r} has unknown field(s) "
                              f"{sorted(unknown)}; known: steps, description")
    steps = {str(s): _step(project, name, str(s), spec) for s, spec in data["steps"].items()}
    for step in steps.values():
        for up in step.upstream:
            if up not in steps:
                raise InvalidArgument(f"{where}: step {step.name!r} of workflow {name!r} reads "
                                      f"from step {up!r}, which does not exist; steps: "
                                      f"{sorted(steps)} (a file input is {{path: file}}, a "
                                      "Delta table {table: location})")
        for inp in step.inputs.values():
            if inp.step and inp.output not in steps[inp.step].outputs:
                raise InvalidArgument(
                    f"{where}: step {step.name!r} input {inp.name!r} reads {inp.ref!r}, but "
                    f"step {inp.step!r} declares outputs {sorted(steps[inp.step].outputs)}")
    tables: dict[str, str] = {}
    for step in steps.values():
        for out in step.outputs.values():
            if out.kind == "table":
                other = tables.setdefault(out.location, f"{step.name}.{out.name}")
                if other != f"{step.name}.{out.name}":
                    raise InvalidArgument(f"{where}: outputs {other!r} and "
                                          f"'{step.name}.{out.name}' of workflow {name!r} "
                                          f"both write table {out.location!r}")
    return Workflow(name, steps, _levels(where, name, steps))


def _levels(where: Any, name: str, steps: Mapping[str, Step]) -> tuple[tuple[str, ...], ...]:
    done: set[str] = set()
    levels = []
    while len(done) < len(steps):
        ready = sorted(s for s, step in steps.items()
                       if s not in done and set(step.upstream) <= done)
        if not ready:
            cycle = sorted(set(steps) - done)
            raise InvalidArgument(f"{where}: workflow {name!r} has a cycle among steps {cycle}")
        levels.append(tuple(ready))
        done.update(ready)
    return tuple(levels)


def _step(project: Project, workflow: str, name: str, spec: Any) -> Step:
    where = f"{project.file}: workflow {workflow!r} step {name!r}"
    if not _NAME.fullmatch(name):
        raise InvalidArgument(f"{where}: step names are letters, digits and _ (not starting "
                              "with a digit)")
    if not isinstance(spec, dict):
        raise InvalidArgument(f"{where}: a step is a mapping with entry_point, parameters, "
                              f"inputs, outputs; got {spec!r}")
    unknown = set(spec) - {"entry_point", "parameters", "inputs", "outputs", "after", "code"}
    if unknown:
        raise InvalidArgument(f"{where}: unknown field(s) {sorted(unknown)}; known: "
                              "entry_point, parameters, inputs, outputs, after, code")
    entry = str(spec.get("entry_point") or name)
    project.entry_point(entry)  # NotFound names the entry points
    params = {str(k): str(v) for k, v in (spec.get("parameters") or {}).items()}
    inputs = {str(k): _input(where, str(k), v) for k, v in (spec.get("inputs") or {}).items()}
    outputs = {str(k): _output(where, str(k), v)
               for k, v in (spec.get("outputs") or {}).items()}
    for io_name in [*inputs, *outputs]:
        if not _NAME.fullmatch(io_name):
            raise InvalidArgument(f"{where}: input/output name {io_name!r} must be letters, "
                                  "digits and _")
    clash = (set(params) & set(inputs)) | (set(params) & set(outputs)) | \
        (set(inputs) & set(outputs))
    if clash:
        raise InvalidArgument(f"{where}: {sorted(clash)} named twice among parameters, inputs "
                              "and outputs (each becomes a parameter of the command)")
    after = spec.get("after") or []
    code = spec.get("code") or []
    if isinstance(after, str):
        after = [after]
    if isinstance(code, str):
        code = [code]
    return Step(name, entry, params, inputs, outputs, tuple(str(a) for a in after),
                tuple(str(c) for c in code))


def _input(where: str, name: str, spec: Any) -> Input:
    if isinstance(spec, str):  # always another step's output: files are {path: …}
        step, _, output = spec.partition(".")
        if _NAME.fullmatch(step) and _NAME.fullmatch(output):
            return Input(name, "step", spec, step, output)
    if isinstance(spec, dict) and len(spec) == 1:
        (kind, ref), = spec.items()
        if kind in ("path", "table"):
            return Input(name, kind, str(ref))
        if kind == "step":
            return _input(where, name, str(ref))
    raise InvalidArgument(f"{where}: input {name!r} must be 'step.output', {{path: file}} or "
                          f"{{table: location}}; got {spec!r}")


def _output(where: str, name: str, spec: Any) -> Output:
    if isinstance(spec, str):
        spec = {"artifact": spec}
    if isinstance(spec, dict) and len(spec) == 1:
        (kind, location), = spec.items()
        if kind in ("artifact", "table") and isinstance(location, str) and location.strip():
            return Output(name, kind, _output_location(where, name, kind, location))
    raise InvalidArgument(f"{where}: output {name!r} must be {{artifact: path}} or "
                          f"{{table: location}}; got {spec!r}")


def _output_location(where: str, name: str, kind: str, location: str) -> str:
    """The normalized location of an output, checked before any step runs.

    An artifact path is relative and stays inside the step run's artifacts; a
    relative table location stays inside ``<store>/workflow_data/<workflow>/``
    (a URI or an absolute path names a table elsewhere on purpose, as documented).
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in location):
        raise InvalidArgument(f"{where}: output {name!r} location {location!r} holds "
                              "control characters")
    if kind == "table" and ("://" in location or location.startswith("/")):
        return location
    norm = posixpath.normpath(location.replace("\\", "/"))
    if norm.startswith("/") or norm == ".." or norm.startswith("../") or norm == "." \
            or ":" in norm.split("/")[0]:
        inside = ("the step run's artifacts" if kind == "artifact"
                  else "<store>/workflow_data/<workflow>/")
        raise InvalidArgument(f"{where}: output {name!r} {{{kind}: {location!r}}} must be a "
                              f"relative path that stays inside {inside} (no '..', not "
                              "absolute)")
    return norm
