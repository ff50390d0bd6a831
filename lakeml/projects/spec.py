"""The project file: MLflow's MLproject format, read and checked.

A project is a folder holding an ``MLproject`` file (``MLproject.yaml`` is
accepted too) with ``name``, ``entry_points`` (each a ``command`` template
and typed ``parameters``) and at most one of ``python_env``, ``conda_env``,
``docker_env``. A folder without the file is a project whose entry points are
its ``.py`` and ``.sh`` files, as in MLflow. lakeml adds ``workflows`` (see
lakeml/projects/workflow_spec.py and docs/projects.md).
"""

from __future__ import annotations

import math
import os
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlparse

from lakeml.errors import InvalidArgument, NotFound

PROJECT_FILES = ("MLproject", "MLproject.yaml", "MLproject.yml")
PARAM_TYPES = ("float", "int", "string", "path", "uri")
_KNOWN_KEYS = {"name", "entry_points", "python_env", "conda_env", "docker_env", "workflows"}


@dataclass(frozen=True)
class Parameter:
    """A declared parameter: its type and default (None: required)."""

    name: str
    type: str = "string"
    default: str | None = None

    def check(self, value: str, *, base: Path) -> str:
        """The value as passed to the command; raises InvalidArgument naming it if bad.

        ``path`` values must exist (relative ones are taken from ``base``) and
        become absolute; ``uri`` values that are local paths become absolute.
        """
        text = str(value)
        if self.type == "float":
            try:
                number = float(text)
            except ValueError:
                raise InvalidArgument(f"parameter {self.name!r} must be a float, got "
                                      f"{text!r}") from None
            if math.isnan(number):
                raise InvalidArgument(f"parameter {self.name!r} must be a float, got NaN")
            return text
        if self.type == "int":
            try:
                int(text)
            except ValueError:
                raise InvalidArgument(f"parameter {self.name!r} must be an int, got "
                                      f"{text!r}") from None
            return text
        if self.type == "path":
            if _has_scheme(text) and not text.startswith("file:"):
                raise InvalidArgument(f"parameter {self.name!r} is a path; {text!r} is a "
                                      "remote URI (declare the parameter as type uri)")
            local = Path(urlparse(text).path if text.startswith("file:") else text).expanduser()
            local = local if local.is_absolute() else base / local
            if not local.exists():
                raise InvalidArgument(f"parameter {self.name!r}: path {text!r} does not exist "
                                      f"(looked for {local})")
            return str(local.resolve())
        if self.type == "uri" and not _has_scheme(text):
            local = Path(text).expanduser()
            return str((local if local.is_absolute() else base / local).resolve())
        return text


def _has_scheme(text: str) -> bool:
    scheme = urlparse(text).scheme
    return len(scheme) > 1  # a Windows drive letter is not a scheme


@dataclass(frozen=True)
class EntryPoint:
    """A named command template and its parameters."""

    name: str
    command: str
    parameters: Mapping[str, Parameter] = field(default_factory=dict)

    def resolve(self, given: Mapping[str, Any], *, project_dir: Path,
                cwd: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
        """(declared values, extra values) after type checks and defaults.

        Values given by the caller that are relative paths are taken from
        ``cwd`` (the caller's folder); defaults from the project folder.
        Parameters that the entry point does not declare pass through as
        strings, appended to the command as ``--name value``.
        """
        cwd = cwd or Path.cwd()
        missing = [p.name for p in self.parameters.values()
                   if p.default is None and p.name not in given]
        if missing:
            raise InvalidArgument(
                f"entry point {self.name!r} needs parameter(s) {missing} that have no default;"
                f" pass them with -P name=value")
        declared: dict[str, str] = {}
        for name, param in self.parameters.items():
            if name in given:
                declared[name] = param.check(str(given[name]), base=cwd)
            else:
                declared[name] = param.check(str(param.default), base=project_dir)
        extra = {str(k): str(v) for k, v in given.items() if k not in self.parameters}
        return declared, extra

    def command_line(self, declared: Mapping[str, str], extra: Mapping[str, str]) -> str:
        """The shell command: the template filled with quoted values, extras appended."""
        values = {k: shlex.quote(v) for k, v in declared.items()}
        try:
            command = self.command.format(**values)
        except KeyError as exc:
            raise InvalidArgument(f"entry point {self.name!r}: command {self.command!r} uses "
                                  f"{{{exc.args[0]}}}, which is not a declared parameter") \
                from None
        except (IndexError, ValueError) as exc:
            raise InvalidArgument(f"entry point {self.name!r}: bad command template "
                                  f"{self.command!r}: {exc}") from None
        for key, value in extra.items():
            command += f" --{shlex.quote(key)} {shlex.quote(value)}"
        return command


@dataclass(frozen=True)
class Project:
    """A parsed project folder."""

    name: str
    folder: Path
    entry_points: Mapping[str, EntryPoint]
    env_type: str  # "python_env", "conda_env", "docker_env" or "none"
    env: Any = None  # the python_env / conda_env file (Path) or the docker_env mapping
    workflows: Mapping[str, Any] = field(default_factory=dict)
    file: Path | None = None

    def entry_point(self, name: str) -> EntryPoint:
        """The entry point ``name``; a ``.py`` or ``.sh`` file of the project also is one."""
        if name in self.entry_points:
            return self.entry_points[name]
        if name.endswith((".py", ".sh")) and (self.folder / name).is_file():
            runner = "python" if name.endswith(".py") else os.environ.get("SHELL", "bash")
            return EntryPoint(name, f"{runner} {shlex.quote(name)}")
        raise NotFound(f"project {self.name!r} has no entry point {name!r}; entry points: "
                       f"{sorted(self.entry_points)} (or a .py/.sh file of the project)")


def find_project_file(folder: Path) -> Path | None:
    """The MLproject file of ``folder``, or None."""
    for name in PROJECT_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def load_project(folder: str | os.PathLike[str]) -> Project:
    """Read and check the project in ``folder``.

    Example:
        >>> project = load_project("examples/sklearn_wine")        # doctest: +SKIP
        >>> project.entry_point("main").parameters["alpha"].type   # doctest: +SKIP
        'float'
    """
    path = Path(folder).resolve()
    if not path.is_dir():
        raise NotFound(f"project folder {os.fspath(folder)!r} does not exist")
    file = find_project_file(path)
    if file is None:
        env_type, env = "none", None
        if (path / "python_env.yaml").is_file():
            env_type, env = "python_env", path / "python_env.yaml"
        elif (path / "conda.yaml").is_file():
            env_type, env = "conda_env", path / "conda.yaml"
        return Project(path.name, path, {}, env_type, env)
    import yaml

    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{file}: must hold a mapping, got {type(data).__name__}")
    unknown = set(data) - _KNOWN_KEYS
    if unknown:
        raise InvalidArgument(f"{file}: unknown field(s) {sorted(unknown)}; known: "
                              f"{sorted(_KNOWN_KEYS)}")
    envs = [k for k in ("python_env", "conda_env", "docker_env") if data.get(k)]
    if len(envs) > 1:
        raise InvalidArgument(f"{file}: give at most one of python_env, conda_env, docker_env;"
                              f" got {envs}")
    env_type, env = (envs[0], data[envs[0]]) if envs else ("none", None)
    if env_type in ("python_env", "conda_env"):
        env = path / str(env)
        if not env.is_file():
            raise NotFound(f"{file}: {env_type} file {str(data[env_type])!r} does not exist")
    elif env_type == "docker_env" and not (isinstance(env, dict) and env.get("image")):
        raise InvalidArgument(f"{file}: docker_env must be a mapping with an image, got {env!r}")
    raw_entries = data.get("entry_points") or {}
    if not isinstance(raw_entries, dict):
        raise InvalidArgument(f"{file}: entry_points must be a mapping of name -> entry point,"
                              f" got {raw_entries!r}")
    entry_points = {str(name): _entry_point(file, str(name), spec)
                    for name, spec in raw_entries.items()}
    workflows = data.get("workflows") or {}
    if not isinstance(workflows, dict):
        raise InvalidArgument(f"{file}: workflows must be a mapping of name -> workflow")
    return Project(str(data.get("name") or path.name), path, entry_points, env_type, env,
                   workflows, file)


def quoted_placeholders(command: str) -> list[str]:
    """The ``{name}`` placeholders of a command template that sit inside shell quotes
    (or right after a backslash), where the quoting of their values does not protect
    them: ``"{x}"`` with x = ``$(rm -rf ~)`` runs the command substitution."""
    try:
        parts = list(string.Formatter().parse(command))
    except ValueError:
        return []  # a bad template fails with its own message when it is filled
    quote: str | None = None
    escaped = False
    found = []
    for literal, field_name, _, _ in parts:
        for char in literal:
            if escaped:
                escaped = False
            elif quote == "'":
                quote = None if char == "'" else quote
            elif char == "\\":
                escaped = True
            elif quote == '"':
                quote = None if char == '"' else quote
            elif char in "'\"":
                quote = char
        if field_name is not None:
            if quote or escaped:
                found.append(field_name)
            escaped = False
    return found


def _entry_point(file: Path, name: str, spec: Any) -> EntryPoint:
    command = spec if isinstance(spec, str) else \
        spec.get("command") if isinstance(spec, dict) else None
    if not isinstance(command, str):
        raise InvalidArgument(f"{file}: entry point {name!r} needs a command string, got "
                              f"{spec!r}")
    quoted = quoted_placeholders(command)
    if quoted:
        raise InvalidArgument(
            f"{file}: entry point {name!r}: {', '.join(f'{{{q}}}' for q in quoted)} in "
            f"command {command!r} is inside quotes (or after a backslash), where its value "
            "is not protected from the shell; remove those quotes: lakeml quotes every "
            "value itself")
    if isinstance(spec, str):
        return EntryPoint(name, spec)
    params = {}
    raw_params = spec.get("parameters") or {}
    if not isinstance(raw_params, dict):
        raise InvalidArgument(f"{file}: parameters of entry point {name!r} must be a mapping, "
                              f"got {raw_params!r}")
    for pname, pspec in raw_params.items():
        pname = str(pname)
        if isinstance(pspec, str):  # "alpha: float"
            ptype, default = pspec, None
        elif isinstance(pspec, dict):
            ptype, default = str(pspec.get("type", "string")), pspec.get("default")
        else:
            ptype, default = "string", pspec  # "alpha: 0.5", a default only
        if ptype not in PARAM_TYPES:
            raise InvalidArgument(f"{file}: parameter {pname!r} of entry point {name!r} has "
                                  f"type {ptype!r}; valid types: {list(PARAM_TYPES)}")
        params[pname] = Parameter(pname, ptype, None if default is None else str(default))
    return EntryPoint(name, spec["command"], params)
