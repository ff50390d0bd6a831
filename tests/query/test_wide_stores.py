"""Stores with many distinct keys: searches stay bounded and right (issue 15, item 3).

A store of 50 runs x 100 metric keys of their own (5,000 keys) used to become a
5,000-column run state and crash DuckDB (a floating point exception killed the
process). Each answer here is checked against a plain Python oracle over what
was logged.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import lakeml
from lakeml.query import QueryEngine, run_fold, run_snapshot

RUNS, OWN_KEYS = 50, 100
START = 1_700_000_000_000
SYSTEM_TAGS = ("tags.mlflow.", "tags.lakeml.")


def log_wide_store(client: lakeml.Client) -> tuple[str, dict[str, dict[str, Any]]]:
    """50 runs, each with 100 metrics no other run has, a shared metric, a param and a
    tag; returns the experiment and, by run id, what each run logged."""
    exp = client.create_experiment("wide")
    logged: dict[str, dict[str, Any]] = {}
    for i in range(RUNS):
        run_id = client.create_run(exp, start_time=START + i).info.run_id
        metrics = {f"m{i * OWN_KEYS + j}": float(j) for j in range(OWN_KEYS)}
        metrics["shared"] = float(i % 7) if i != 3 else math.nan
        params, tags = {"p": str(i % 3)}, {"kind": "odd" if i % 2 else "even"}
        client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        logged[run_id] = {"metrics": metrics, "params": params, "tags": tags,
                          "start": START + i}
    client.flush()
    return exp, logged


def oracle(logged: dict[str, dict[str, Any]], test: Any, order: tuple[str, str] | None,
           descending: bool = False, limit: int | None = None) -> list[str]:
    """Run ids whose logged data pass ``test``, in MLflow's order: by the ``order`` key
    (entity, key) when given (missing last, NaN after numbers), then newest start."""
    found = [r for r, data in logged.items() if test(data)]
    found.sort(key=lambda r: (-logged[r]["start"], r))
    if order is not None:
        entity, key = order
        present = [r for r in found if key in logged[r][entity]]
        nans = [r for r in present if logged[r][entity][key] != logged[r][entity][key]]
        numbers = [r for r in present if r not in nans]
        numbers.sort(key=lambda r: logged[r][entity][key], reverse=descending)
        found = numbers + nans + [r for r in found if r not in present]
    return found[:limit]


def metric(data: dict[str, Any], key: str) -> float | None:
    return data["metrics"].get(key)


def below(value: float | None, bound: float) -> bool:
    return value is not None and value < bound  # NaN is below nothing


SEARCHES: list[tuple[str, list[str] | None, Any, tuple[str, str] | None, bool]] = [
    ("metrics.m5 = 5", None, lambda d: metric(d, "m5") == 5, None, False),
    ("metrics.m5 = 6", None, lambda d: metric(d, "m5") == 6, None, False),  # no run
    ("metrics.m4321 >= 0", None, lambda d: metric(d, "m4321") is not None, None, False),
    ("metrics.shared < 3 and params.p = '1'", ["metrics.shared DESC"],
     lambda d: below(metric(d, "shared"), 3) and d["params"]["p"] == "1",
     ("metrics", "shared"), True),
    ("metrics.m99 != 1 or tags.kind = 'odd'", ["metrics.m250 ASC"],
     lambda d: metric(d, "m99") is not None or d["tags"]["kind"] == "odd",
     ("metrics", "m250"), False),
    ("", ["metrics.shared ASC"], lambda d: True, ("metrics", "shared"), False),
]


def assert_page(frame: pd.DataFrame, expected: list[str],
                logged: dict[str, dict[str, Any]]) -> None:
    """The page's runs in order, with a column for exactly the keys they hold."""
    assert frame["run_id"].tolist() == expected
    for group in ("metrics", "params", "tags"):
        keys = {k for r in expected for k in logged[r][group]}
        if group == "tags":  # the system's own tags (mlflow.runName…) come with them
            keys |= {c[5:] for c in frame.columns if c.startswith(SYSTEM_TAGS)}
        assert {c for c in frame.columns if c.startswith(group + ".")} == \
            {f"{group}.{k}" for k in keys}, group
    for row, run_id in enumerate(expected):
        for group in ("metrics", "params", "tags"):
            for key, value in logged[run_id][group].items():
                got = frame[f"{group}.{key}"].iloc[row]
                assert got == value or (value != value and got != got), (run_id, key)
    for column in frame.columns[6:]:  # a run without the key has nothing there
        group, key = column.split(".", 1)
        if column.startswith(SYSTEM_TAGS):
            continue
        held = [row for row, r in enumerate(expected) if key in logged[r][group]
                and logged[r][group][key] == logged[r][group][key]]
        assert frame[column].notna().to_numpy().nonzero()[0].tolist() == held, column


def test_five_thousand_keys_answer_right_without_a_column_per_key(
        client: lakeml.Client) -> None:
    exp, logged = log_wide_store(client)
    for text, order_by, test, order, descending in SEARCHES:
        expected = oracle(logged, test, order, descending)
        frame = lakeml.search_runs([exp], text, order_by=order_by)
        assert_page(frame, expected, logged)
        table = client.search_runs_table([exp], text, order_by=order_by)
        pd.testing.assert_frame_equal(frame, table.to_pandas(), check_like=False)
        pages = client.search_runs([exp], text, order_by=order_by, max_results=7)
        assert [r.info.run_id for r in pages] == expected[:7]
        for run in pages:
            assert run.data.metrics == pytest.approx(logged[run.info.run_id]["metrics"],
                                                     nan_ok=True)
    state = client.tracking._b.engine.run_state.prepare()
    assert not state.complete and len(state.columns) <= run_fold.MAX_WHOLE_KEYS


def test_a_whole_state_that_outgrows_its_keys_loads_them_on_demand(
        client: lakeml.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_fold, "MAX_WHOLE_KEYS", 8)
    exp = client.create_experiment("growing")
    logged: dict[str, dict[str, Any]] = {}
    for i in range(4):
        run_id = client.create_run(exp, start_time=START + i).info.run_id
        logged[run_id] = {"metrics": {"a": float(i)}, "params": {}, "tags": {},
                          "start": START + i}
        client.log_batch(run_id, metrics={"a": float(i)})
    assert len(lakeml.search_runs([exp], "metrics.a >= 2")) == 2
    assert client.tracking._b.engine.run_state.prepare().complete
    late = client.create_run(exp, start_time=START + 10).info.run_id
    wide = {f"k{j}": float(j) for j in range(20)}  # past the bound in one commit
    client.log_batch(late, metrics=wide)
    logged[late] = {"metrics": wide, "params": {}, "tags": {}, "start": START + 10}
    for text, test in (("metrics.k3 = 3", lambda d: metric(d, "k3") == 3),
                       ("metrics.a >= 2", lambda d: not below(metric(d, "a"), 2)
                        and metric(d, "a") is not None),
                       ("metrics.k19 > 0 or metrics.a = 0",
                        lambda d: metric(d, "k19") is not None or metric(d, "a") == 0)):
        assert_page(lakeml.search_runs([exp], text), oracle(logged, test, None), logged)
    state = client.tracking._b.engine.run_state.prepare()
    assert not state.complete and len(state.columns) <= 8
    for j in range(20):  # one search after another never widens it past the bound
        assert len(lakeml.search_runs([exp], f"metrics.k{j} = {j}")) == 1
        assert len(client.tracking._b.engine.run_state.prepare().columns) <= 8


def test_no_snapshot_of_a_store_past_the_key_bound(client: lakeml.Client,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_fold, "MAX_WHOLE_KEYS", 8)
    monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)  # large: a snapshot would pay
    monkeypatch.setattr(run_snapshot, "_too_wide", set())
    exp = client.create_experiment("no snapshot")
    run_id = client.create_run(exp).info.run_id
    client.log_batch(run_id, metrics={f"k{j}": float(j) for j in range(20)})
    client.flush()
    run_snapshot.wait(client.store, 60)
    assert run_snapshot.write(client.store) is None
    assert run_snapshot.load(client.store) is None and not run_snapshot.is_stale(client.store)
    client.tracking._b.engine = QueryEngine(client.store)
    frame = lakeml.search_runs([exp], "metrics.k7 = 7")
    assert frame["run_id"].tolist() == [run_id]
    assert {c for c in frame.columns if c.startswith("metrics.")} == {
        f"metrics.k{j}" for j in range(20)}


def test_get_run_of_a_run_with_many_keys(client: lakeml.Client) -> None:
    exp = client.create_experiment("deep")
    run_id = client.create_run(exp).info.run_id
    metrics = {f"m{j:05d}": j / 3 for j in range(20_000)}
    client.log_batch(run_id, metrics=metrics, params={"p": "x"})
    client.log_metric(run_id, "m00001", 5.0, step=1)  # a later step is the latest
    metrics["m00001"] = 5.0
    run = client.get_run(run_id)
    assert run.data.metrics == metrics and run.data.params == {"p": "x"}
    assert [m.key for m in run.data.latest_metrics] == sorted(metrics)
    assert {m.run_id for m in run.data.latest_metrics} == {run_id}
    assert run.data.latest_metrics[1].step == 1
    frame = lakeml.search_runs([exp], "metrics.m00001 = 5")
    assert frame["run_id"].tolist() == [run_id]
    assert [c for c in frame.columns if c.startswith("metrics.")] == \
        [f"metrics.{k}" for k in sorted(metrics)]
    assert frame["metrics.m19999"].iloc[0] == metrics["m19999"]
    assert frame["metrics.m00001"].iloc[0] == 5.0 and frame["params.p"].iloc[0] == "x"


def test_a_page_from_the_lake_takes_run_info_from_the_current_state(
        client: lakeml.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # past the key bound and without a snapshot, pages are read from the lake; their run
    # columns come from the run state, which each search brings up to date first
    monkeypatch.setattr(run_fold, "MAX_WHOLE_KEYS", 8)
    exp = client.create_experiment("info")
    runs = [client.create_run(exp, start_time=START + i).info.run_id for i in range(3)]
    for i, run_id in enumerate(runs):
        client.log_batch(run_id, metrics={f"k{j}": float(i) for j in range(20)})
    client.flush()
    frame = lakeml.search_runs([exp], "metrics.k1 >= 0")
    state = client.tracking._b.engine.run_state
    assert not state.prepare().complete
    assert set(frame["status"]) == {"RUNNING"} and frame["end_time"].isna().all()
    client.set_terminated(runs[1], "FAILED", end_time=START + 99)
    client.flush()
    frame = lakeml.search_runs([exp], "metrics.k1 >= 0", order_by=["attributes.start_time"])
    assert frame["run_id"].tolist() == runs
    assert frame["status"].tolist() == ["RUNNING", "FAILED", "RUNNING"]
    assert frame["end_time"][1] == pd.Timestamp(START + 99, unit="ms", tz="UTC")
    expected = client.get_run(runs[1]).info
    assert frame["artifact_uri"][1] == expected.artifact_uri
    assert frame["experiment_id"].tolist() == [exp] * 3
    # the info came from the state, not from a scan of the runs table
    con = client.tracking._b.engine.connection().cursor()
    con.register("chosen", pa.table({"run_id": runs, "ord": [0, 1, 2]}))
    info = state.page_info(con, "chosen", runs)
    assert info is not None and info["status"].to_pylist() == ["RUNNING", "FAILED", "RUNNING"]
