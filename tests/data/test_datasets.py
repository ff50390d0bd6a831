"""Datasets with exact versions: from_delta / from_files describe, log_input records, and
load returns exactly the logged data after the source moved on."""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable, write_deltalake

import lakeml
from lakeml.errors import InvalidArgument, InvalidState, NotFound, NotSupported


def first() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, 3.0, None], "city": ["a", "b", "a", "a"],
                         "n": [10, 20, 30, 40]})


@pytest.fixture
def table(tmp_path: Path) -> str:
    path = str(tmp_path / "customers")
    write_deltalake(path, first())
    return path


def logged_input(dataset: lakeml.data.Dataset) -> lakeml.data.DatasetInput:
    """Log ``dataset`` to a run and read it back from the store, as a later reader would."""
    with lakeml.start_run() as run:
        lakeml.log_input(dataset, context="training")
    (item,) = lakeml.get_run(run.info.run_id).inputs.dataset_inputs
    return item


def test_from_delta_pins_the_version_and_load_time_travels(store_uri: str, table: str):
    ds = lakeml.data.from_delta(table)
    assert ds.source_type == "delta_table"
    spec = ds.source_spec()
    assert spec["path"] == table and spec["delta_table_version"] == 0
    assert ds.name == "customers@v0"
    item = logged_input(ds)
    assert item.dataset == ds and item.context == "training"

    write_deltalake(table, pd.DataFrame({"x": [9.0], "city": ["z"], "n": [90]}), mode="append")
    DeltaTable(table).delete("n = 10")
    write_deltalake(table, pd.DataFrame({"x": [0.0], "city": ["q"], "n": [0]}),
                    mode="overwrite")
    assert DeltaTable(table).version() == 3

    back = lakeml.data.load(item)
    pd.testing.assert_frame_equal(back, first())
    assert lakeml.data.load(item, format="arrow").num_rows == 4
    # the latest version is another dataset, with another digest
    assert lakeml.data.from_delta(table).digest != ds.digest


def test_version_by_number_and_by_time(table: str):
    time.sleep(0.01)
    between = datetime.now(timezone.utc)
    time.sleep(0.01)
    write_deltalake(table, pd.DataFrame({"x": [9.0], "city": ["z"], "n": [90]}), mode="append")
    assert lakeml.data.from_delta(table, version=1).source_spec()["delta_table_version"] == 1
    at_time = lakeml.data.from_delta(table, version=between, profile=False)
    assert at_time.source_spec()["delta_table_version"] == 0
    assert at_time.digest == lakeml.data.from_delta(table, version=0).digest
    iso = lakeml.data.from_delta(table, version=between.isoformat(), profile=False)
    assert iso.source_spec()["delta_table_version"] == 0
    assert json.loads(at_time.profile) == {"num_rows": 4}
    assert len(lakeml.data.load(lakeml.data.from_delta(table, version=1))) == 5


@pytest.mark.parametrize("version, error, words", [
    (7, NotFound, "version 7"), (-1, NotFound, "version -1"),
    ("yesterday-ish", InvalidArgument, "yesterday-ish"), (True, InvalidArgument, "True"),
    (1.5, InvalidArgument, "1.5")])
def test_bad_versions_are_named(table: str, version: object, error: type, words: str):
    with pytest.raises(error, match=words):
        lakeml.data.from_delta(table, version=version)  # type: ignore[arg-type]


def test_bad_table_and_targets_are_named(tmp_path: Path, table: str):
    with pytest.raises(NotFound, match="nowhere"):
        lakeml.data.from_delta(tmp_path / "nowhere")
    with pytest.raises(InvalidArgument, match="'label'.*x, city, n"):
        lakeml.data.from_delta(table, targets="label")
    assert json.loads(lakeml.data.from_delta(table, targets="n").profile)["targets"] == "n"


def test_profile_matches_pandas_and_numpy(tmp_path: Path):
    rng = np.random.default_rng(7)
    values = rng.normal(5.0, 2.0, 20_000)
    frame = pd.DataFrame({"v": values, "k": rng.choice(["a", "b", "c"], 20_000, p=[.6, .3, .1]),
                          "empty": pd.Series([None] * 20_000, dtype="float64")})
    frame.loc[::10, "v"] = np.nan  # NaN is a value to Arrow; make real nulls instead
    write_deltalake(str(tmp_path / "t"), frame.assign(v=frame["v"].astype("Float64")))
    prof = json.loads(lakeml.data.from_delta(tmp_path / "t").profile)
    v = frame["v"].dropna()
    col = prof["columns"]["v"]
    assert prof["num_rows"] == 20_000 and prof["num_columns"] == 3
    assert col["null_rate"] == pytest.approx(0.1)
    assert col["min"] == pytest.approx(v.min()) and col["max"] == pytest.approx(v.max())
    assert col["mean"] == pytest.approx(v.mean()) and col["std"] == pytest.approx(v.std())
    for q, got in col["quantiles"].items():  # a sketch: within 1% of the range
        assert got == pytest.approx(np.quantile(v, float(q)), abs=0.01 * (v.max() - v.min()))
    top = prof["columns"]["k"]["top_values"]
    assert [value for value, _ in top] == ["a", "b", "c"]
    assert sum(n for _, n in top) == 20_000
    assert prof["columns"]["empty"]["null_rate"] == 1.0
    assert prof["columns"]["empty"]["mean"] is None


def test_vacuumed_version_is_a_clear_error(store_uri: str, table: str):
    item = logged_input(lakeml.data.from_delta(table))
    write_deltalake(table, pd.DataFrame({"x": [0.0], "city": ["q"], "n": [0]}),
                    mode="overwrite")
    DeltaTable(table).vacuum(retention_hours=0, enforce_retention_duration=False,
                             dry_run=False)
    with pytest.raises(NotFound, match=r"version 0 of Delta table .*customers"):
        lakeml.data.load(item)


def test_replaced_table_is_refused(store_uri: str, table: str):
    item = logged_input(lakeml.data.from_delta(table))
    shutil.rmtree(table)
    write_deltalake(table, first())  # same data, but another table
    with pytest.raises(InvalidState, match="replaced"):
        lakeml.data.load(item)


def test_files_digest_and_changed_files_are_refused(store_uri: str, tmp_path: Path):
    folder = tmp_path / "csvs"
    folder.mkdir()
    first().iloc[:2].to_csv(folder / "part-1.csv", index=False)
    first().iloc[2:].to_csv(folder / "part-2.csv", index=False)
    (folder / "_SUCCESS").write_text("")
    ds = lakeml.data.from_files(folder)
    assert ds.source_spec() == {"uri": str(folder), "format": "csv"}
    assert ds == lakeml.data.from_files(folder)  # the digest is stable
    item = logged_input(ds)
    assert len(lakeml.data.load(item)) == 4
    first().iloc[:1].to_csv(folder / "part-1.csv", index=False)
    with pytest.raises(InvalidState, match="changed since"):
        lakeml.data.load(item)


def test_snapshot_keeps_the_logged_bytes(store_uri: str, tmp_path: Path):
    path = tmp_path / "train.parquet"
    first().to_parquet(path)
    ds = lakeml.data.from_files(path, snapshot=True, name="train")
    snapshot = ds.source_spec()["snapshot"]
    assert snapshot == f"{store_uri}/datasets/{ds.digest}"
    item = logged_input(ds)
    path.unlink()
    pd.testing.assert_frame_equal(lakeml.data.load(item), first())


def test_memory_datasets_and_bad_arguments(store_uri: str, tmp_path: Path):
    with pytest.raises(NotSupported, match="in memory"):
        lakeml.data.load(lakeml.data.from_pandas(first()))
    with pytest.raises(InvalidArgument, match="'excel'"):
        lakeml.data.load(lakeml.data.from_pandas(first()), format="excel")
    with pytest.raises(InvalidArgument, match="DataFrame"):
        lakeml.data.load(first())  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="missing.parquet"):
        lakeml.data.from_files(tmp_path / "missing.parquet")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(NotFound, match="no .parquet or .csv"):
        lakeml.data.from_files(tmp_path)
