"""--env-manager virtualenv: a python_env file becomes a cached, isolated virtualenv."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import shutil
import zipfile
from pathlib import Path

import pytest

import lakeml
from lakeml.errors import InvalidArgument
from lakeml.projects import envs

from .conftest import EXAMPLES, lakeml_cli, run_id_of

MODULE = """__version__ = "0.1.0"


def camelize(word):
    return "".join(part.capitalize() for part in word.split("_"))
"""


def write_wheel(folder: Path) -> Path:
    """A pure-Python wheel of the tiny module ``tinycase``, made here (no download)."""
    def digest(data: bytes) -> str:
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode(
            ).rstrip("=")

    info = "tinycase-0.1.0.dist-info"
    files = {
        "tinycase.py": MODULE.encode(),
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: tinycase\nVersion: 0.1.0\n",
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: lakeml-tests\n"
                         b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},{digest(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "tinycase-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envs")


@pytest.fixture(scope="module")
def venv_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project, with the wheel its python_env.yaml installs."""
    folder = tmp_path_factory.mktemp("venv") / "venv_project"
    shutil.copytree(EXAMPLES / "venv_project", folder)
    write_wheel(folder / "wheels")
    return folder


@pytest.mark.slow
def test_python_env_runs_in_a_virtualenv_built_once_per_content_hash(tmp_path, env_cache,
                                                                    venv_project):
    assert importlib.util.find_spec("tinycase") is None  # only the project's env has it
    project = venv_project
    store = str(tmp_path / "lake")
    env = {"LAKEML_ENV_CACHE": str(env_cache)}
    proc = lakeml_cli("run", str(project), "-P", "word=delta_lake", "--store", store,
                      "--format", "json", env=env)
    run = lakeml.Client(store).get_run(run_id_of(proc))
    tags = run.data.tags
    assert tags["mlflow.project.env"] == "virtualenv"  # the default for a python_env
    key = tags["lakeml.project.envHash"]
    venv = env_cache / key
    assert tags["env.prefix"] == str(venv)
    assert tags["env.tinycase_file"].startswith(str(venv / "lib"))
    assert tags["env.tinycase_version"] == "0.1.0"
    assert run.data.params == {"word": "delta_lake", "camelized": "DeltaLake"}
    ready = venv / ".lakeml-ready"
    built = ready.stat().st_mtime_ns

    again = lakeml_cli("run", str(project), "--store", store, "--format", "json", env=env)
    run2 = lakeml.Client(store).get_run(run_id_of(again))
    assert run2.data.tags["lakeml.project.envHash"] == key
    assert run2.data.params["camelized"] == "DataScientist"
    assert ready.stat().st_mtime_ns == built  # reused, not rebuilt
    assert sorted(p.name for p in env_cache.iterdir() if p.is_dir()) == [key]

    # the same project in the current environment lacks the pinned package
    local = lakeml_cli("run", str(project), "--env-manager", "local", "--store", store, env=env)
    assert local.returncode == 1
    assert "No module named 'tinycase'" in local.stderr


def test_a_changed_python_env_file_gets_another_environment_key(tmp_path):
    file = tmp_path / "python_env.yaml"
    file.write_text("dependencies: [inflection==0.5.1]\n")
    first = envs.content_hash(file)
    file.write_text("dependencies: [inflection==0.5.0]\n")
    assert envs.content_hash(file) != first
    file.write_text("python: '2.7'\ndependencies: []\n")
    with pytest.raises(InvalidArgument, match="python '2.7' is not the Python running lakeml"):
        envs.virtualenv(file)
    file.write_text("dependencies: inflection\n")
    with pytest.raises(InvalidArgument, match="dependencies must be a list"):
        envs.virtualenv(file)
