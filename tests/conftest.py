"""Each test gets its own store in tmp_path and a clean fluent state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import lakeml
from lakeml import fluent
from lakeml.tracking import backend

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    for name in ("LAKEML_STORE", "LAKEML_CONF", "LAKEML_EXPERIMENT_NAME",
                 "LAKEML_EXPERIMENT_ID", "LAKEML_RUN_ID", "LAKEML_USER", "LAKEML_PERMISSIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    fluent.reset()
    yield
    fluent.reset()
    backend.close_all()


@pytest.fixture
def store_uri(tmp_path: Path) -> str:
    """A fresh store folder, made the fluent API's store."""
    uri = str(tmp_path / "lake")
    lakeml.set_store(uri)
    return uri


@pytest.fixture
def client(store_uri: str) -> lakeml.Client:
    return lakeml.Client(store_uri)


@pytest.fixture
def autolog_off(store_uri: str):
    """A fresh store, with autologging off before and after the test."""
    from lakeml.autolog import patching

    patching.reset()
    yield
    patching.reset()


@pytest.fixture(scope="session")
def iris() -> tuple[Any, Any]:
    """scikit-learn's iris as a DataFrame with plain column names, and its target."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


@pytest.fixture(scope="session")
def breast_cancer() -> tuple[Any, Any]:
    """scikit-learn's breast_cancer, column names without spaces, and its target."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X, y


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 120,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with lakeml importable."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=str(ROOT))
    if check and proc.returncode != 0:
        raise AssertionError(f"child failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory):
    """moto's S3 server on loopback for the session (tests/object_store.py)."""
    from tests.object_store import moto_server

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
           ) -> dict[str, str]:
    """The AWS variables that point this test (and its child processes) at moto."""
    from tests.object_store import s3_environment

    env = s3_environment(moto_endpoint, tmp_path / "file-cache")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(params=["local", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store, once on a local folder and once on S3 (moto), made the fluent
    API's store: the store-facing tests that take it run on both backends."""
    if request.param == "local":
        uri = str(tmp_path / "lake")
    else:
        from tests.object_store import fresh_prefix

        request.getfixturevalue("s3_env")
        uri = fresh_prefix()
    lakeml.set_store(uri)
    return uri
