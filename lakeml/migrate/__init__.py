"""Moving in from MLflow: ``lakeml import mlflow SOURCE --store URI``.

:func:`import_mlflow` reads an MLflow store (a sqlite database or an
``mlruns`` folder, directly, without MLflow installed) and writes
everything it holds into a lakeml store, keeping ids: experiments, runs with
their params, full metric histories, tags and dataset inputs, artifacts,
logged models and the model registry. :func:`verify` compares both sides.
Loading the models MLflow saved is :mod:`lakeml.models.mlflow_format`'s part.
"""

from __future__ import annotations

from lakeml.migrate.importer import ImportSummary, import_mlflow
from lakeml.migrate.verify import Difference, verify

__all__ = ["Difference", "ImportSummary", "import_mlflow", "verify"]
