"""lakeml.spark.load_dataset: Spark reads a logged dataset at its logged version, and
refuses a table that was replaced."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from deltalake import write_deltalake

import lakeml
import lakeml.spark
from lakeml.errors import InvalidState


def test_spark_reads_the_logged_version(spark, tmp_path: Path):
    table = str(tmp_path / "events")
    write_deltalake(table, pd.DataFrame({"id": [1, 2, 3], "kind": ["a", "b", "a"]}))
    logged = lakeml.data.DatasetInput(lakeml.data.from_delta(table, profile=False), "training")
    write_deltalake(table, pd.DataFrame({"id": [4], "kind": ["c"]}), mode="append")
    write_deltalake(table, pd.DataFrame({"id": [9], "kind": ["z"]}), mode="overwrite")

    # collect(), not toPandas(): pyspark 4.0's toPandas warns under pandas 3
    rows = sorted(tuple(r) for r in lakeml.spark.load_dataset(spark, logged).collect())
    assert rows == [(1, "a"), (2, "b"), (3, "a")]
    assert rows == sorted(lakeml.data.load(logged).itertuples(index=False, name=None))

    shutil.rmtree(table)
    write_deltalake(table, pd.DataFrame({"id": [1, 2, 3], "kind": ["a", "b", "a"]}))
    with pytest.raises(InvalidState, match="replaced"):
        lakeml.spark.load_dataset(spark, logged)
