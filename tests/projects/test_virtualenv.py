"""--env-manager virtualenv: a python_env file becomes a cached, isolated virtualenv."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import lakeml
from lakeml.errors import InvalidArgument
from lakeml.projects import envs

from .conftest import EXAMPLES, lakeml_cli, run_id_of

VENV = EXAMPLES / "venv_project"


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envs")


@pytest.mark.slow
def test_python_env_runs_in_a_virtualenv_built_once_per_content_hash(tmp_path, env_cache):
    assert importlib.util.find_spec("inflection") is None  # only the project's env has it
    store = str(tmp_path / "lake")
    env = {"LAKEML_ENV_CACHE": str(env_cache)}
    proc = lakeml_cli("run", str(VENV), "-P", "word=delta_lake", "--store", store,
                      "--format", "json", env=env)
    run = lakeml.Client(store).get_run(run_id_of(proc))
    tags = run.data.tags
    assert tags["mlflow.project.env"] == "virtualenv"  # the default for a python_env
    key = tags["lakeml.project.envHash"]
    venv = env_cache / key
    assert tags["env.prefix"] == str(venv)
    assert tags["env.inflection_file"].startswith(str(venv / "lib"))
    assert tags["env.inflection_version"] == "0.5.1"
    assert run.data.params == {"word": "delta_lake", "camelized": "DeltaLake"}
    ready = venv / ".lakeml-ready"
    built = ready.stat().st_mtime_ns

    again = lakeml_cli("run", str(VENV), "--store", store, "--format", "json", env=env)
    run2 = lakeml.Client(store).get_run(run_id_of(again))
    assert run2.data.tags["lakeml.project.envHash"] == key
    assert run2.data.params["camelized"] == "DataScientist"
    assert ready.stat().st_mtime_ns == built  # reused, not rebuilt
    assert sorted(p.name for p in env_cache.iterdir() if p.is_dir()) == [key]

    # the same project in the current environment lacks the pinned package
    local = lakeml_cli("run", str(VENV), "--env-manager", "local", "--store", store, env=env)
    assert local.returncode == 1
    assert "No module named 'inflection'" in local.stderr


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
