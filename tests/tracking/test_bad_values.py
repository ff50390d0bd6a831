"""A value the tables cannot hold is refused at the log call; nothing logged is lost."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lakeml
from lakeml.entities import Dataset, DatasetInput, Metric, Param, RunTag
from lakeml.errors import InvalidArgument

SURROGATE = os.fsdecode(b"data_\xff.csv")


def good_run(client: lakeml.Client, exp: str) -> str:
    run_id = client.create_run(exp).info.run_id
    client.log_param(run_id, "lr", 0.1)
    client.log_metric(run_id, "loss", 0.5, step=3)
    client.set_tag(run_id, "team", "a")
    return run_id


def assert_good_run_landed(store_uri: str, run_id: str) -> None:
    run = lakeml.Client(store_uri).get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.metrics == {"loss": 0.5}
    assert run.data.tags["team"] == "a"


def test_start_time_in_nanoseconds_is_refused(client: lakeml.Client, store_uri: str) -> None:
    exp = client.create_experiment("e")
    good = good_run(client, exp)
    ns = time.time_ns()
    with pytest.raises(InvalidArgument, match=f"start_time {ns}.*nanoseconds"):
        client.create_run(exp, start_time=ns)
    client.flush()
    assert_good_run_landed(store_uri, good)
    assert len(client.search_runs([exp])) == 1  # the refused run was never created


def test_end_time_in_microseconds_is_refused(client: lakeml.Client) -> None:
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    with pytest.raises(InvalidArgument, match="end_time"):
        client.set_terminated(run_id, end_time=time.time_ns() // 1000)
    client.set_terminated(run_id)
    client.flush()
    assert client.get_run(run_id).info.status == "FINISHED"


HUGE_STEP = r"""
import sys, lakeml
from lakeml.errors import InvalidArgument
client = lakeml.Client(sys.argv[1])
exp = client.create_experiment("e")
bad, other = (client.create_run(exp).info.run_id for _ in range(2))
try:
    client.log_metric(bad, "m", 1.0, step=10**19)
except InvalidArgument as exc:
    print("refused:", exc, file=sys.stderr)
for i in range(1000):
    client.log_metric(other, "m", float(i), step=i)
client.log_metric(bad, "m", 2.0, step=1)
print(other, bad)
# no end_run, no flush: the background flusher and interpreter exit commit
"""


def test_huge_step_on_one_run_loses_nothing_of_another(tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    env = {**os.environ, "LAKEML_FLUSH_INTERVAL": "0.01"}
    proc = subprocess.run([sys.executable, "-c", HUGE_STEP, store], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "refused:" in proc.stderr and "10000000000000000000" in proc.stderr
    assert "flusher failed" not in proc.stderr
    other, bad = proc.stdout.split()
    client = lakeml.Client(store)
    assert len(client.get_metric_history(other, "m")) == 1000
    assert [(m.step, m.value) for m in client.get_metric_history(bad, "m")] == [(1, 2.0)]


def test_surrogate_param_value_is_refused_and_nothing_is_lost(client: lakeml.Client,
                                                               store_uri: str) -> None:
    exp = client.create_experiment("e")
    good = good_run(client, exp)
    other = client.create_run(exp).info.run_id
    with pytest.raises(InvalidArgument, match=r"param 'data' value 'data_\\udcff.csv'"):
        client.log_param(other, "data", SURROGATE)
    client.flush()
    assert_good_run_landed(store_uri, good)
    assert client.get_run(other).data.params == {}
    client.log_param(other, "data", SURROGATE.encode("utf-8", "surrogateescape").decode(
        "utf-8", "replace"))  # the fix the message suggests
    client.flush()


def test_every_logging_path_refuses_unstorable_values(client: lakeml.Client,
                                                      store_uri: str) -> None:
    exp = client.create_experiment("e")
    run_id = client.create_run(exp).info.run_id
    refused = [
        lambda: client.log_metric(run_id, "m", 1.0, step=2**63),
        lambda: client.log_metric(run_id, "m", 1.0, step=float(2**64)),
        lambda: client.log_metric(run_id, "m", 10**400),
        lambda: client.log_metric(run_id, "m", 1.0, timestamp=time.time_ns()),
        lambda: client.log_metric(run_id, "m", 1.0, timestamp=-1),
        lambda: client.log_batch(run_id, metrics=[Metric("m", 1.0, 0, 2**70)]),
        lambda: client.log_batch(run_id, metrics=[Metric("m", 1.0, 10**17, 0)]),
        lambda: client.log_batch(run_id, metrics={"m": 1.0}, step=-(2**64)),
        lambda: client.log_batch(run_id, params=[Param("p", SURROGATE)]),
        lambda: client.log_batch(run_id, tags=[RunTag("t", SURROGATE)]),
        lambda: client.set_tag(run_id, "t", SURROGATE),
        lambda: client.update_run(run_id, name=SURROGATE),
        lambda: client.create_run(exp, run_name=SURROGATE),
        lambda: client.create_run(exp, tags={"t": SURROGATE}),
        lambda: client.create_run(exp, tags={"lakeml.user": SURROGATE}),
        lambda: client.create_experiment(SURROGATE),
        lambda: client.create_experiment("x", artifact_location=f"/tmp/{SURROGATE}"),
        lambda: client.set_experiment_tag(exp, "t", SURROGATE),
        lambda: client.log_inputs(run_id, [DatasetInput(Dataset("d", "abc", source=SURROGATE))]),
        lambda: client.log_inputs(run_id, [DatasetInput(Dataset("d", "abc"), SURROGATE)]),
    ]
    for call in refused:
        with pytest.raises(InvalidArgument):
            call()
    lakeml.set_store(store_uri)
    with lakeml.start_run(experiment_id=exp):
        with pytest.raises(InvalidArgument):
            lakeml.log_metric("m", 1.0, step=10**19)
        with pytest.raises(InvalidArgument):
            lakeml.log_param("p", SURROGATE)
        with pytest.raises(InvalidArgument):
            lakeml.log_metrics({"m": 1.0}, timestamp=time.time_ns())
    client.flush()  # nothing bad was buffered: no InvalidArgument here
    assert client.get_run(run_id).data.metrics == {}
    assert len(client.search_runs([exp])) == 2


def test_bulk_paths_refuse_unstorable_values(client: lakeml.Client) -> None:
    import pandas as pd

    exp = client.create_experiment("e")
    with pytest.raises(InvalidArgument, match="start_time"):
        client.log_runs(exp, pd.DataFrame({"metrics.m": [1.0],
                                           "start_time": [time.time_ns()]}))
    with pytest.raises(InvalidArgument):
        client.log_runs(exp, pd.DataFrame({"params.p": pd.Series([SURROGATE], dtype=object)}))
    run_id = client.create_run(exp).info.run_id
    with pytest.raises(InvalidArgument, match="timestamp"):
        client.log_metric_histories(pd.DataFrame({
            "run_id": [run_id], "key": ["m"], "value": [1.0], "step": [0],
            "timestamp": [time.time_ns()]}))
    client.flush()
    assert len(client.search_runs([exp])) == 1


@pytest.mark.parametrize("seed", range(3))
def test_fuzz_good_values_land_among_bad_ones(client: lakeml.Client, seed: int) -> None:
    """Random bad values among good log calls: each bad call raises, every good one lands."""
    rng = random.Random(seed)
    exp = client.create_experiment("e")
    runs = [client.create_run(exp).info.run_id for _ in range(3)]
    bad_steps = [2**63, -(2**63) - 1, 10**19, 1.5, "3"]
    bad_times = [time.time_ns(), time.time_ns() // 1000, -5, float("inf")]
    bad_text = [SURROGATE, "\udc80", "ok" + "\ud800"]
    expected: dict[str, dict] = {r: {"metrics": {}, "params": {}, "tags": {}} for r in runs}
    for i in range(300):
        run = rng.choice(runs)
        kind = rng.choice(["metric", "param", "tag"])
        bad = rng.random() < 0.3
        try:
            if kind == "metric":
                step = rng.choice(bad_steps) if bad and rng.random() < 0.5 else i
                ts = rng.choice(bad_times) if bad and step == i else 1_700_000_000_000 + i
                client.log_metric(run, f"m{i}", float(i), step=step, timestamp=ts)
                expected[run]["metrics"][f"m{i}"] = float(i)
            elif kind == "param":
                value = rng.choice(bad_text) if bad else f"v{i}é"
                client.log_param(run, f"p{i}", value)
                expected[run]["params"][f"p{i}"] = value
            else:
                value = rng.choice(bad_text) if bad else f"t{i}"
                client.set_tag(run, f"t{i}", value)
                expected[run]["tags"][f"t{i}"] = value
            assert not bad, f"bad {kind} accepted"
        except InvalidArgument:
            assert bad
        if rng.random() < 0.05:
            client.flush()
    client.flush()
    for run, want in expected.items():
        data = lakeml.Client(client.store_uri).get_run(run).data
        assert data.metrics == want["metrics"]
        assert data.params == want["params"]
        assert {k: v for k, v in data.tags.items() if k.startswith("t")} == want["tags"]


def test_the_edges_of_each_range_are_accepted(client: lakeml.Client) -> None:
    from lakeml.validation import MAX_TIMESTAMP_MS

    run_id = client.create_run(client.create_experiment("e"), start_time=0).info.run_id
    client.log_metric(run_id, "m", 1.0, step=2**63 - 1, timestamp=MAX_TIMESTAMP_MS)
    client.log_metric(run_id, "m", 2.0, step=-(2**63), timestamp=0)
    client.log_param(run_id, "p", "naïve ✓ 数据")
    client.flush()
    history = client.get_metric_history(run_id, "m")
    assert sorted((m.step, m.timestamp) for m in history) == [
        (-(2**63), 0), (2**63 - 1, MAX_TIMESTAMP_MS)]
    assert client.get_run(run_id).data.params == {"p": "naïve ✓ 数据"}
