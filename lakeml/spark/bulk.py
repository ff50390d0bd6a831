"""Bulk logging from Spark: a DataFrame of finished trials becomes runs in one distributed
write per table.

The columns follow :func:`lakeml.tracking.bulk.log_runs` (``params.<key>``,
``metrics.<key>``, ``tags.<key>``, and optionally ``run_name``, ``status``,
``start_time``, ``end_time`` in ms), and so do the rows written: a run logged
from Spark reads back exactly as one logged from pandas. Each table gets one
Delta append carrying an app transaction (``txnAppId``), the runs table
last, so a run is visible only once its params, tags and metrics are.
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING, Any

from lakeml import config, system_tags, times
from lakeml import validation as v
from lakeml.entities import LifecycleStage, RunStatus
from lakeml.errors import InvalidArgument
from lakeml.spark.session import refuse_unsafe_s3_commit, table_path
from lakeml.spark.views import resolve_store
from lakeml.tracking.bulk import split_columns

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from lakeml.client import Client
    from lakeml.store.store import Store


def _run_ids(now_ms: int) -> Column:
    """UUIDv7-shaped ids: this job's millisecond and random bits, then the row's
    ``monotonically_increasing_id`` scrambled with a per-job nonce (unique per row)."""
    from pyspark.sql import functions as F

    prefix = f"{now_ms:012x}7{secrets.randbits(12):03x}"
    low = (F.monotonically_increasing_id().bitwiseXOR(F.lit(secrets.randbits(62)))
           .bitwiseAND(F.lit((1 << 62) - 1))
           .bitwiseOR(F.lit(-(1 << 63))))  # the UUID variant bits "10"; negative, so 16 hex
    return F.concat(F.lit(prefix), F.lower(F.hex(low)))


def _python_float_text(values: Column) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf

    from lakeml.spark.udfs import float_param_text

    as_text = pandas_udf(float_param_text, "string")  # type: ignore[call-overload]
    # pandas sees a null as NaN: keep nulls null outside the UDF
    return F.when(values.isNull(), F.lit(None)).otherwise(as_text(values))


def _param_value(df: DataFrame, column: str) -> Column:
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    col = F.col(f"`{column}`")
    if isinstance(df.schema[column].dataType, (DoubleType, FloatType)):
        return _python_float_text(col)  # a float32 keeps its own shortest text (0.1)
    return col.cast("string")


def _times(df: DataFrame, column: str, default: Column) -> Column:
    from pyspark.sql import functions as F

    if column not in df.columns:
        return default
    return F.timestamp_millis(F.col(column).cast("long"))


def _check(base: DataFrame, groups: dict[str, list[tuple[str, str]]]) -> None:
    """One pass over the trials: unknown statuses, missing times, over-long params."""
    from pyspark.sql import functions as F

    checks = []
    if "status" in base.columns:
        checks.append(F.collect_set(F.when(~F.col("status").isin(*RunStatus.ALL),
                                           F.col("status"))).alias("bad_status"))
    for column in ("start_time", "end_time"):
        if column in base.columns:
            checks.append(F.sum(F.col(column).isNull().cast("int")).alias(f"null_{column}"))
    for column, _key in groups["params"]:
        checks.append(F.max(F.length(_param_value(base, column))).alias(f"len:{column}"))
    if not checks:
        return
    found = base.agg(*checks).first().asDict()
    if found.get("bad_status"):
        raise InvalidArgument(f"log_runs: unknown status {sorted(found['bad_status'])}; "
                              f"valid: {list(RunStatus.ALL)}")
    for column in ("start_time", "end_time"):
        if found.get(f"null_{column}"):
            raise InvalidArgument(f"log_runs: column {column!r} has missing values")
    for column, _key in groups["params"]:
        longest = found[f"len:{column}"] or 0
        if longest > v.MAX_PARAM_VALUE_LENGTH:
            raise InvalidArgument(f"log_runs: column {column!r} has a value of {longest} "
                                  f"characters; the limit is {v.MAX_PARAM_VALUE_LENGTH}")


def _key_values(df: DataFrame, pairs: list[tuple[Column, str]]) -> DataFrame:
    """One row per (run, key) whose value is not null, from (value column, key) pairs."""
    from pyspark.sql import functions as F

    entries = F.array(*[F.struct(F.lit(key).alias("key"), value.alias("value"))
                        for value, key in pairs])
    return (df.select("run_id", "_end", F.explode(entries).alias("kv"))
            .select("run_id", "_end", "kv.key", "kv.value")
            .where(F.col("value").isNotNull()))


def log_runs(df: DataFrame, experiment: str | None = None, *, experiment_id: str | None = None,
             store: Store | Client | str | None = None,
             tags: dict[str, Any] | None = None) -> DataFrame:
    """Log one finished run per row of Spark DataFrame ``df`` into experiment ``experiment``
    (a name, created if missing) or ``experiment_id``; returns ``df`` with a ``run_id``
    column, materialised once (the ids never change on re-evaluation).

    Example:
        >>> results = spark.createDataFrame(trials)      # params.* and metrics.* columns
        >>> lakeml.spark.log_runs(results, "grid-search").count()   # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    from lakeml.client import Client
    from lakeml.store import schemas

    if (experiment is None) == (experiment_id is None):
        raise InvalidArgument("log_runs: give exactly one of experiment (a name) and "
                              "experiment_id")
    groups = split_columns(df.columns)
    fixed_tags = {**system_tags.default_tags(config.current_user()),
                  **{k: v.tag_value(v.check_key(k, "tag key"), x) for k, x in (tags or {}).items()}}
    resolved = resolve_store(store)
    refuse_unsafe_s3_commit(df.sparkSession, resolved.uri)
    client = Client(resolved.uri)
    if experiment_id is not None:
        exp = client.active_experiment(str(experiment_id))
    now_ms = times.now_ms()
    now = F.timestamp_millis(F.lit(now_ms))
    base = df.withColumn("run_id", _run_ids(now_ms)).localCheckpoint(eager=True)
    _check(base, groups)
    if experiment is not None:  # created only once the trials are known to be valid
        found = client.get_experiment_by_name(experiment)
        exp = client.active_experiment(found.experiment_id if found is not None
                                       else client.create_experiment(experiment))

    end = _times(base, "end_time", now)
    trials = base.select(
        "run_id", end.alias("_end"), _times(base, "start_time", now).alias("_start"),
        (F.col("status").cast("string") if "status" in base.columns
         else F.lit(RunStatus.FINISHED)).alias("_status"),
        (F.col("run_name").cast("string") if "run_name" in base.columns
         else F.concat(F.lit("run-"), F.substring("run_id", 25, 8))).alias("_name"),
        *[F.col(f"`{c}`") for g in groups.values() for c, _ in g])
    seq = F.lit(resolved.clock.next())
    app_id = f"lakeml.spark.log_runs.{uuid.uuid4().hex}"

    def append(name: str, rows: DataFrame) -> None:
        schema = schemas.TABLES[name]
        (rows.select(*[F.col(f.name) for f in schema])
         .sortWithinPartitions("run_id", *(["key"] if "key" in schema.names else []))
         .write.format("delta").mode("append")
         .option("txnAppId", app_id).option("txnVersion", 0)
         .save(table_path(resolved, name)))

    if groups["params"]:
        params = _key_values(trials, [(_param_value(base, c), k) for c, k in groups["params"]])
        append("params", params.withColumn("timestamp", F.col("_end")))
    tag_pairs = [(F.lit(str(value)), key) for key, value in fixed_tags.items()]
    tag_pairs.append((F.col("_name"), system_tags.RUN_NAME))
    tag_pairs += [(F.col(f"`{c}`").cast("string"), v.check_key(k, "tag key"))
                  for c, k in groups["tags"]]
    tag_rows = _key_values(trials, tag_pairs)
    append("tags", tag_rows.select("run_id", "key", "value", F.lit(False).alias("deleted"),
                                   F.col("_end").alias("timestamp"), seq.alias("seq")))
    if groups["metrics"]:
        points = _key_values(trials, [(F.col(f"`{c}`").cast("double"), k)
                                      for c, k in groups["metrics"]])
        points = points.select("run_id", "key", "value", F.lit(0).cast("long").alias("step"),
                               F.col("_end").alias("timestamp"))
        append("metrics", points)
        append("metric_latest", points)  # one point per run and key: it is its own latest
    append("runs", trials.select(
        "run_id", F.lit(exp.experiment_id).alias("experiment_id"),
        F.col("_name").alias("run_name"), F.lit(config.current_user()).alias("user_id"),
        F.col("_status").alias("status"), F.col("_start").alias("start_time"),
        F.col("_end").alias("end_time"),
        F.concat(F.lit(f"{exp.artifact_location}/"), "run_id", F.lit("/artifacts"))
        .alias("artifact_uri"),
        F.lit(LifecycleStage.ACTIVE).alias("lifecycle_stage"),
        F.lit(None).cast("string").alias("parent_run_id"), seq.alias("seq")))
    return base

