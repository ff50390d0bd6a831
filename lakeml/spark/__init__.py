"""lakeml in Spark: a Delta-enabled session, the tables and views as DataFrames, and bulk
logging from a DataFrame. Importing this module needs pyspark (``pip install
'lakeml[spark]'``); the rest of lakeml never imports it.

Example:
    >>> import lakeml.spark
    >>> spark = lakeml.spark.session()                        # doctest: +SKIP
    >>> lakeml.spark.runs(spark, "/data/lake").count()        # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.spark.bulk import log_runs
from lakeml.spark.datasets import load_dataset
from lakeml.spark.jars import DELTA_VERSION
from lakeml.spark.s3a import configure as configure_s3a
from lakeml.spark.session import session
from lakeml.spark.views import query, register_views, table, view

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakeml.client import Client
    from lakeml.store.store import Store

__all__ = [
    "DELTA_VERSION", "configure_s3a", "experiments", "inputs", "latest_metrics",
    "load_dataset", "log_runs", "metrics",
    "model_versions", "params", "query", "register_views",
    "registered_models", "runs", "session", "table", "tags", "view",
]



def runs(spark: SparkSession, store: Store | Client | str | None = None) -> DataFrame:
    """Current state of every run (the ``runs`` view)."""
    return view(spark, "runs", store)


def metrics(spark: SparkSession, store: Store | Client | str | None = None) -> DataFrame:
    """Every metric point ever logged (the ``metrics`` view)."""
    return view(spark, "metrics", store)


def latest_metrics(spark: SparkSession,
                   store: Store | Client | str | None = None) -> DataFrame:
    """The latest point of each metric of each run (the ``latest_metrics`` view)."""
    return view(spark, "latest_metrics", store)


def params(spark: SparkSession, store: Store | Client | str | None = None) -> DataFrame:
    """One row per run and param (the ``params`` view)."""
    return view(spark, "params", store)


def tags(spark: SparkSession, store: Store | Client | str | None = None) -> DataFrame:
    """Current tags of each run (the ``tags`` view)."""
    return view(spark, "tags", store)


def experiments(spark: SparkSession, store: Store | Client | str | None = None) -> DataFrame:
    """Current state of every experiment (the ``experiments`` view)."""
    return view(spark, "experiments", store)


def inputs(spark: SparkSession, store: Store | Client | str | None = None) -> DataFrame:
    """Datasets each run used (the ``inputs`` view)."""
    return view(spark, "inputs", store)


def model_versions(spark: SparkSession, store: Store | Client | str | None = None) -> DataFrame:
    """Current versions of the registered models (the ``model_versions`` view)."""
    return view(spark, "model_versions", store)


def registered_models(spark: SparkSession,
                      store: Store | Client | str | None = None) -> DataFrame:
    """Current registered models (the ``registered_models`` view)."""
    return view(spark, "registered_models", store)
