"""lakeml.sql: the views' columns, results in every format, time travel, the CLI."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

import lakeml
from lakeml.cli import main
from lakeml.errors import InvalidArgument

VIEW_COLUMNS = {
    "runs": ["run_id", "experiment_id", "run_name", "user_id", "status", "start_time",
             "end_time", "artifact_uri", "lifecycle_stage", "parent_run_id"],
    "params": ["run_id", "key", "value"],
    "metrics": ["run_id", "key", "value", "step", "timestamp"],
    "latest_metrics": ["run_id", "key", "value", "step", "timestamp"],
    "tags": ["run_id", "key", "value"],
    "experiments": ["experiment_id", "name", "artifact_location", "lifecycle_stage",
                    "creation_time", "last_update_time"],
}


def test_views_have_mlflow_column_names(store_uri: str) -> None:
    for view, columns in VIEW_COLUMNS.items():
        assert lakeml.sql(f"SELECT * FROM {view}").columns == columns, view
    assert "inputs" in {r[0] for r in lakeml.sql("SELECT view_name FROM duckdb_views()")
                        .fetchall()}


def test_results_in_every_format_see_unflushed_rows(store_uri: str) -> None:
    with lakeml.start_run(run_name="r1"):
        lakeml.log_metrics({"acc": 0.5, "loss": float("nan")}, step=2)
        lakeml.log_metric("acc", 0.75, step=3)
        rel = lakeml.sql("SELECT key, value, step FROM latest_metrics ORDER BY key")
        rows = rel.fetchall()  # read-your-writes before end_run flushes
    assert rows[0] == ("acc", 0.75, 3) and rows[1][0] == "loss" and rows[1][1] != rows[1][1]
    df = lakeml.sql("SELECT * FROM metrics WHERE key = ?", ["acc"]).df()
    assert sorted(df["value"]) == [0.5, 0.75]
    assert lakeml.sql("SELECT count(*) AS n FROM runs").arrow().read_all().to_pylist() == [
        {"n": 1}]
    assert lakeml.sql("SELECT run_name FROM runs").pl()["run_name"].to_list() == ["r1"]


def test_as_of_versions_and_times(store_uri: str) -> None:
    with lakeml.start_run(run_name="first"):
        lakeml.log_param("p", "1")
    pinned = lakeml.store_versions()
    moment = datetime.now(timezone.utc)
    time.sleep(0.05)
    with lakeml.start_run(run_name="second"):
        lakeml.log_param("p", "2")
    query = "SELECT run_name FROM runs ORDER BY run_name"
    assert lakeml.sql(query).fetchall() == [("first",), ("second",)]
    assert lakeml.sql(query, as_of=pinned).fetchall() == [("first",)]
    assert lakeml.sql(query, as_of=moment).fetchall() == [("first",)]
    assert lakeml.sql(query, as_of=moment.isoformat()).fetchall() == [("first",)]
    assert lakeml.sql(query, as_of="2001-01-01").fetchall() == []
    with pytest.raises(InvalidArgument, match="one number"):
        lakeml.sql(query, as_of=3)
    with pytest.raises(InvalidArgument, match="no version 999"):
        lakeml.sql(query, as_of={**pinned, "runs": 999}).fetchall()
    with pytest.raises(InvalidArgument, match="yesterday"):
        lakeml.sql(query, as_of="yesterday")


def test_bad_sql_names_the_problem(store_uri: str) -> None:
    with pytest.raises(InvalidArgument, match="no_such_column"):
        lakeml.sql("SELECT no_such_column FROM runs")


def test_cli_prints_and_writes_files(store_uri: str, tmp_path: Path, capsys) -> None:
    with lakeml.start_run(run_name="cli"):
        lakeml.log_metric("m", 2.0)
    assert main(["sql", "SELECT run_name, status FROM runs", "--store", store_uri]) == 0
    out = capsys.readouterr().out
    assert "cli" in out and "FINISHED" in out
    for name in ("out.csv", "out.parquet"):
        target = tmp_path / name
        assert main(["sql", "SELECT * FROM latest_metrics", "--store", store_uri,
                     "--output", str(target)]) == 0
        assert duckdb.sql(f"SELECT key, value FROM '{target}'").fetchall() == [("m", 2.0)]
    assert main(["sql", "SELECT 1", "--store", store_uri, "--output", "x.txt"]) == 1
    assert "x.txt" in capsys.readouterr().err


def test_nan_is_seen_in_files_whose_statistics_omit_it(store_uri: str) -> None:
    # Parquet min/max statistics leave NaN out; DuckDB must not trust them to
    # decide that isnan() is false for the whole file.
    with lakeml.start_run():
        lakeml.log_metrics({"a": 0.5, "b": float("nan"), "c": 0.9})
    assert lakeml.sql("SELECT key FROM latest_metrics WHERE isnan(value)").fetchall() == [("b",)]
    assert lakeml.sql("SELECT key FROM lake_metrics WHERE isnan(value)").fetchall() == [("b",)]
