"""A store with one logged scikit-learn model, and a permissions file helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import lakeml


@pytest.fixture(scope="session")
def iris_model() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=1000).fit(X, y), X


@pytest.fixture
def model_uri(store_uri: str, iris_model: tuple[Any, Any]) -> str:
    """runs:/ URI of a logged iris classifier in the test's store."""
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(iris_model[0], "model")
    return f"runs:/{run.info.run_id}/model"


@pytest.fixture
def folder_model(tmp_path: Path, iris_model: tuple[Any, Any]) -> str:
    """A model saved to a plain folder (no run)."""
    path = tmp_path / "saved-model"
    lakeml.sklearn.save_model(iris_model[0], path)
    return str(path)


POLICY = {
    "roles": {
        "scientist": {"register": True, "transition": ["None", "Staging"],
                      "request": ["Production", "Archived"]},
        "reviewer": {"approve": ["Staging", "Production", "Archived"], "alias": True},
        "admin": {"admin": True},
    },
    "users": {"ana": ["scientist"], "rui": ["reviewer"], "root-admin": ["admin"],
              "both": ["scientist", "reviewer"]},
    "default_roles": [],
}


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Turn on the permissions file POLICY; returns its path."""
    path = tmp_path / "permissions.yaml"
    path.write_text(yaml.safe_dump(POLICY))
    monkeypatch.setenv("LAKEML_PERMISSIONS", str(path))
    return path


def act_as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    monkeypatch.setenv("LAKEML_USER", user)
