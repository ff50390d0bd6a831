"""Summary tables for BI dashboards, computed in Spark from the sql/summaries/ queries.

Each file of sql/summaries/ becomes a Delta table ``<output>/<name>``,
replaced on every run (Delta keeps the earlier versions for time travel).
The queries are the same files DuckDB runs through ``lakeml.sql``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from lakeml.errors import InvalidArgument
from lakeml.query import sqlfiles
from lakeml.spark.session import spark_path
from lakeml.spark.views import register_views, resolve_store, to_spark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeml.client import Client
    from lakeml.store.store import Store


def summary_params(name: str, *, top: int, maximize: Iterable[str]) -> dict[str, object]:
    """The named parameters that sql/summaries/<name>.sql takes."""
    return {"top": top, "maximize": sorted(set(maximize))} if name == "best_runs" else {}


def materialize(spark: SparkSession, store: Store | Client | str | None = None, *,
                output: str | None = None, top: int = 10,
                maximize: Iterable[str] = ()) -> dict[str, int]:
    """Write every summary table under ``output`` (default ``<store>/summaries``);
    returns the row count of each."""
    from pyspark.sql import functions as F

    if top < 1:
        raise InvalidArgument(f"top must be at least 1, got {top}")
    resolved = resolve_store(store)
    register_views(spark, resolved)
    root = spark_path(output or f"{resolved.uri}/summaries").rstrip("/")
    counts = {}
    for name, text in sqlfiles.summaries():
        args = summary_params(name, top=top, maximize=maximize)
        if "maximize" in args:  # an empty array has no element type: "" is never a key
            args["maximize"] = F.array(*[F.lit(k) for k in args["maximize"] or [""]])
        frame = spark.sql(to_spark(text), args=args)
        (frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
         .save(f"{root}/{name}"))
        counts[name] = spark.read.format("delta").load(f"{root}/{name}").count()
    return counts
