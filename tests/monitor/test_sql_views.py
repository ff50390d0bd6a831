"""The growing tables (inference_log, inference_labels, monitor_metrics) in lakeml.sql:
their view's columns follow the table's schema per Delta version."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

import lakeml
from lakeml.data.monitor import connect
from lakeml.models.inference_log import InferenceLogger, new_request_id
from lakeml.store import open_tables


def _log(store: str, name: str, inputs: pd.DataFrame, outputs: np.ndarray) -> None:
    log = InferenceLogger(store, model_name=name, model_version=1, model_uuid="u",
                          model_uri=f"models:/{name}/1", flush_interval=60)
    log.record(new_request_id(), inputs, outputs, 2.5, 200)
    log.close()
    assert log.committed == len(inputs)


def test_an_unwritten_store_has_empty_views_of_the_fixed_columns(store_uri: str) -> None:
    for table in open_tables.TABLES:
        described = lakeml.sql(f"DESCRIBE {table}").fetchall()
        assert [row[0] for row in described] == open_tables.core_schema(table).names
        assert lakeml.sql(f"SELECT count(*) FROM {table}").fetchall() == [(0,)]
    assert not set(open_tables.TABLES) & set(lakeml.store_versions())


def test_new_columns_appear_as_models_log_and_as_of_reads_the_old_schema(
        store_uri: str) -> None:
    _log(store_uri, "a", pd.DataFrame({"x": [1.0, 2.0]}), np.array([0, 1]))
    before = lakeml.store_versions()
    assert lakeml.sql("SELECT model_name, input_x, prediction, latency_ms FROM "
                      "inference_log ORDER BY input_x").fetchall() == \
        [("a", 1.0, 0, 2.5), ("a", 2.0, 1, 2.5)]
    _log(store_uri, "b", pd.DataFrame({"y": np.array([7, 8], dtype="int32")}),
         np.array([1, 0]))
    assert lakeml.sql("SELECT model_name, input_x, input_y FROM inference_log "
                      "ORDER BY ALL").fetchall() == \
        [("a", 1.0, None), ("a", 2.0, None), ("b", None, 7), ("b", None, 8)]
    columns = [r[0] for r in lakeml.sql("DESCRIBE inference_log", as_of=before).fetchall()]
    assert "input_x" in columns and "input_y" not in columns
    assert lakeml.sql("SELECT count(*) FROM inference_log", as_of=before).fetchall() == [(2,)]
    con = connect(store_uri)  # a database of its own: the same views
    try:
        assert con.execute("SELECT sum(input_y) FROM inference_log").fetchall() == [(15,)]
    finally:
        con.close()


def test_a_column_no_file_holds_any_more_is_a_typed_null(store_uri: str) -> None:
    _log(store_uri, "a", pd.DataFrame({"x": [1.0]}), np.array([0]))
    _log(store_uri, "b", pd.DataFrame({"y": np.array([7], dtype="int32")}), np.array([1]))
    DeltaTable(open_tables.table_uri(store_uri, "inference_log")).delete("model_name = 'b'")
    found = lakeml.sql("SELECT model_name, input_y, typeof(input_y) FROM inference_log"
                       ).fetchall()
    assert found == [("a", None, "INTEGER")]


def test_user_sql_on_the_growing_tables_stays_read_only(store_uri: str) -> None:
    _log(store_uri, "a", pd.DataFrame({"x": [1.0]}), np.array([0]))
    with pytest.raises(lakeml.errors.InvalidArgument):
        lakeml.sql("DELETE FROM inference_log")


def test_a_model_whose_types_clash_with_another_s_is_logged_under_retyped_columns(
        store_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    _log(store_uri, "a", pd.DataFrame({"x": [1.0]}), np.array([1]))  # prediction: int64
    _log(store_uri, "b", pd.DataFrame({"x": [2.0]}), np.array([3.0]))  # whole: fits
    log = InferenceLogger(store_uri, model_name="c", model_version=1, model_uuid="u",
                          model_uri="models:/c/1", flush_interval=60)
    # a regressor's fraction, and a string where input_x holds doubles, in one batch
    # with a request that fits: every row is committed
    log.record(new_request_id(), pd.DataFrame({"x": [3.0]}), np.array([0.37]), 1.0, 200)
    log.record(new_request_id(), pd.DataFrame({"x": ["high"]}), np.array([4]), 1.0, 200)
    log.close()
    assert (log.committed, log.failed, log.retyped) == (2, 0, 2)
    assert "'prediction'" in capsys.readouterr().err
    assert lakeml.sql("SELECT model_name, input_x, input_x__string, prediction, "
                      "prediction__double FROM inference_log ORDER BY 1, 2").fetchall() == [
        ("a", 1.0, None, 1, None), ("b", 2.0, None, 3, None),
        ("c", 3.0, None, None, 0.37), ("c", None, "high", 4, None)]


def test_column_names_with_quotes_are_quoted_and_control_characters_refused(
        store_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    attack = 'x", (SELECT 42) AS "y'
    _log(store_uri, "a", pd.DataFrame({'say "hi"': [1.0], attack: [2.0]}), np.array([1]))
    assert lakeml.sql('SELECT "input_say ""hi""", "input_x"", (SELECT 42) AS ""y" '
                      "FROM inference_log").fetchall() == [(1.0, 2.0)]
    columns = [r[0] for r in lakeml.sql("DESCRIBE inference_log").fetchall()]
    assert f"input_{attack}" in columns and "input_x" not in columns and "y" not in columns
    assert lakeml.sql("SELECT count(*) FROM inference_log").fetchall() == [(1,)]
    con = connect(store_uri)  # the monitor's views over the same table bind too
    try:
        assert con.execute("SELECT model_name FROM inference_log").fetchall() == [("a",)]
    finally:
        con.close()
    log = InferenceLogger(store_uri, model_name="b", model_version=1, model_uuid="u",
                          model_uri="models:/b/1", flush_interval=60)
    log.record(new_request_id(), pd.DataFrame({"bad\nname": [1.0]}), np.array([1]), 1.0, 200)
    log.record(new_request_id(), pd.DataFrame({"z": [1.0]}), np.array([1]), 1.0, 200)
    log.close()
    assert (log.committed, log.failed) == (1, 1)
    assert "'bad\\nname'" in capsys.readouterr().err
    assert lakeml.sql("SELECT model_name, input_z FROM inference_log ORDER BY 1"
                      ).fetchall() == [("a", None), ("b", 1.0)]
