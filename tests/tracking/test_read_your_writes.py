"""Read-your-writes: every read API sees every write this process made before it.

The background flusher is slowed to an hour, so only the reads' own flushes can
make a write visible. A hypothesis test interleaves log and read calls at random
and checks each read against a plain in-memory model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lakeml
from lakeml.errors import NotFound

RUNS = 2
KEYS = ("a", "b")


@pytest.fixture
def slow_flush_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> lakeml.Client:
    """A client whose buffered rows are committed only by reads, flush() or exit."""
    monkeypatch.setenv("LAKEML_FLUSH_INTERVAL", "3600")
    lakeml.set_store(str(tmp_path / "lake"))  # runs:/ URIs resolve in the current store
    return lakeml.Client(str(tmp_path / "lake"))


def test_each_read_sees_the_metric_just_logged(slow_flush_client: lakeml.Client) -> None:
    """The issue's cases: get_run between two metrics, a search right after a log, and
    get_run in an epoch loop (the latest value came from metric_latest, which the reads'
    flush did not cover)."""
    c = slow_flush_client
    exp = c.create_experiment("e")
    run_id = c.create_run(exp).info.run_id
    c.log_metric(run_id, "a", 1.0)
    assert c.get_run(run_id).data.metrics == {"a": 1.0}
    c.log_metric(run_id, "b", 2.0)
    assert c.get_run(run_id).data.metrics == {"a": 1.0, "b": 2.0}
    c.log_metric(run_id, "a", 5.0, step=1)
    assert [r.info.run_id for r in c.search_runs([exp], "metrics.a = 5")] == [run_id]
    seen = []
    for epoch in range(3):
        c.log_metric(run_id, "loss", float(epoch + 1), step=epoch)
        seen.append(c.get_run(run_id).data.metrics["loss"])
    assert seen == [1.0, 2.0, 3.0]
    c.log_metric(run_id, "loss", 0.5, step=9)
    assert c.sql("SELECT value FROM latest_metrics WHERE key = 'loss'").fetchall() == [(0.5,)]
    assert [m.value for m in c.get_metric_history(run_id, "loss")] == [1.0, 2.0, 3.0, 0.5]
    assert c.search_runs_table([exp], "metrics.loss < 1")["run_id"].to_pylist() == [run_id]


def test_listings_and_status_see_their_writes(slow_flush_client: lakeml.Client) -> None:
    c = slow_flush_client
    exp = c.create_experiment("e")
    run_id = c.create_run(exp).info.run_id
    assert [i.run_id for i in c.list_runs(exp)] == [run_id]
    c.set_terminated(run_id, "FAILED")
    assert c.get_run(run_id).info.status == "FAILED"
    c.delete_run(run_id)
    assert c.list_runs(exp) == []
    assert c.search_runs([exp]) == []


def test_registry_reads_of_runs_see_a_run_just_made(slow_flush_client: lakeml.Client) -> None:
    """Registering runs:/ sources reads the runs' artifact URIs: one registered singly and
    one in bulk, both right after their runs were created (rows still buffered)."""
    c = slow_flush_client
    exp = c.create_experiment("e")
    first, second = c.create_run(exp).info, c.create_run(exp).info
    for info in (first, second):  # the least a registered model needs
        Path(info.artifact_uri, "model").mkdir(parents=True)
        Path(info.artifact_uri, "model", "MLmodel").write_text("flavors: {}\n")
    version = c.register_model(f"runs:/{first.run_id}/model", "m")
    assert version.storage_location == f"{first.artifact_uri}/model"
    assert c.register_model_versions([{"name": "m", "source": f"runs:/{second.run_id}/model",
                                       "run_id": second.run_id}]) == 1
    assert c.get_model_version("m", 2).storage_location == f"{second.artifact_uri}/model"


@dataclass
class Model:
    """What the runs hold, as plain dicts; a metric's points as (step, ts, value)."""

    points: dict[tuple[int, str], list[tuple[int, int, float]]] = field(default_factory=dict)
    params: dict[int, dict[str, str]] = field(default_factory=dict)
    tags: dict[int, dict[str, str]] = field(default_factory=dict)

    def latest(self, run: int) -> dict[str, float]:
        # MLflow's rule: highest step, then newest time, then largest value
        return {k: max(p)[2] for (r, k), p in self.points.items() if r == run}


_run = st.integers(0, RUNS - 1)
_key = st.sampled_from(KEYS)
OPS = st.one_of(
    st.tuples(st.just("log_metric"), _run, _key, st.integers(-3, 3), st.integers(0, 2),
              st.integers(0, 2)),
    st.tuples(st.just("log_param"), _run, _key, st.sampled_from(["x", "y"])),
    st.tuples(st.just("set_tag"), _run, _key, st.sampled_from(["x", "y"])),
    st.tuples(st.just("delete_tag"), _run, _key),
    st.tuples(st.just("get_run"), _run),
    st.tuples(st.just("get_metric_history"), _run, _key),
    st.tuples(st.just("search_metric"), _key, st.integers(-3, 3)),
    st.tuples(st.just("search_tag"), _key, st.sampled_from(["x", "y"])),
    st.tuples(st.just("search_param"), _key, st.sampled_from(["x", "y"])),
    st.tuples(st.just("sql_tags"), _run),
)


def _apply(c: lakeml.Client, ids: list[str], exp: str, model: Model, op: tuple) -> None:
    """Do ``op`` on the client and check a read against the model (or update it)."""
    name = op[0]
    if name == "log_metric":
        _, run, key, value, step, ts = op
        c.log_metric(ids[run], key, float(value), timestamp=1000 + ts, step=step)
        model.points.setdefault((run, key), []).append((step, ts, float(value)))
    elif name == "log_param":
        _, run, key, value = op
        if model.params.setdefault(run, {}).setdefault(key, value) == value:
            c.log_param(ids[run], key, value)
    elif name == "set_tag":
        _, run, key, value = op
        c.set_tag(ids[run], key, value)
        model.tags.setdefault(run, {})[key] = value
    elif name == "delete_tag":
        _, run, key = op
        if key in model.tags.get(run, {}):
            c.delete_tag(ids[run], key)
            del model.tags[run][key]
        else:
            with pytest.raises(NotFound):
                c.delete_tag(ids[run], key)
    elif name == "get_run":
        data = c.get_run(ids[op[1]]).data
        assert (data.metrics, data.params, data.tags) == (
            model.latest(op[1]), model.params.get(op[1], {}), model.tags.get(op[1], {})), op
    elif name == "get_metric_history":
        _, run, key = op
        history = [(m.step, m.timestamp - 1000, m.value)
                   for m in c.get_metric_history(ids[run], key)]
        # step order, then time; points equal in both keep no particular order
        assert sorted(history) == sorted(model.points.get((run, key), [])), op
        assert [h[:2] for h in history] == sorted(h[:2] for h in history), op
    else:
        _check_search(c, ids, exp, model, op)


def _check_search(c: lakeml.Client, ids: list[str], exp: str, model: Model, op: tuple) -> None:
    name = op[0]
    if name == "sql_tags":
        got = c.sql("SELECT key, value FROM tags WHERE run_id = ?", [ids[op[1]]]).fetchall()
        assert dict(got) == model.tags.get(op[1], {}), op
        return
    _, key, value = op
    if name == "search_metric":
        found = c.search_runs([exp], f"metrics.{key} = {value}")
        want = {r for r in range(RUNS) if model.latest(r).get(key) == value}
    else:
        entity = "tags" if name == "search_tag" else "params"
        found = c.search_runs([exp], f"{entity}.{key} = '{value}'")
        held = model.tags if name == "search_tag" else model.params
        want = {r for r in range(RUNS) if held.get(r, {}).get(key) == value}
    assert {r.info.run_id for r in found} == {ids[r] for r in want}, op
    assert not any(math.isnan(v) for r in found for v in r.data.metrics.values())


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=12))
def test_random_interleavings_match_a_model(slow_flush_client: lakeml.Client,
                                            ops: list[tuple]) -> None:
    """One store for every example; each example logs to runs of its own experiment."""
    c = slow_flush_client
    exp = c.create_experiment(f"e{len(c.search_experiments())}")
    ids = [c.create_run(exp).info.run_id for _ in range(RUNS)]
    # the system tags, read back (a read commits the new runs: the ops start with nothing
    # pending, so no unrelated row makes a read flush what it would have missed)
    model = Model(tags={i: dict(c.get_run(run_id).data.tags) for i, run_id in enumerate(ids)})
    for op in ops:
        _apply(c, ids, exp, model, op)
