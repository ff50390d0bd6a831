"""The monitor on an s3:// store (moto on loopback): the inference log and labels are
read through the file cache, metrics and re-runs written with conditional commits."""

from __future__ import annotations

import numpy as np
import pytest

import lakeml
from lakeml.data.monitor import connect, run_monitor
from lakeml.models.inference_log import InferenceLogger, new_request_id
from tests.monitor.scenario import FEATURES, customers, train


@pytest.fixture
def s3_store(s3_env: dict[str, str]) -> str:
    from tests.object_store import fresh_prefix

    uri = fresh_prefix()
    lakeml.set_store(uri)
    return uri


def test_monitoring_an_s3_store(s3_store: str) -> None:
    trained = train(s3_store, n=1500)
    log = InferenceLogger(s3_store, model_name="churn", model_version=1, model_uuid="u",
                          model_uri="models:/churn/1", flush_interval=60)
    shifted = customers(1500, seed=5, age_shift=1.0)
    for rows in np.array_split(np.arange(len(shifted)), 10):
        part = shifted.iloc[rows]
        log.record(new_request_id(), part[FEATURES].reset_index(drop=True),
                   trained["model"].predict(part), 1.0, 200)
    log.close()
    assert log.committed == 1500
    result = run_monitor("models:/churn@champion", window="1w")
    found = {(r["feature"], r["statistic"]): r for r in result.rows}
    assert found[("*", "rows")]["value"] == 1500
    assert found[("age", "psi")]["alert"] and not found[("income", "psi")]["alert"]
    run_monitor("models:/churn@champion", window="1w")  # a re-run replaces its window
    assert lakeml.sql("SELECT count(*) FROM monitor_metrics").fetchall() == [
        (len(result.rows),)]
    assert lakeml.sql("SELECT count(*), count(input_age) FROM inference_log").fetchall() == [
        (1500, 1500)]
    con = connect(s3_store)
    try:
        assert con.execute("SELECT count(*) FROM monitor_metrics WHERE alert").fetchall()[0][0] \
            == len(result.alerts)
    finally:
        con.close()
