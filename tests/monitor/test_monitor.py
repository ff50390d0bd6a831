"""The monitor end to end on real Delta tables: drift on a synthetic shift, schema and
null-rate checks, labels and quality, the metrics table and view, the CLI's exit code."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest

import lakeml
from lakeml.cli.app import main
from lakeml.data.monitor import connect, log_labels, run_monitor
from lakeml.errors import InvalidArgument
from lakeml.models.inference_log import InferenceLogger, new_request_id
from tests.conftest import ROOT
from tests.monitor.scenario import FEATURES, customers, train

DAY_US = 86_400 * 10**6


def _away_from_day_edge() -> None:
    """Windows are whole UTC days here: start a test's traffic after midnight, not
    seconds before it, so that it falls in one window."""
    left = DAY_US - int(time.time() * 1e6) % DAY_US
    if left < 120 * 10**6:
        time.sleep(left / 1e6 + 1)


def _log(store: str, version: int, frame: pd.DataFrame, model: Any, *,
         requests: int = 30) -> list[str]:
    """Log ``frame`` as ``requests`` requests to version ``version`` of churn."""
    log = InferenceLogger(store, model_name="churn", model_version=version, model_uuid="u",
                          model_uri=f"models:/churn/{version}", flush_interval=60)
    ids = []
    for rows in np.array_split(np.arange(len(frame)), requests):
        part = frame.iloc[rows]
        ids.append(new_request_id())
        log.record(ids[-1], part[[c for c in FEATURES if c in part]].reset_index(drop=True),
                   model.predict(part), 1.0, 200)
    log.close()
    assert log.committed == len(frame) and log.dropped == 0
    return ids


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """churn v1 (champion) gets traffic whose age moved by 1 sd; v2 (challenger), the
    same model, traffic like its training data; v3 traffic without the plan column."""
    _away_from_day_edge()
    store = str(tmp_path_factory.mktemp("monitor") / "lake")
    trained = train(store)
    client = lakeml.Client(store)
    for alias in ("challenger", "blind"):
        version = client.create_model_version("churn", f"runs:/{trained['run_id']}/model",
                                              run_id=trained["run_id"]).version
        client.set_registered_model_alias("churn", alias, version)
    client.flush()
    model = trained["model"]
    shifted = customers(3000, seed=11, age_shift=1.0)
    trained["shifted"] = shifted
    trained["shifted_ids"] = _log(store, 1, shifted, model)
    _log(store, 2, customers(3000, seed=12), model)
    _log(store, 3, customers(1000, seed=13).drop(columns=["plan"]), model)
    trained["store"] = store
    yield trained
    lakeml.fluent.reset()


def _by(result: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["feature"], r["statistic"]): r for r in result.rows}


def test_a_feature_moved_by_one_sd_is_flagged_and_an_unchanged_one_is_not(
        lake: dict[str, Any]) -> None:
    lakeml.set_store(lake["store"])
    result = run_monitor("models:/churn@champion", window="1d")
    assert result.windows == 1 and result.model_version == 1
    found = _by(result)
    assert found[("*", "rows")]["value"] == 3000
    for statistic in ("psi", "ks"):
        assert found[("age", statistic)]["alert"], found[("age", statistic)]
        assert not found[("income", statistic)]["alert"], found[("income", statistic)]
        assert found[("prediction", statistic)]["alert"]  # age drives the prediction
    assert found[("age", "psi")]["value"] > 0.5 and found[("income", "psi")]["value"] < 0.05
    assert found[("age", "ks")]["value"] == pytest.approx(0.38, abs=0.05)  # Phi(.5)-Phi(-.5)
    assert not found[("plan", "chi_square_pvalue")]["alert"]
    assert found[("plan", "js_distance")]["value"] < 0.05
    assert not found[("age", "missing_column")]["alert"]
    assert "customers@v0" in result.baseline


def test_unchanged_traffic_raises_no_alert(lake: dict[str, Any]) -> None:
    lakeml.set_store(lake["store"])
    result = run_monitor("models:/churn@challenger", window="1d", write=False)
    assert result.windows == 1 and result.rows
    assert result.alerts == []


def test_a_column_that_stopped_arriving_is_a_null_rate_alert(lake: dict[str, Any]) -> None:
    lakeml.set_store(lake["store"])
    found = _by(run_monitor("models:/churn@blind", window="1d", write=False))
    assert found[("plan", "null_rate")]["value"] == 1.0
    assert found[("plan", "null_rate_increase")]["alert"]
    assert not found[("age", "null_rate_increase")]["alert"]


def test_labels_bring_quality_metrics(lake: dict[str, Any]) -> None:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    store = lake["store"]
    lakeml.set_store(store)
    shifted, ids = lake["shifted"], lake["shifted_ids"]
    parts = np.array_split(np.arange(len(shifted)), len(ids))
    labels = pd.DataFrame({"request_id": np.concatenate([[rid] * len(p) for rid, p in
                                                         zip(ids, parts)]),
                           "row": np.concatenate([np.arange(len(p)) for p in parts]),
                           "label": shifted["label"].to_numpy()})
    assert log_labels("models:/churn@champion", labels.head(2000)) == 2000
    found = _by(run_monitor("models:/churn@champion", window="1d", write=False))
    predicted = lake["model"].predict(shifted.head(2000))
    truth = shifted["label"].head(2000)
    assert found[("prediction", "labelled_rows")]["value"] == 2000
    assert found[("prediction", "accuracy")]["value"] == pytest.approx(
        accuracy_score(truth, predicted))
    assert found[("prediction", "f1")]["value"] == pytest.approx(
        f1_score(truth, predicted, average="macro"))
    assert found[("prediction", "auc")]["value"] == pytest.approx(
        roc_auc_score(truth, predicted))
    with pytest.raises(InvalidArgument, match="request_id"):
        log_labels("churn", pd.DataFrame({"label": [1]}))


def test_metrics_land_in_the_table_and_its_view(lake: dict[str, Any]) -> None:
    lakeml.set_store(lake["store"])
    run_monitor("models:/churn@champion", window="1d", thresholds={"psi": 5.0})
    con = connect(lake["store"])
    try:
        rows = con.execute(
            "SELECT threshold, alert FROM monitor_metrics WHERE model_version = 1 AND "
            "feature = 'age' AND statistic = 'psi' ORDER BY computed_at DESC").fetchall()
        logged = con.execute("SELECT count(*), count(DISTINCT request_id) FROM inference_log "
                             "WHERE model_version = 1").fetchall()[0]
    finally:
        con.close()
    assert rows == [(5.0, False)]  # the re-run replaced the window's row: no alert at 5
    assert logged == (3000, 30)


def test_the_cli_exits_3_on_alerts_and_0_without(lake: dict[str, Any],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    store = lake["store"]
    assert main(["monitor", "run", "--store", store, "-m", "models:/churn@champion",
                 "--window", "1d"]) == 3
    out = capsys.readouterr().out
    assert "ALERT" in out and "age: psi" in out and "income: psi" not in out
    assert main(["monitor", "run", "--store", store, "-m", "models:/churn@challenger",
                 "--window", "1d"]) == 0
    assert "no alerts" in capsys.readouterr().out
    assert main(["monitor", "run", "--store", store, "-m", "models:/churn@champion",
                 "--window", "5x"]) == 1
    assert "'5x'" in capsys.readouterr().err
    assert main(["monitor", "run", "--store", store, "-m", "models:/churn@champion",
                 "--threshold", "nope=1"]) == 1
    assert "'nope'" in capsys.readouterr().err


def test_an_explicit_baseline_version_and_label_files(lake: dict[str, Any], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    lakeml.set_store(lake["store"])
    pinned = run_monitor("models:/churn@champion", baseline=f"{lake['table']}@0",
                         window="1d", write=False)
    default = run_monitor("models:/churn@champion", window="1d", write=False)
    assert {(r["feature"], r["statistic"]): r["value"] for r in pinned.rows} == \
        {(r["feature"], r["statistic"]): r["value"] for r in default.rows}
    with pytest.raises(lakeml.errors.NotFound, match="no-such-table"):
        run_monitor("models:/churn@champion", baseline=str(tmp_path / "no-such-table"))
    path = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": ["x1", "x2"], "label": [0, 1]}).to_csv(path, index=False)
    assert main(["monitor", "log-labels", str(path), "--store", lake["store"], "-m",
                 "churn"]) == 0
    assert "appended 2 labels" in capsys.readouterr().out


def test_the_logger_drops_rather_than_blocks_when_full(tmp_path: Path) -> None:
    log = InferenceLogger(str(tmp_path / "lake"), model_name="m", flush_interval=60,
                          max_pending_rows=10)
    frame = pd.DataFrame({"x": np.arange(4.0)})
    kept = [log.record(new_request_id(), frame, frame.x.to_numpy(), 1.0, 200)
            for _ in range(5)]
    assert kept == [True, True, False, False, False] and log.dropped == 12
    log.close()
    assert log.committed == 8
    with pytest.raises(InvalidArgument, match="1.5"):
        InferenceLogger(str(tmp_path / "lake"), sample_rate=1.5)


def test_a_retried_batch_is_committed_once(tmp_path: Path) -> None:
    import pyarrow as pa

    from lakeml.store import open_tables

    store = str(tmp_path / "lake")
    rows = pa.table({"request_id": ["a"], "row": pa.array([0], pa.int64())})
    assert open_tables.append(store, "inference_log", rows, app_id="w1", sequence=1)
    assert not open_tables.append(store, "inference_log", rows, app_id="w1", sequence=1)
    assert len(open_tables.snapshot_files(store, "inference_log")) == 1


def test_compaction_keeps_every_row_in_fewer_files(tmp_path: Path) -> None:
    import pyarrow as pa

    from lakeml.store import open_tables

    store = str(tmp_path / "lake")
    for i in range(5):
        open_tables.append(store, "inference_log", pa.table({"request_id": [f"r{i}"]}))
    assert len(open_tables.snapshot_files(store, "inference_log")) == 5
    assert open_tables.compact(store, "inference_log") == 5
    con = connect(store)
    try:
        assert con.execute("SELECT list(request_id ORDER BY request_id) FROM inference_log"
                           ).fetchall()[0][0] == [f"r{i}" for i in range(5)]
    finally:
        con.close()
    assert len(open_tables.snapshot_files(store, "inference_log")) == 1


def test_thresholds_come_from_conf_below_the_flags(lake: dict[str, Any], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "lakeml.yaml"
    conf.write_text(f"store: {lake['store']}\nmonitor:\n  thresholds:\n    psi: 5\n    ks: 0.9\n")
    monkeypatch.setenv("LAKEML_CONF", str(conf))
    found = _by(run_monitor("models:/churn@champion", window="1d", write=False))
    assert found[("age", "psi")]["threshold"] == 5 and not found[("age", "psi")]["alert"]
    assert found[("age", "ks")]["threshold"] == 0.9
    found = _by(run_monitor("models:/churn@champion", window="1d", write=False,
                            thresholds={"psi": 0.2}))
    assert found[("age", "psi")]["alert"]  # a flag beats the conf
    conf.write_text("monitor:\n  thresholds:\n    psii: 5\n")
    with pytest.raises(InvalidArgument, match="psii"):
        run_monitor("models:/churn@champion", window="1d", write=False)


def _metric_rows(store: str, **fields: Any) -> list[dict[str, Any]]:
    base = {"model_name": "m", "model_version": 1, "window_start": 0,
            "window_end": DAY_US, "feature": "x", "statistic": "psi", "value": 0.1,
            "threshold": 0.2, "alert": False, "baseline": "b", "rows": 10,
            "computed_at": 1}
    return [{**base, **fields}]


def test_a_rerun_replaces_its_window_and_leaves_the_others(tmp_path: Path) -> None:
    from lakeml.data.monitor.run import write_metrics

    store = str(tmp_path / "lake")
    write_metrics(store, _metric_rows(store, value=1.0))
    write_metrics(store, _metric_rows(store, window_start=DAY_US, window_end=2 * DAY_US))
    write_metrics(store, _metric_rows(store, baseline="it's quoted"))
    write_metrics(store, _metric_rows(store, window_end=3600 * 10**6))  # a 1h window
    write_metrics(store, _metric_rows(store, value=2.0, feature="y"))  # re-run of day 0
    con = connect(store)
    try:
        found = con.execute(
            "SELECT epoch_us(window_start), epoch_us(window_end), baseline, feature, value "
            "FROM monitor_metrics ORDER BY ALL").fetchall()
    finally:
        con.close()
    assert found == [(0, 3600 * 10**6, "b", "x", 0.1), (0, DAY_US, "b", "y", 2.0),
                     (0, DAY_US, "it's quoted", "x", 0.1),
                     (DAY_US, 2 * DAY_US, "b", "x", 0.1)]


RACER = """
import sys, time
import lakeml
from lakeml.data.monitor.run import run_monitor, write_metrics
store, start = sys.argv[1], float(sys.argv[2])
lakeml.set_store(store)
result = run_monitor("models:/churn@champion", window="1d", write=False)
while time.time() < start:
    time.sleep(0.001)
write_metrics(store, result.rows)
print(len(result.rows), result.rows[0]["computed_at"])
"""


def test_racing_reruns_of_a_window_leave_one_copy(lake: dict[str, Any]) -> None:
    """Two processes compute the same window, then write at the same instant: the table
    holds one run's rows, whole, not both."""
    import os
    import subprocess
    import sys

    store = lake["store"]
    start = time.time() + 25
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [subprocess.Popen([sys.executable, "-c", RACER, store, str(start)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env) for _ in range(2)]
    outs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outs
    assert time.time() > start  # both computed before the barrier: the writes raced
    counts = [out.split() for out, _ in outs]
    con = connect(store)
    try:
        found = con.execute(
            "SELECT count(*), count(DISTINCT (feature, statistic)), "
            "list(DISTINCT epoch_us(computed_at)) FROM monitor_metrics "
            "WHERE model_name = 'churn' AND model_version = 1").fetchall()[0]
    finally:
        con.close()
    assert found[0] == found[1] == int(counts[0][0])  # one row per statistic
    assert len(found[2]) == 1 and str(found[2][0]) in {c[1] for c in counts}


def test_a_rerun_with_since_inside_a_window_keeps_that_window_whole(
        lake: dict[str, Any], tmp_path: Path) -> None:
    """--since in the middle of a window rounds down to its start: the re-run's window
    counts all its rows and so never replaces a complete window with a part of it."""
    import shutil
    from datetime import datetime, timezone

    store = str(tmp_path / "lake")
    shutil.copytree(lake["store"], store)
    lakeml.set_store(store)  # the copy: its registry, its tables
    first = run_monitor("models:/churn@challenger", window="1d", store=store)
    time.sleep(0.05)
    middle = datetime.now(timezone.utc).isoformat()
    time.sleep(0.05)
    _log(store, 2, customers(100, seed=14), lake["model"], requests=5)
    rerun = run_monitor("models:/churn@challenger", window="1d", since=middle, store=store)
    assert rerun.windows == first.windows == 1
    con = connect(store)
    try:
        stored = con.execute(
            "SELECT DISTINCT epoch_us(window_start), epoch_us(window_end), \"rows\" "
            "FROM monitor_metrics WHERE model_version = 2").fetchall()
        assert len(stored) == 1
        start, end, rows = stored[0]
        logged = con.execute(
            "SELECT count(*) FROM inference_log WHERE model_version = 2 AND "
            "epoch_us(\"time\") >= ? AND epoch_us(\"time\") < ?", [start, end]).fetchone()
    finally:
        con.close()
    assert rows == logged[0] == first.rows[0]["rows"] + 100


def test_a_replace_predicate_deltalake_cannot_use_is_invalid_argument(tmp_path: Path) -> None:
    """A predicate bug is the caller's, not an unavailable store (which callers retry)."""
    from lakeml.store import open_tables

    store = str(tmp_path / "lake")
    empty = open_tables.core_schema(open_tables.MONITOR_METRICS).empty_table()
    for predicate in ("model_name = ", "no_such_column = 1", "model_version = 'x'"):
        with pytest.raises(InvalidArgument, match="predicate"):
            open_tables.replace(store, open_tables.MONITOR_METRICS, empty, predicate)
