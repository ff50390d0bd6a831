"""Batch scoring of a Delta or Parquet table with a logged model, into a Delta table.

Every output row carries the input columns, the prediction and where it came
from: the model URI, the model's uuid and the run that logged it, so a score
can be traced back to its model in SQL (join ``logged_models`` on
``model_uuid``). A registered model (``models:/name@alias``, ``/Production``,
``/3``) is resolved to one version when the job starts; its name and version
are on every row (null for a model given by run or path).

The scores' lineage (a ``scoring_outputs`` row) is recorded after the output commit,
best-effort: a failure to record it is logged as a warning, not raised, because the
scores are committed by then and a caller retrying a raised job would append them
twice. The rows reported are those this job's commit wrote (found in the Delta log by
the commit's ``userMetadata`` tag), not the output table's total.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any, Sequence

from lakeml.errors import InvalidArgument
from lakeml.spark.session import spark_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)


def input_format_of(path: str, input_format: str | None = None) -> str:
    """``delta`` when ``path/_delta_log`` exists (or asked), else ``parquet``."""
    import fsspec

    if input_format is None:
        fs, root = fsspec.core.url_to_fs(path)
        input_format = "delta" if fs.exists(f"{root.rstrip('/')}/_delta_log") else "parquet"
    if input_format not in ("delta", "parquet"):
        raise InvalidArgument(f"input format {input_format!r} is not one of delta, parquet")
    return input_format


def read_table(spark: SparkSession, path: str, input_format: str | None = None, *,
               version: int | None = None) -> DataFrame:
    """A Delta table (when ``path/_delta_log`` exists, or asked; at ``version`` if given)
    or Parquet files."""
    reader = spark.read.format(input_format_of(path, input_format))
    if version is not None:
        reader = reader.option("versionAsOf", int(version))
    return reader.load(spark_path(path))


def score(spark: SparkSession, model_uri: str, frame: DataFrame, *,
          columns: Sequence[str] | None = None, result_type: Any = "double",
          prediction_column: str = "prediction") -> DataFrame:
    """``frame`` with the model's prediction and its provenance columns added."""
    from pyspark.sql import functions as F

    from lakeml.models.descriptor import Model
    from lakeml.models.spark_udf import spark_udf
    from lakeml.models.uri import local_model_path

    name = version = None
    if str(model_uri).startswith("models:"):
        # Pin the version once: an alias or stage that moves while the job runs
        # must not mix two models in one output.
        from lakeml.models.registration import resolve_models_uri

        registered = resolve_models_uri(model_uri)
        name, version = registered.name, registered.version
        model_uri = f"models:/{name}/{version}"
    meta = Model.load(local_model_path(model_uri))
    schema = meta.input_schema
    wanted = list(columns) if columns else (
        schema.names() if schema is not None and schema.has_names else frame.columns)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InvalidArgument(f"the input has no column(s) {missing} that the model takes; "
                              f"its columns: {frame.columns}")
    if prediction_column in frame.columns:
        raise InvalidArgument(f"the input already has a column {prediction_column!r}; "
                              "choose another prediction column name")
    udf = spark_udf(spark, model_uri, result_type=result_type)
    return frame.select(
        "*", udf(*[F.col(f"`{c}`") for c in wanted]).alias(prediction_column),
        F.lit(str(model_uri)).alias("model_uri"),
        F.lit(name).cast("string").alias("model_name"),
        F.lit(version).cast("int").alias("model_version"),
        F.lit(meta.model_uuid).cast("string").alias("model_uuid"),
        F.lit(meta.run_id).cast("string").alias("model_run_id"),
        F.current_timestamp().alias("scored_at"))


def _model_inputs(model_uri: str, columns: Sequence[str], chosen: Sequence[str] | None
                  ) -> list[str]:
    """The input columns the model was given (as :func:`score` chose them)."""
    from lakeml.models.descriptor import Model
    from lakeml.models.uri import local_model_path

    if chosen:
        return list(chosen)
    schema = Model.load(local_model_path(model_uri)).input_schema
    if schema is not None and schema.has_names:
        return [str(n) for n in schema.names()]
    return [c for c in columns if c not in _PROVENANCE]


_PROVENANCE = ("prediction", "model_uri", "model_name", "model_version", "model_uuid",
               "model_run_id", "scored_at")


def score_table(spark: SparkSession, model_uri: str, input_path: str, output_path: str, *,
                input_format: str | None = None, mode: str = "append",
                log_store: str | None = None, **options: Any) -> int:
    """Score ``input_path`` into the Delta table ``output_path``; returns the rows written.
    With ``log_store``, the scores are also appended to that store's inference log."""
    if mode not in ("append", "overwrite"):
        raise InvalidArgument(f"mode {mode!r} is not one of append, overwrite")
    model_uri = _pinned(model_uri)  # one version for the scores and their lineage
    input_format = input_format_of(input_path, input_format)
    input_version = _delta_version(input_path) if input_format == "delta" else None
    scored = score(spark, model_uri, read_table(spark, input_path, input_format,
                                                version=input_version), **options)
    if log_store is not None:
        from lakeml.spark.inference_log import log_scores

        scored = scored.persist()  # scored once, written twice
        inputs = _model_inputs(model_uri, scored.columns, options.get("columns"))
        log_scores(scored, log_store, inputs, options.get("prediction_column", "prediction"))
    tag = f"lakeml-scoring-{uuid.uuid4().hex}"
    scored.write.format("delta").mode(mode).option("userMetadata", tag) \
        .save(spark_path(output_path))
    if log_store is not None:
        scored.unpersist()
    version, rows = written_by(output_path, tag)
    if rows is None:  # a writer that keeps no metrics: the table's growth at that commit
        def count(v: int) -> int:
            return spark.read.format("delta").option("versionAsOf", v) \
                .load(spark_path(output_path)).count()
        rows = count(version) - (count(version - 1) if mode == "append" and version else 0)
    record_lineage(model_uri, _versioned(input_path, input_version),
                   _versioned(output_path, version), rows)
    return rows


def written_by(path: str, tag: str, depth: int = 1000) -> tuple[int, int | None]:
    """(version, rows added) of the commit of Delta table ``path`` whose ``userMetadata``
    is ``tag`` (among its last ``depth`` commits: other writers may have committed since);
    rows is None when the writer kept no row count. Not found: (the latest version, None).
    """
    from deltalake import DeltaTable

    from lakeml import config

    table = DeltaTable(path, storage_options=config.storage_options() or None)
    for commit in table.history(depth):
        if commit.get("userMetadata") == tag:
            metrics = commit.get("operationMetrics") or {}
            rows = metrics.get("numOutputRows", metrics.get("num_added_rows"))
            return int(commit["version"]), None if rows is None else int(rows)
    return table.version(), None


def record_lineage(model_uri: str, input_node: str, output_node: str, rows: int) -> bool:
    """:func:`record_scoring`, best-effort: False (and a warning) when it failed."""
    try:
        record_scoring(model_uri, input_node, output_node, rows)
        return True
    except Exception as exc:  # noqa: BLE001 - the scores are committed: never fail after
        log.warning("scores written to %s (%d rows) but their lineage could not be "
                    "recorded: %s: %s", output_node, rows, type(exc).__name__, exc)
        return False


def _pinned(model_uri: str) -> str:
    """``models:/name@alias`` or ``/Stage`` as ``models:/name/version`` (others as given)."""
    if not str(model_uri).startswith("models:"):
        return model_uri
    from lakeml.models.registration import resolve_models_uri

    registered = resolve_models_uri(model_uri)
    return f"models:/{registered.name}/{registered.version}"


def _delta_version(path: str) -> int:
    from deltalake import DeltaTable

    from lakeml import config

    return DeltaTable(path, storage_options=config.storage_options() or None).version()


def _versioned(path: str, version: int | None) -> str:
    """A lineage node: ``<absolute path>@v<N>`` for a Delta version, else the path."""
    import os

    if "://" not in path:
        path = os.path.abspath(path)
    return path if version is None else f"{path}@v{version}"


def record_scoring(model_uri: str, input_node: str, output_node: str, rows: int) -> None:
    """Append the job's lineage to the current store's ``scoring_outputs`` table: the
    pinned model (name, version, uuid, run) scored ``input_node`` into ``output_node``."""
    import pyarrow as pa

    from lakeml import config, fluent
    from lakeml.models.descriptor import Model
    from lakeml.models.uri import local_model_path
    from lakeml.store import open_tables
    from lakeml.times import now_us

    meta = Model.load(local_model_path(model_uri))
    name = version = None
    if model_uri.startswith("models:/"):
        name, _, number = model_uri.removeprefix("models:/").rpartition("/")
        version = int(number)
    schema = open_tables.core_schema(open_tables.SCORING_OUTPUTS)
    row = {"model_uri": model_uri, "model_name": name, "model_version": version,
           "model_uuid": meta.model_uuid, "run_id": meta.run_id, "input": input_node,
           "output": output_node, "rows": rows, "time": now_us()}
    table = pa.Table.from_pylist([row], schema=pa.schema(
        [f.with_type(pa.int64()) if f.name == "time" else f for f in schema]))
    table = table.set_column(table.schema.get_field_index("time"), "time",
                             table.column("time").cast(schema.field("time").type))
    open_tables.append(fluent.get_store_uri(), open_tables.SCORING_OUTPUTS, table,
                       storage_options=config.storage_options() or None)
