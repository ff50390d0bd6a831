"""Autolog tests: every test starts and ends with autologging off and a fresh store."""

from __future__ import annotations

from typing import Any

import pytest

from lakeml.autolog import patching


@pytest.fixture(autouse=True)
def _autolog_off(store_uri: str):
    patching.reset()
    yield
    patching.reset()


@pytest.fixture(scope="session")
def iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    return X, y


@pytest.fixture(scope="session")
def cancer() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X, y


def all_runs() -> list[Any]:
    import lakeml

    lakeml.flush()
    return lakeml.search_runs(search_all_experiments=True, output_format="list")
