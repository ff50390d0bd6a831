"""Small real models trained on scikit-learn's bundled datasets (no downloads)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def sk_model(iris: tuple[Any, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    return LogisticRegression(max_iter=1000).fit(X, y)
