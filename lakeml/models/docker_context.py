"""Docker images for models: a build context that serves one model with ``lakeml models serve``.

``generate_dockerfile(model_uri, directory)`` writes a context any Docker (or
Podman, Kaniko, BuildKit…) builds without lakeml installed:

* ``model/``: the model folder (from a folder, ``runs:/``, ``models:/`` or a
  storage URI; MLflow-saved folders too);
* ``requirements.txt``: the model's own pinned requirements (minus ``lakeml``
  and ``mlflow``, which the image does not need: lakeml reads MLflow's
  formats itself) and lakeml's runtime dependencies pinned at the versions
  installed here;
* ``lakeml/``: this lakeml, copied as a package (lakeml may not be on the
  image's package index), found through ``PYTHONPATH``;
* ``entrypoint.sh``: ``lakeml models serve`` of ``model/`` on 0.0.0.0
  (``PORT``, default 8080; ``LAKEML_WORKERS``, default 1);
* ``Dockerfile``: ``python:<this Python's X.Y>-slim``, the requirements, a
  non-root user, the entry point.

``build_docker(model_uri, name)`` writes the context to a temporary folder
and runs ``docker build -t NAME`` on it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from lakeml.errors import InvalidArgument, InvalidState, NotSupported

DEFAULT_PORT = 8080
_NOT_IN_IMAGE = {"lakeml", "mlflow", "mlflow-skinny", "mlflow-tracing"}
_CORE_FALLBACK = ("deltalake", "duckdb", "fsspec", "numpy", "pandas", "pyarrow", "pyyaml")

_ENTRYPOINT = """#!/bin/sh
# Serve the model of this image over HTTP (POST /invocations, GET /ping) on 0.0.0.0.
set -e
exec python -m lakeml models serve --model-uri "${LAKEML_MODEL_DIR:-/opt/ml/model}" \\
    --host 0.0.0.0 --port "${PORT:-%(port)d}" --workers "${LAKEML_WORKERS:-1}" "$@"
"""

_DOCKERFILE = """# Serves one model with `lakeml models serve` (lakeml models generate-dockerfile).
FROM python:%(python)s-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PYTHONPATH=/opt/lakeml \\
    LAKEML_MODEL_DIR=/opt/ml/model \\
    PORT=%(port)d

WORKDIR /opt/ml
COPY requirements.txt /opt/ml/requirements.txt
RUN pip install --no-cache-dir -r /opt/ml/requirements.txt \\
    && useradd --create-home --uid 10001 lakeml

COPY lakeml /opt/lakeml/lakeml
COPY model /opt/ml/model
COPY entrypoint.sh /opt/ml/entrypoint.sh

USER 10001
EXPOSE %(port)d
ENTRYPOINT ["/bin/sh", "/opt/ml/entrypoint.sh"]
"""


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement line."""
    import re

    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1).lower().replace("_", "-").replace(".", "-") if match else ""


def _pinned(name: str) -> str | None:
    try:
        return f"{name}=={metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return None


def lakeml_runtime_requirements() -> list[str]:
    """lakeml's own dependencies (no extras), pinned at the versions installed here."""
    try:
        declared = [r for r in metadata.requires("lakeml") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        declared = []
    names = [_name(r) for r in declared] or list(_CORE_FALLBACK)
    return [p for p in (_pinned(n) for n in names) if p]


def image_requirements(model_folder: Path) -> list[str]:
    """The image's requirement lines: the model's (without lakeml and MLflow) and
    lakeml's runtime ones; for a package named twice, the model's line wins."""
    lines: list[str] = []
    file = model_folder / "requirements.txt"
    if file.is_file():
        for raw in file.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-") and _name(line) not in _NOT_IN_IMAGE:
                lines.append(line)
    have = {_name(line) for line in lines}
    lines += [r for r in lakeml_runtime_requirements() if _name(r) not in have]
    return lines


def _check_links(folder: Path) -> None:
    """Refuse a model folder holding a symbolic link that leads out of it: copied into the
    build context, the file it names (a key, a password file) would end up in the image."""
    root = folder.resolve()
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            real = path.resolve()
            if real != root and root not in real.parents:
                raise InvalidArgument(f"the model folder {str(folder)!r} holds a link "
                                      f"{str(path)!r} to {str(real)!r}, outside the model: "
                                      "refusing to put it into a build context")


def generate_dockerfile(model_uri: str, directory: str | os.PathLike[str], *,
                        port: int = DEFAULT_PORT, python_version: str | None = None) -> Path:
    """Write a Docker build context serving ``model_uri`` into ``directory``; returns the
    Dockerfile's path.

    Example:
        >>> generate_dockerfile("models:/reg@champion", "ctx")   # doctest: +SKIP
        PosixPath('ctx/Dockerfile')
    """
    from lakeml.models.uri import local_model_path

    if not 1 <= port <= 65535:
        raise InvalidArgument(f"port must be 1-65535, got {port}")
    python = python_version or ".".join(platform.python_version_tuple()[:2])
    if not all(part.isdigit() for part in python.split(".")):
        raise InvalidArgument(f"python_version must look like 3.11, got {python!r}")
    out = Path(directory).expanduser()
    if out.exists() and any(out.iterdir()):
        raise InvalidArgument(f"cannot write a build context into {str(out)!r}: the folder "
                              "is not empty")
    folder = Path(local_model_path(model_uri))
    _check_links(folder)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(folder, out / "model", symlinks=True)  # a link stays a link
    package = Path(__file__).resolve().parents[1]  # this lakeml
    shutil.copytree(package, out / "lakeml",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    sql = package.parent / "sql"  # a checkout keeps sql/ beside the package
    if not (out / "lakeml" / "sql").exists() and sql.is_dir():
        shutil.copytree(sql, out / "lakeml" / "sql")
    (out / "requirements.txt").write_text("\n".join(image_requirements(folder)) + "\n")
    (out / "entrypoint.sh").write_text(_ENTRYPOINT % {"port": port})
    (out / "entrypoint.sh").chmod(0o755)
    dockerfile = out / "Dockerfile"
    dockerfile.write_text(_DOCKERFILE % {"python": python, "port": port})
    return dockerfile


def build_docker(model_uri: str, name: str, *, port: int = DEFAULT_PORT,
                 docker: str = "docker") -> str:
    """Build image ``name`` serving ``model_uri`` with ``docker build``; returns its name.

    Raises NotSupported when ``docker`` is not on PATH, InvalidState (with docker's own
    output) when the build fails.
    """
    import tempfile

    if not name or any(c.isspace() for c in name):
        raise InvalidArgument(f"image name must be a non-empty name without spaces, "
                              f"got {name!r}")
    binary = shutil.which(docker)
    if binary is None:
        raise NotSupported(f"cannot build an image: {docker!r} is not on PATH. Install "
                           "Docker, or write the build context with `lakeml models "
                           "generate-dockerfile -m URI -d DIR` and build it elsewhere")
    with tempfile.TemporaryDirectory(prefix="lakeml-docker-") as tmp:
        context = Path(tmp) / "context"
        generate_dockerfile(model_uri, context, port=port)
        proc = subprocess.run([binary, "build", "-t", name, str(context)],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        raise InvalidState(f"`docker build -t {name}` failed (exit {proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return name
