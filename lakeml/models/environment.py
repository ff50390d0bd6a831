"""The environment a model needs, captured from what is installed now.

``requirements.txt`` pins lakeml and the packages the flavor imports, at the
versions installed in this process (``importlib.metadata``), under the name
each was installed as (``xgboost-cpu`` stays ``xgboost-cpu``).
``python_env.yaml`` adds the Python version and the build tools, in MLflow's
format, so ``python -m venv`` + ``pip install -r requirements.txt`` rebuilds it.
"""

from __future__ import annotations

import platform
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Iterable

from lakeml.errors import InvalidArgument

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"

# Distributions that provide a module under another name, tried before a full scan.
_KNOWN = {
    "sklearn": ("scikit-learn",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "torch": ("torch",),
    "yaml": ("PyYAML",),
}


@lru_cache(maxsize=1)
def _all_module_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


@cache
def requirement_for(module: str, *, scan: bool = True) -> str | None:
    """``name==version`` of the installed distribution providing ``module``, or None.

    Names tried directly first; ``scan`` then looks through every installed
    distribution's file list (a few hundred ms, once per process).
    """
    top = module.split(".")[0]
    for name in (*_KNOWN.get(top, ()), top, top.replace("_", "-")):
        try:
            return f"{name}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    for name in _all_module_distributions().get(top, []) if scan else ():
        try:
            return f"{name}=={metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return None


class _Anything:
    """Stands in for every class a pickle names, so reading it runs no model code."""

    def __new__(cls, *args: object, **kwargs: object) -> _Anything:
        return object.__new__(cls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> _Anything:
        return _Anything()

    def __getattr__(self, name: str) -> _Anything:
        return _Anything()

    def __setstate__(self, state: object) -> None:
        pass

    def __setitem__(self, key: object, value: object) -> None:
        pass


def pickled_modules(file: Path) -> set[str]:
    """Top-level modules a pickle file refers to (what unpickling it will import).

    The file is read with every class replaced by a stand-in: nothing of the
    model runs. Standard-library modules are left out. A file this reader
    cannot walk yields an empty set (the flavor's own list still applies).
    """
    import pickle
    import sys

    found: set[str] = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> type:
            found.add(module.split(".")[0])
            return _Anything

    try:
        with open(file, "rb") as fh:
            Recorder(fh).load()
    except Exception:  # noqa: BLE001 - best effort: an exotic pickle just adds nothing
        return set()
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    return {m for m in found if m not in stdlib and m not in ("__main__", "lakeml")}


def lakeml_requirement() -> str:
    from lakeml.version import __version__

    return f"lakeml=={__version__}"


def requirements(modules: Iterable[str], *, pip_requirements: Iterable[str] | None = None,
                 extra_pip_requirements: Iterable[str] | None = None,
                 referenced: Iterable[str] = ()) -> list[str]:
    """The requirement lines of a model whose flavor imports ``modules``.

    ``referenced`` are modules found in the model's pickles; they are looked up
    by name only (no scan), so a module shipped in ``code_paths`` adds nothing.
    ``pip_requirements`` replaces the captured list; ``extra_pip_requirements``
    adds to it (MLflow's two options).
    """
    if pip_requirements is not None:
        lines = [str(r) for r in pip_requirements]
    else:
        lines = [lakeml_requirement()]
        wanted = [(m, True) for m in modules] + [(m, False) for m in sorted(referenced)]
        for module, scan in wanted:
            req = requirement_for(module, scan=scan)
            if req is not None and req not in lines:
                lines.append(req)
    for extra in extra_pip_requirements or ():
        if str(extra) not in lines:
            lines.append(str(extra))
    for line in lines:
        if not line.strip() or "\n" in line:
            raise InvalidArgument(f"bad pip requirement {line!r}: one requirement per entry")
    return lines


def write_environment(folder: Path, lines: list[str]) -> None:
    """Write requirements.txt and python_env.yaml into model folder ``folder``."""
    import yaml

    (folder / REQUIREMENTS_FILE).write_text("\n".join(lines) + "\n")
    build = [r for r in (requirement_for(m, scan=False) for m in ("pip", "setuptools", "wheel"))
             if r]
    env = {"python": platform.python_version(), "build_dependencies": build,
           "dependencies": [f"-r {REQUIREMENTS_FILE}"]}
    (folder / PYTHON_ENV_FILE).write_text(yaml.safe_dump(env, sort_keys=False))
