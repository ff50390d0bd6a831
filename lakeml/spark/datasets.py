"""``load_dataset``: a logged dataset as a Spark DataFrame, at the version it was logged.

The Spark twin of ``lakeml.data.load`` for data beyond one machine: a Delta dataset is
read with ``versionAsOf`` after checking the table is the one that was logged (its id),
files from their snapshot in the store when one was taken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.entities.dataset import DELTA_SOURCE, Dataset, DatasetInput
from lakeml.errors import InvalidArgument, InvalidState, NotSupported

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def load_dataset(spark: SparkSession, dataset: Dataset | DatasetInput) -> DataFrame:
    """The data of ``dataset`` (or a run's logged input) as a DataFrame, as logged."""
    if isinstance(dataset, DatasetInput):
        dataset = dataset.dataset
    if not isinstance(dataset, Dataset):
        raise InvalidArgument(f"load_dataset takes a Dataset or a DatasetInput, got "
                              f"{type(dataset).__name__}")
    spec = dataset.source_spec()
    if dataset.source_type == DELTA_SOURCE:
        path, version = spec.get("path"), spec.get("delta_table_version")
        if not isinstance(path, str) or not isinstance(version, int):
            raise InvalidArgument(f"dataset {dataset.name!r} has no Delta path and version "
                                  f"in its source {dataset.source!r}")
        quoted = path.replace("`", "``")
        table_id = spark.sql(f"DESCRIBE DETAIL delta.`{quoted}`").first()["id"]
        if spec.get("delta_table_id") and table_id != spec["delta_table_id"]:
            raise InvalidState(f"the Delta table at {path!r} was replaced since dataset "
                               f"{dataset.name!r} was logged (table id "
                               f"{spec['delta_table_id']} is now {table_id})")
        return spark.read.format("delta").option("versionAsOf", version).load(path)
    if spec.get("format") in ("parquet", "csv"):
        where = spec.get("snapshot") or spec["uri"]
        reader = spark.read.format(spec["format"])
        if spec["format"] == "csv":
            reader = reader.option("header", "true").option("inferSchema", "true")
        return reader.load(where)
    raise NotSupported(f"dataset {dataset.name!r} (source type {dataset.source_type!r}) was "
                       f"described from data in memory, by digest only; Spark loads datasets "
                       f"made by lakeml.data.from_delta and from_files")
