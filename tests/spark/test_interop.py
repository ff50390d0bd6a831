"""Both writers, one table: delta-spark reads and appends to what deltalake wrote and the
reverse, losing nothing (protocol, timestamps, NaN and infinities, map and struct columns)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

import lakeml
import lakeml.spark

ROWS_SCHEMA = pa.schema([
    pa.field("id", pa.int64(), nullable=False),
    pa.field("at", pa.timestamp("us", tz="UTC")),
    pa.field("value", pa.float64()),
    pa.field("labels", pa.map_(pa.string(), pa.string())),
    pa.field("point", pa.struct([pa.field("x", pa.float64()), pa.field("tag", pa.string())])),
])
T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)


def python_rows(first: int) -> pa.Table:
    return pa.table({
        "id": [first, first + 1, first + 2],
        "at": [T0, T0.replace(microsecond=1), None],
        "value": [math.nan, -math.inf, 0.5],
        "labels": [[("a", "1")], [], None],
        "point": [{"x": math.inf, "tag": "p"}, None, {"x": -0.0, "tag": None}],
    }, schema=ROWS_SCHEMA)


def as_python(table: pa.Table) -> list[dict]:
    rows = table.sort_by("id").to_pylist()
    for row in rows:
        row["labels"] = None if row["labels"] is None else dict(row["labels"])
        row["value"] = repr(row["value"])  # NaN != NaN; repr keeps -0.0 and the infinities
        if row["point"] is not None:
            row["point"]["x"] = repr(row["point"]["x"])
    return rows


def read_deltalake(path: str) -> pa.Table:
    import duckdb

    files = DeltaTable(path).file_uris()
    return duckdb.sql(f"SELECT * FROM read_parquet({files!r})").to_arrow_table()


def test_spark_appends_to_a_deltalake_table_and_deltalake_appends_back(spark, tmp_path):
    from pyspark.sql import Row

    path = str(tmp_path / "t")
    write_deltalake(path, python_rows(0))
    protocol = DeltaTable(path).protocol()
    schema = DeltaTable(path).schema().to_arrow()

    # Spark reads every value deltalake wrote
    frame = spark.read.format("delta").load(path)
    got = {r["id"]: r for r in frame.collect()}
    assert math.isnan(got[0]["value"]) and got[1]["value"] == -math.inf
    assert got[0]["at"].astimezone(timezone.utc) == T0
    assert got[0]["labels"] == {"a": "1"} and got[1]["labels"] == {}
    assert got[0]["point"]["x"] == math.inf and got[1]["point"] is None

    # Spark appends rows built from the ones it read, with new ids
    again = spark.createDataFrame([Row(**{**r.asDict(), "id": r["id"] + 10})
                                   for r in frame.collect()], frame.schema)
    again.write.format("delta").mode("append").save(path)
    # deltalake appends after Spark
    write_deltalake(path, python_rows(20), mode="append")

    table = DeltaTable(path)
    assert table.protocol() == protocol  # neither writer upgraded the table
    assert table.schema().to_arrow() == schema
    rows = as_python(read_deltalake(path))
    assert [r["id"] for r in rows] == [0, 1, 2, 10, 11, 12, 20, 21, 22]
    expected = as_python(python_rows(0))
    for shift in (0, 10, 20):
        part = [r for r in rows if shift <= r["id"] < shift + 3]
        assert [{**r, "id": r["id"] - shift} for r in part] == expected

    # and Spark sees the three writers' rows
    assert spark.read.format("delta").load(path).count() == 9


def test_deltalake_appends_to_a_table_spark_created(spark, tmp_path):
    path = str(tmp_path / "t")
    frame = spark.createDataFrame(python_rows(0).to_pandas().drop(columns=["labels", "point"]))
    frame.write.format("delta").save(path)
    write_deltalake(path, python_rows(5).drop_columns(["labels", "point"]).cast(
        pa.schema([f.with_nullable(True) for f in ROWS_SCHEMA if f.name in
                   ("id", "at", "value")])), mode="append")
    ids = sorted(r["id"] for r in spark.read.format("delta").load(path).collect())
    assert ids == [0, 1, 2, 5, 6, 7]
    at = {r["id"]: r["at"] for r in spark.read.format("delta").load(path).collect()}
    assert at[5].astimezone(timezone.utc) == T0 == at[0].astimezone(timezone.utc)


def test_spark_appended_metrics_are_lakeml_rows(spark, tmp_path):
    """A metric point that Spark appends to lakeml's own table is a point of the run,
    NaN included, and the min/max statistics Spark writes do not hide it from filters."""
    from pyspark.sql import functions as F

    uri = str(tmp_path / "lake")
    client = lakeml.Client(uri)
    exp = client.create_experiment("e")
    run = client.create_run(exp)
    rid = run.info.run_id
    client.log_metric(rid, "m", 1.0, step=0, timestamp=1_000)
    client.flush()
    path = f"{uri}/tables/metrics"
    points = spark.createDataFrame(
        [(rid, "m", math.nan, 1, 2_000), (rid, "m", 9.0, 2, 3_000)],
        "run_id string, key string, value double, step long, ms long",
    ).select("run_id", "key", "value", "step", F.timestamp_millis("ms").alias("timestamp"))
    points.write.format("delta").mode("append").save(path)
    points.write.format("delta").mode("append").save(f"{uri}/tables/metric_latest")

    history = lakeml.Client(uri).get_metric_history(rid, "m")
    assert [(m.step, m.timestamp) for m in history] == [(0, 1_000), (1, 2_000), (2, 3_000)]
    assert math.isnan(history[1].value) and history[2].value == 9.0
    found = lakeml.Client(uri).search_runs([exp], "metrics.m > 5")
    assert [r.info.run_id for r in found] == [rid]
