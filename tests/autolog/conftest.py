"""Autolog tests: every test starts and ends with autologging off and a fresh store."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _autolog_off(autolog_off: None) -> None:
    """Every test here starts and ends with autologging off (tests/conftest.py)."""


@pytest.fixture(scope="session")
def cancer(breast_cancer: tuple[Any, Any]) -> tuple[Any, Any]:
    return breast_cancer


def all_runs() -> list[Any]:
    import lakeml

    lakeml.flush()
    return lakeml.search_runs(search_all_experiments=True, output_format="list")
