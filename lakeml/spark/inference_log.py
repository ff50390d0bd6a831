"""Batch scores as inference log rows: ``jobs/score.py --log-inferences``.

A scoring job's output rows are appended to the store's ``inference_log`` table in the
same layout the scoring server writes (:mod:`lakeml.store.open_tables`): one request
id for the job (``batch-<hex>``), a row number per scored row, the model's identity,
``input_<name>`` columns for the model's inputs and ``prediction``; ``source`` is
``batch`` and ``latency_ms`` is null. Spark appends with a schema merge, casting each
column to the type the table already gives it. A value that type cannot hold (Spark
would silently cut 0.37 to 0 for another model's bigint ``prediction``, or make
"high" a null double) goes instead to a column named for its type,
``prediction__double``, as the scoring server's logger does
(:mod:`lakeml.models.inference_log`); 3.0 still goes to the bigint column.
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
    types = {f.name: f.dataType.simpleString() for f in scored.schema}
    sources = {f"{open_tables.INPUT_PREFIX}{c}": types.get(c) for c in inputs}
    sources[open_tables.PREDICTION] = types.get(prediction_column)
    selected = []
    for name, value in columns.items():
        if name in core:
            selected.append(value.cast(core[name]).alias(name))
            continue
        target, retyped = placement(name, sources.get(name), have)
        if retyped is None:
            selected.append((value.cast(target) if target else value).alias(name))
            continue
        # a value the table's type holds (3.0 in a bigint column) goes there; the others
        # (0.37, "high") to the retyped column, added only when such a value exists
        fits = value.cast(target).cast(sources[name]) == value
        lossy = value.isNotNull() & ~F.coalesce(fits, F.lit(False))
        selected.append(F.when(fits, value.cast(target)).alias(name))
        if scored.filter(lossy).limit(1).count():
            kind = have.get(retyped)
            selected.append(F.when(lossy, value.cast(kind) if kind else value).alias(retyped))
    scored.select(*selected).write.format("delta").mode("append") \
        .option("mergeSchema", "true") \
        .save(spark_path(open_tables.table_uri(store_uri, open_tables.INFERENCE_LOG)))
    return request_id


_WIDENINGS = {("int", "bigint"), ("int", "double"), ("bigint", "double"),
              ("float", "double"), ("int", "float")}
_ARROW_NAMES = {"bigint": "int64", "int": "int32", "boolean": "bool",
                "timestamp": "timestamp_us_tz_utc"}  # as the server's logger names them


def placement(name: str, source: str | None, have: dict[str, str | None]
              ) -> tuple[str | None, str | None]:
    """(the Spark type a model column ``name`` of Spark type ``source`` is cast to, or
    None; the column taking the values that type cannot hold, or None when it holds
    them all): ``name__<source type>`` when the table's ``name`` is of a type that may
    lose ``source`` values (a new column, the same type or a widening lose none).

    Example:
        >>> placement("prediction", "double", {"prediction": "bigint"})
        ('bigint', 'prediction__double')
        >>> placement("prediction", "bigint", {"prediction": "double"})
        ('double', None)
    """
    import re

    target = have.get(name)  # None: a new column, or a type Spark is left to merge
    if target is None or source is None or source == target or \
            (source, target) in _WIDENINGS:
        return target, None
    kind = re.sub(r"[^0-9a-z]+", "_", _ARROW_NAMES.get(source, source).lower()).strip("_")
    return target, f"{name}__{kind}"
