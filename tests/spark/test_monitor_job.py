"""jobs/score.py --log-inferences and jobs/monitor.py in the shared Spark session: batch
scores land in inference_log, and Spark's monitor gives DuckDB's numbers."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from deltalake import write_deltalake

import lakeml
from lakeml.data.monitor import connect, log_labels, run_monitor
from lakeml.models.inference_log import InferenceLogger, new_request_id
from tests.monitor.scenario import FEATURES, customers, train
from tests.monitor.test_monitor import _away_from_day_edge

ROOT = Path(__file__).resolve().parents[2]


def _job(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"job_{name}", ROOT / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batch_scores_are_logged_and_spark_monitors_like_duckdb(spark: Any,
                                                                tmp_path: Path) -> None:
    _away_from_day_edge()
    store = str(tmp_path / "lake")
    trained = train(store, n=800)
    shifted = customers(600, seed=21, age_shift=1.0)
    log = InferenceLogger(store, model_name="churn", model_version=1, flush_interval=60)
    ids = []
    for rows in np.array_split(np.arange(len(shifted)), 12):
        ids.append(new_request_id())
        part = shifted.iloc[rows]
        log.record(ids[-1], part[FEATURES].reset_index(drop=True),
                   trained["model"].predict(part), 2.0, 200)
    log.close()
    log_labels("churn", pd.DataFrame({"request_id": ids, "row": [0] * len(ids),
                                      "label": [int(v) for v in shifted.label.iloc[
                                          [r[0] for r in np.array_split(
                                              np.arange(len(shifted)), 12)]]]}))
    features = str(tmp_path / "features")
    write_deltalake(features, customers(50, seed=22)[FEATURES])
    score = _job("score")
    assert score.main(["--store", store, "--model", "models:/churn@champion", "--input",
                       features, "--output", str(tmp_path / "scores"), "--log-inferences"],
                      spark=spark) == 0
    con = connect(store)
    try:
        batch = con.execute("SELECT count(*), count(DISTINCT request_id), min(input_age), "
                            "count(prediction), any_value(model_version) FROM inference_log "
                            "WHERE source = 'batch'").fetchall()[0]
    finally:
        con.close()
    assert batch[:2] == (50, 1) and batch[3:] == (50, 1)
    assert batch[2] == min(customers(50, seed=22).age)

    monitor = _job("monitor")
    lakeml.set_store(store)
    on_duckdb = run_monitor("models:/churn@champion", window="1d", write=False)
    on_spark = run_monitor("models:/churn@champion", window="1d", write=False,
                           counter=monitor.spark_counter(spark, store),
                           pairer=monitor.spark_pairs(spark, store))
    duck = {(r["window_start"], r["feature"], r["statistic"]): r for r in on_duckdb.rows}
    sparks = {(r["window_start"], r["feature"], r["statistic"]): r for r in on_spark.rows}
    assert duck.keys() == sparks.keys() and len(duck) > 20
    for key, row in duck.items():
        a, b = row["value"], sparks[key]["value"]
        assert (math.isnan(a) and math.isnan(b)) or a == b, (key, a, b)
        assert row["alert"] == sparks[key]["alert"]
    assert duck[(on_duckdb.rows[0]["window_start"], "age", "psi")]["alert"]
    assert duck[(on_duckdb.rows[0]["window_start"], "prediction", "labelled_rows")][
        "value"] == 12
    assert monitor.main(["--store", store, "--model", "models:/churn@champion", "--window",
                         "1d", "--no-write"], spark=spark) == monitor.ALERT_EXIT

    # a regressor's batch scores: its fraction does not become 0 in churn's bigint
    # prediction column, a whole one still goes there
    from lakeml.spark.inference_log import log_scores

    regressor = pd.DataFrame({"scored_at": [pd.Timestamp.now(tz="UTC")] * 2,
                              "model_name": ["reg"] * 2, "model_version": [1, 1],
                              "model_uuid": ["u"] * 2, "model_uri": ["models:/reg/1"] * 2,
                              "age": [30.0, 31.0], "prediction": [0.37, 2.0]})
    request = log_scores(spark.createDataFrame(regressor), store, ["age"])
    con = connect(store)
    try:
        assert con.execute("SELECT input_age, prediction, prediction__double FROM "
                           "inference_log WHERE request_id = ? ORDER BY 1",
                           [request]).fetchall() == [(30.0, None, 0.37), (31.0, 2, None)]
    finally:
        con.close()
