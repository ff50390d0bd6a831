"""The environment a project's command runs in: local, virtualenv, conda or docker.

``local`` runs the command with the interpreter running lakeml first on
PATH. ``virtualenv`` builds, once per content hash of the python_env file,
a virtual environment under ``LAKEML_ENV_CACHE`` (default
``~/.cache/lakeml/envs``) and installs the file's dependencies into it. The
virtualenv is layered over the environment running lakeml (a ``.pth`` file
adds that environment's site-packages *after* the virtualenv's own), so the
command can ``import lakeml`` and log into its run without reinstalling
lakeml and its Delta/Arrow stack; packages the project pins are found first.
This is ``--system-site-packages`` with lakeml's environment as the base,
so the Python minor version must be the one running lakeml. ``conda`` and
``docker`` need conda and a reachable Docker engine; without them the error
says so and how to run anyway.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakeml import config
from lakeml.errors import InvalidArgument, NotFound

ENV_MANAGERS = ("local", "virtualenv", "conda", "docker")
_READY = ".lakeml-ready"


@dataclass
class Environment:
    """How to launch a command: a prefix of argv and variables to add."""

    manager: str
    path: Path | None = None  # the virtualenv or conda prefix
    content_hash: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    wrap: list[str] = field(default_factory=list)

    def argv(self, command: str) -> list[str]:
        """The argv that runs shell ``command`` in this environment."""
        return [*self.wrap, "bash", "-c", command]

    def environ(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this environment's variables (PATH first) applied."""
        env = dict(base)
        for key, value in self.variables.items():
            if key in ("PATH", "PYTHONPATH") and env.get(key):
                env[key] = value + os.pathsep + env[key]
            else:
                env[key] = value
        return env


def default_manager(env_type: str) -> str:
    """The env manager that a project's declared environment asks for."""
    return {"python_env": "virtualenv", "conda_env": "conda",
            "docker_env": "docker"}.get(env_type, "local")


def prepare(manager: str | None, env_type: str, env: Any, *, project_dir: Path,
            store_uri: str | None = None) -> Environment:
    """The environment to run a project in, built (or found in the cache) now."""
    manager = manager or default_manager(env_type)
    if manager not in ENV_MANAGERS:
        raise InvalidArgument(f"env manager {manager!r} is not one of {list(ENV_MANAGERS)}")
    if manager == "local":
        return Environment("local", variables={"PATH": str(Path(sys.executable).parent)})
    if manager == "virtualenv":
        if env_type == "python_env":
            return virtualenv(Path(env))
        if env_type == "none" and (project_dir / "python_env.yaml").is_file():
            return virtualenv(project_dir / "python_env.yaml")
        raise InvalidArgument(f"--env-manager virtualenv needs a python_env file; the project "
                              f"declares {env_type}; use --env-manager local")
    if manager == "conda":
        if env_type != "conda_env":
            raise InvalidArgument(f"--env-manager conda needs a conda_env file; the project "
                                  f"declares {env_type}")
        return _conda(Path(env))
    if env_type != "docker_env":
        raise InvalidArgument(f"--env-manager docker needs a docker_env; the project declares "
                              f"{env_type}")
    return _docker(env, project_dir, store_uri or config.store_uri())


# ---- virtualenv -------------------------------------------------------------------
def _read_python_env(file: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(file.read_text()) or {}
    if not isinstance(data, dict):
        raise InvalidArgument(f"{file}: a python_env file holds a mapping with python, "
                              "build_dependencies and dependencies")
    unknown = set(data) - {"python", "build_dependencies", "dependencies"}
    if unknown:
        raise InvalidArgument(f"{file}: unknown field(s) {sorted(unknown)}; known: "
                              "python, build_dependencies, dependencies")
    for key in ("build_dependencies", "dependencies"):
        deps = data.get(key) or []
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise InvalidArgument(f"{file}: {key} must be a list of requirement strings, "
                                  f"got {deps!r}")
    return data


def _check_python(file: Path, wanted: Any) -> None:
    if wanted is None:
        return
    have = f"{sys.version_info.major}.{sys.version_info.minor}"
    text = str(wanted)
    if text != have and not text.startswith(have + "."):
        raise InvalidArgument(
            f"{file}: python {text!r} is not the Python running lakeml ({sys.version.split()[0]});"
            f" lakeml's virtualenvs are layered over its own environment and need Python {have}"
            "; change the file or run with --env-manager local")


def env_cache() -> Path:
    """The folder holding built environments (``LAKEML_ENV_CACHE``)."""
    chosen = config.get("env_cache")
    return Path(chosen).expanduser() if chosen else Path.home() / ".cache" / "lakeml" / "envs"


def content_hash(file: Path) -> str:
    """The cache key of a python_env file: its content, the requirement files it names,
    the Python version and the base environment (``sys.prefix``)."""
    digest = hashlib.sha256(file.read_bytes())
    for dep in _read_python_env(file).get("dependencies") or []:
        if dep.startswith(("-r ", "-c ")):
            ref = file.parent / dep[3:].strip()
            if ref.is_file():
                digest.update(ref.read_bytes())
    digest.update(f"{sys.version_info[:2]}|{sys.prefix}".encode())
    return digest.hexdigest()[:20]


def virtualenv(file: Path) -> Environment:
    """The cached virtualenv of python_env ``file``, built under a lock if missing."""
    spec = _read_python_env(file)
    _check_python(file, spec.get("python"))
    key = content_hash(file)
    root = env_cache()
    root.mkdir(parents=True, exist_ok=True)
    path = root / key
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait and reuse it
        if not (path / _READY).is_file():
            shutil.rmtree(path, ignore_errors=True)  # a build that died half-way
            try:
                _build_virtualenv(path, file, spec)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
    variables = {"PATH": str(path / "bin"), "VIRTUAL_ENV": str(path)}
    lakeml_root = _lakeml_root()
    if lakeml_root is not None:
        variables["PYTHONPATH"] = lakeml_root
    return Environment("virtualenv", path, key, variables)


def _site_packages(venv: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / version / "site-packages"


def _build_virtualenv(path: Path, file: Path, spec: dict[str, Any]) -> None:
    from lakeml.progress import phase

    with phase(f"building the virtualenv of {file}"):
        _install(path, file, spec)


def _install(path: Path, file: Path, spec: dict[str, Any]) -> None:
    _run([sys.executable, "-m", "venv", "--without-pip", str(path)], "create the virtualenv")
    base_dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in base_dirs)
    (_site_packages(path) / "zz-lakeml-base-env.pth").write_text(lines)
    deps = [*(spec.get("build_dependencies") or []), *(spec.get("dependencies") or [])]
    args: list[str] = []
    for dep in deps:
        args += shlex.split(dep) if dep.startswith("-") else [dep]
    if args:
        _run([sys.executable, "-m", "pip", "--python", str(path / "bin" / "python"),
              "install", "--disable-pip-version-check", "--quiet", *args],
             f"install the dependencies of {file}", cwd=file.parent)
    (path / _READY).write_text(str(file) + "\n")


def _lakeml_root() -> str | None:
    """lakeml's source folder if the base environment's site-packages do not hold it."""
    # the folder holding lakeml/, found from this file: `import lakeml` would load the
    # whole public API, which sits above projects
    root = str(Path(__file__).resolve().parents[2])
    bases = {str(Path(d).resolve()) for d in site.getsitepackages()}
    return None if root in bases else root


def _run(argv: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise InvalidArgument(f"could not {what}: {' '.join(argv)} exited with "
                              f"{proc.returncode}:\n{proc.stderr.strip()[-2000:]}")


# ---- conda and docker ---------------------------------------------------------------
def _conda(file: Path) -> Environment:
    conda = os.environ.get("LAKEML_CONDA_EXE") or shutil.which("conda") or shutil.which("mamba")
    if conda is None:
        raise NotFound(f"the project declares conda_env {file.name!r} but conda is not on "
                       "PATH; install conda or mamba, or run with --env-manager local (the "
                       "current environment) or virtualenv (with a python_env file)")
    key = hashlib.sha256(file.read_bytes()).hexdigest()[:20]
    prefix = env_cache() / f"conda-{key}"
    if not (prefix / _READY).is_file():
        _run([conda, "env", "create", "--prefix", str(prefix), "--file", str(file)],
             f"create the conda environment of {file}")
        (prefix / _READY).write_text(str(file) + "\n")
    return Environment("conda", prefix, key,
                       wrap=[conda, "run", "--no-capture-output", "--prefix", str(prefix)])


def _docker(spec: dict[str, Any], project_dir: Path, store: str) -> Environment:
    docker = shutil.which("docker")
    if docker is None:
        raise NotFound(f"the project declares docker_env image {spec['image']!r} but docker is "
                       "not on PATH; install Docker, or run with --env-manager local")
    try:
        probe = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"],
                               capture_output=True, text=True, timeout=30)
        reachable = probe.returncode == 0 and probe.stdout.strip() not in ("", "<no value>")
        reason = (probe.stderr.strip() or probe.stdout.strip()).splitlines()
    except subprocess.TimeoutExpired:
        reachable, reason = False, ["`docker info` did not answer within 30 s"]
    if not reachable:
        raise NotFound(f"the project declares docker_env image {spec['image']!r} but no Docker "
                       f"engine is reachable ({reason[-1] if reason else 'docker info failed'});"
                       " start the Docker daemon, or run with --env-manager local")
    wrap = [docker, "run", "--rm", "--network", "host", "-v", f"{project_dir}:{project_dir}",
            "-w", str(project_dir)]
    for volume in spec.get("volumes") or []:
        wrap += ["-v", str(volume)]
    for item in spec.get("environment") or []:
        wrap += ["-e", item if isinstance(item, str) else f"{item[0]}={item[1]}"]
    for name in ("LAKEML_RUN_ID", "LAKEML_STORE", "LAKEML_EXPERIMENT_ID"):
        wrap += ["-e", name]
    if "://" not in store:
        wrap += ["-v", f"{store}:{store}"]
    return Environment("docker", wrap=[*wrap, str(spec["image"])])
