"""Batch scores as inference log rows: ``jobs/score.py --log-inferences``.

A scoring job's output rows are appended to the store's ``inference_log`` table in the
same layout the scoring server writes (:mod:`lakeml.store.open_tables`): one request
id for the job (``batch-<hex>``), a row number per scored row, the model's identity,
``input_<name>`` columns for the model's inputs and ``prediction``; ``source`` is
``batch`` and ``latency_ms`` is null. Spark appends with a schema merge, casting each
column to the type the table already gives it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Sequence

from lakeml.spark.session import spark_path
from lakeml.store import open_tables

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_SPARK_TYPES = {"string": "string", "large_string": "string", "double": "double",
                "float": "float", "int64": "bigint", "int32": "int", "bool": "boolean",
                "timestamp[us, tz=UTC]": "timestamp"}


def log_scores(scored: DataFrame, store_uri: str, inputs: Sequence[str],
               prediction_column: str = "prediction") -> str:
    """Append ``scored`` (the output of :func:`lakeml.spark.scoring.score`) to the
    inference log of ``store_uri``; returns the job's request id."""
    from pyspark.sql import functions as F

    from lakeml import config

    options = config.storage_options() or None
    open_tables.ensure(store_uri, open_tables.INFERENCE_LOG, options)
    existing = open_tables.schema(store_uri, open_tables.INFERENCE_LOG, options)
    have = {f.name: _SPARK_TYPES.get(str(f.type)) for f in existing} if existing else {}
    request_id = f"batch-{uuid.uuid4().hex}"
    columns = {
        "request_id": F.lit(request_id), "row": F.monotonically_increasing_id(),
        "time": F.col("scored_at"), "model_name": F.col("model_name"),
        "model_version": F.col("model_version"), "model_uuid": F.col("model_uuid"),
        "model_uri": F.col("model_uri"), "source": F.lit("batch"),
        "latency_ms": F.lit(None), "status": F.lit(200), "error": F.lit(None)}
    columns.update({f"{open_tables.INPUT_PREFIX}{c}": F.col(f"`{c}`") for c in inputs})
    columns[open_tables.PREDICTION] = F.col(f"`{prediction_column}`")
    core = {f.name: _SPARK_TYPES[str(f.type)]
            for f in open_tables.core_schema(open_tables.INFERENCE_LOG)}
    selected = []
    for name, value in columns.items():
        target = have.get(name) or core.get(name)
        selected.append((value.cast(target) if target else value).alias(name))
    scored.select(*selected).write.format("delta").mode("append") \
        .option("mergeSchema", "true") \
        .save(spark_path(open_tables.table_uri(store_uri, open_tables.INFERENCE_LOG)))
    return request_id
