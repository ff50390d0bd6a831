"""lakeml: ML lifecycle tracking whose every record is a row in a Delta Lake table.

Example:
    >>> import lakeml
    >>> lakeml.set_store("/tmp/lake")                      # doctest: +SKIP
    >>> with lakeml.start_run(run_name="ridge-1"):         # doctest: +SKIP
    ...     lakeml.log_param("alpha", 0.5)
    ...     lakeml.log_metric("loss", 0.1, step=1)
"""

from __future__ import annotations

from lakeml import data, errors
from lakeml.client import Client
from lakeml.entities import RunStatus, ViewType
from lakeml.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_tag,
    end_run,
    flush,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_run,
    get_store_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_input,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    register_model,
    search_runs,
    set_experiment,
    set_store,
    set_tag,
    set_tags,
    sql,
    start_run,
    store_versions,
)
from lakeml.version import __version__

# Submodules loaded on first attribute access (``lakeml.sklearn.log_model``), so
# ``import lakeml`` imports no ML library.
# ``lakeml.autolog()`` works because the autolog package is callable (lakeml/autolog/__init__.py).
_LAZY_SUBMODULES = frozenset({"autolog", "lightgbm", "models", "projects", "pyfunc", "pytorch",
                              "sklearn", "spark_ml", "xgboost"})


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"lakeml.{name}")
    raise AttributeError(f"module 'lakeml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_SUBMODULES)

__all__ = [
    "ActiveRun",
    "Client",
    "RunStatus",
    "ViewType",
    "__version__",
    "active_run",
    "create_experiment",
    "data",
    "delete_experiment",
    "delete_tag",
    "end_run",
    "errors",
    "flush",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_store_uri",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "register_model",
    "search_runs",
    "set_experiment",
    "set_store",
    "set_tag",
    "set_tags",
    "sql",
    "start_run",
    "store_versions",
]
