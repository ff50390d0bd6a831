"""What score_table reports after its output commit, without Spark: the rows of this
job's commit (found by its tag, past later commits), and lineage that cannot fail it."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import CommitProperties, DeltaTable, write_deltalake

from lakeml.spark.scoring import record_lineage, written_by


def test_the_rows_are_those_of_the_tagged_commit_not_the_table(tmp_path: Path) -> None:
    path = str(tmp_path / "scores")
    write_deltalake(path, pa.table({"p": [1.0, 2.0, 3.0]}))  # an earlier job's scores
    write_deltalake(path, pa.table({"p": [4.0, 5.0]}), mode="append",
                    commit_properties=CommitProperties(custom_metadata={"userMetadata": "job"}))
    write_deltalake(path, pa.table({"p": [6.0]}), mode="append")  # a later writer
    assert written_by(path, "job") == (1, 2)
    assert written_by(path, "another job") == (2, None)
    assert DeltaTable(path).to_pyarrow_table().num_rows == 6


def test_lineage_that_cannot_be_recorded_is_a_warning_not_an_error(
        store_uri: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lakeml.spark.scoring"):
        assert record_lineage("runs:/0123456789abcdef/no-model", "/in@v0", "/out@v3",
                              7) is False
    assert "/out@v3 (7 rows)" in caplog.text and "lineage could not be recorded" in caplog.text
