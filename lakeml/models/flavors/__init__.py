"""The model flavors, one module each, by name (a tiny registry: adding one touches no other).

The public faces are ``lakeml.pyfunc``, ``lakeml.sklearn``, ``lakeml.xgboost``,
``lakeml.lightgbm`` and ``lakeml.pytorch``; each flavor's MLmodel entry names
its face as ``loader_module``, whose ``_load_pyfunc(path)`` loads it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FLAVORS: dict[str, str] = {
    "sklearn": "lakeml.models.flavors.sklearn",
    "xgboost": "lakeml.models.flavors.xgboost",
    "lightgbm": "lakeml.models.flavors.lightgbm",
    "pytorch": "lakeml.models.flavors.pytorch",
}


def flavor_module(name: str) -> ModuleType:
    """The implementation module of flavor ``name``."""
    if name not in FLAVORS:
        from lakeml.errors import InvalidArgument

        raise InvalidArgument(f"unknown flavor {name!r}; known: {sorted(FLAVORS)}")
    return importlib.import_module(FLAVORS[name])
