"""The model flavors, by name: a tiny registry, so adding one touches no other.

Each flavor's implementation lives in ``lakeml/models/flavors/<name>.py``; its
public face is ``FLAVORS[name]`` (``save_model``, ``log_model``,
``load_model``, ``_load_pyfunc``), which is also the ``loader_module`` its
MLmodel names: ``lakeml.<name>``, except the ``spark`` flavor, whose face is
``lakeml.spark_ml`` because ``lakeml.spark`` is the Spark integration. Adding a
flavor: the two modules, one entry here, and a case in tests/models/test_flavors.py
(whose contract test walks this registry).
"""

from __future__ import annotations

import importlib
from types import ModuleType

FLAVORS: dict[str, str] = {
    "sklearn": "lakeml.sklearn",
    "xgboost": "lakeml.xgboost",
    "lightgbm": "lakeml.lightgbm",
    "pytorch": "lakeml.pytorch",
    # MLflow's flavor name; lakeml.spark is the Spark integration (sessions, views).
    "spark": "lakeml.spark_ml",
}


def flavor_module(name: str) -> ModuleType:
    """The public module of flavor ``name`` (e.g. ``lakeml.sklearn``)."""
    if name not in FLAVORS:
        from lakeml.errors import InvalidArgument

        raise InvalidArgument(f"unknown flavor {name!r}; known: {sorted(FLAVORS)}")
    return importlib.import_module(FLAVORS[name])
