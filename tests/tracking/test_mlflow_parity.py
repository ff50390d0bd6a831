"""Scenarios from MLflow's own test suite where lakeml once answered differently.

Each test replays a scenario whose MLflow 3.17.2 answer (MlflowClient, default
sqlite store) was recorded in issue 16; the expected values here are MLflow's.
"""

from __future__ import annotations

import math
import time

import pytest

import lakeml
from lakeml.entities import Dataset, DatasetInput, Metric, RunTag, ViewType
from lakeml.errors import InvalidArgument
from lakeml.search.experiment_filter import parse_experiment_filter

# ---------------------------------------------------------------- 1. search_experiments


def _names(experiments) -> list[str]:
    return [e.name for e in experiments]


def _three(client: lakeml.Client) -> tuple[str, str]:
    a = client.create_experiment("a", tags={"team": "x", "k": "v+1"})
    time.sleep(0.002)
    b = client.create_experiment("b", tags={"team": "y"})
    return a, b


def test_search_experiments_default_order_is_newest_first(client: lakeml.Client) -> None:
    _three(client)
    assert _names(client.search_experiments()) == ["b", "a", "Default"]


def test_search_experiments_filters(client: lakeml.Client) -> None:
    a, _ = _three(client)
    created = client.get_experiment(a).creation_time
    assert _names(client.search_experiments(filter_string="name LIKE 'a%'")) == ["a"]
    assert _names(client.search_experiments(filter_string="name = 'b'")) == ["b"]
    assert _names(client.search_experiments(filter_string="attribute.name != 'b'")) == [
        "a", "Default"]
    assert _names(client.search_experiments(
        filter_string=f"attribute.creation_time > {created}")) == ["b"]
    assert _names(client.search_experiments(
        filter_string=f"creation_time >= {created} AND tags.team = 'x'")) == ["a"]
    assert _names(client.search_experiments(filter_string="tags.team = 'y'")) == ["b"]
    assert _names(client.search_experiments(filter_string="tag.team ILIKE 'Y'")) == ["b"]
    assert _names(client.search_experiments(filter_string="tags.team IS NULL")) == ["Default"]
    assert _names(client.search_experiments(filter_string="tags.team IS NOT NULL")) == ["b", "a"]
    # a missing tag matches no comparison but IS NULL, as a missing run tag does
    assert _names(client.search_experiments(filter_string="tags.team != 'x'")) == ["b"]
    # LIKE with '+' (a regex character) in the pattern
    assert _names(client.search_experiments(filter_string="tags.k LIKE 'v+%'")) == ["a"]
    assert _names(client.search_experiments(filter_string="tags.k LIKE 'v%1'")) == ["a"]
    # lakeml extension kept: OR and parentheses
    assert _names(client.search_experiments(
        filter_string="(name = 'a' OR name = 'Default') AND tags.team IS NULL")) == ["Default"]


def test_search_experiments_order_by(client: lakeml.Client) -> None:
    a, _ = _three(client)
    assert _names(client.search_experiments(order_by=["name"])) == ["Default", "a", "b"]
    assert _names(client.search_experiments(order_by=["name DESC"])) == ["b", "a", "Default"]
    assert _names(client.search_experiments(order_by=["creation_time ASC"])) == [
        "Default", "a", "b"]
    assert _names(client.search_experiments(order_by=["attribute.creation_time DESC"])) == [
        "b", "a", "Default"]
    time.sleep(0.002)
    client.rename_experiment(a, "a2")  # a rename is an update
    assert _names(client.search_experiments(order_by=["last_update_time DESC"]))[0] == "a2"
    assert _names(client.search_experiments(order_by=["experiment_id ASC"])) == [
        "Default", "a2", "b"]


def test_search_experiments_pages_with_tokens(client: lakeml.Client) -> None:
    for name in ("e1", "e2", "e3", "e4"):
        client.create_experiment(name)
    seen, token, pages = [], None, 0
    while True:
        page = client.search_experiments(max_results=2, order_by=["name"], page_token=token)
        seen += _names(page)
        pages += 1
        token = page.token
        if token is None:
            break
    assert seen == ["Default", "e1", "e2", "e3", "e4"] and pages == 3
    with pytest.raises(InvalidArgument, match="different search"):
        client.search_experiments(max_results=2, order_by=["name DESC"],
                                  page_token=client.search_experiments(
                                      max_results=2, order_by=["name"]).token)


def test_search_experiments_view_type_and_bad_arguments(client: lakeml.Client) -> None:
    a, _ = _three(client)
    client.delete_experiment(a)
    assert _names(client.search_experiments(ViewType.DELETED_ONLY)) == ["a"]
    assert _names(client.search_experiments(view_type=ViewType.ALL)) == ["b", "a", "Default"]
    for bad in (0, -1, 50_001, 1.5, "10", True):
        with pytest.raises(InvalidArgument, match="max_results"):
            client.search_experiments(max_results=bad)
    assert len(client.search_experiments(max_results=None)) == 2  # None: the default
    assert len(client.search_experiments(max_results=50_000)) == 2
    with pytest.raises(InvalidArgument, match="unknown experiment attribute 'status'"):
        client.search_experiments(filter_string="status = 'x'")
    with pytest.raises(InvalidArgument, match="metrics"):
        client.search_experiments(filter_string="metrics.m > 1")
    with pytest.raises(InvalidArgument, match="not allowed"):
        client.search_experiments(filter_string="creation_time LIKE '1%'")
    with pytest.raises(InvalidArgument, match="order_by"):
        client.search_experiments(order_by=["tags.team"])
    with pytest.raises(InvalidArgument, match="page_token"):
        client.search_experiments(page_token="garbage")


def test_experiment_filter_parses_with_the_run_filter_grammar() -> None:
    tree = parse_experiment_filter("attributes.name = 'a' and `tags`.`my key` IS NULL")
    assert [(c.entity, c.key, c.op, c.value) for c in tree.items] == [
        ("attributes", "name", "=", "a"), ("tags", "my key", "IS NULL", None)]
    assert parse_experiment_filter("  ") is None


# ---------------------------------------------------------------- 2. delete_experiment


def test_delete_and_restore_experiment_cascade_to_runs(client: lakeml.Client) -> None:
    exp_id = client.create_experiment("e")
    runs = [client.create_run(exp_id).info.run_id for _ in range(3)]
    client.set_terminated(runs[0])
    client.delete_experiment(exp_id)
    for run_id in runs:
        assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    found = client.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert sorted(r.info.run_id for r in found) == sorted(runs)
    assert list(client.search_runs([exp_id])) == []
    client.restore_experiment(exp_id)
    assert {client.get_run(r).info.lifecycle_stage for r in runs} == {"active"}
    client.log_metric(runs[1], "m", 1.0)  # an active, RUNNING run takes logs again


@pytest.mark.slow
def test_experiment_deletion_is_seen_by_another_process(client: lakeml.Client,
                                                        store_uri: str) -> None:
    from tests.conftest import run_python

    exp_id = client.create_experiment("e")
    run_id = client.create_run(exp_id).info.run_id
    client.flush()
    run_python(f"import lakeml; lakeml.Client({store_uri!r}).delete_experiment({exp_id!r})")
    fresh = lakeml.Client(store_uri)
    fresh.tracking._b.runs.clear()
    assert fresh.get_run(run_id).info.lifecycle_stage == "deleted"


# ---------------------------------------------------------------- 3. mlflow.runName


def test_run_name_tag_renames_the_run(client: lakeml.Client) -> None:
    exp_id = client.create_experiment("e")
    run_id = client.create_run(exp_id, run_name="first").info.run_id
    client.set_tag(run_id, "mlflow.runName", "second")
    run = client.get_run(run_id)
    assert (run.info.run_name, run.data.tags["mlflow.runName"]) == ("second", "second")
    found = client.search_runs([exp_id], "attributes.run_name = 'second'")
    assert [r.info.run_id for r in found] == [run_id]
    client.log_batch(run_id, tags=[RunTag("mlflow.runName", "third")])
    assert client.get_run(run_id).info.run_name == "third"
    assert [r.info.run_id for r in client.search_runs([exp_id], "run_name = 'third'")] == [run_id]
    client.update_run(run_id, name="fourth")
    assert client.get_run(run_id).data.tags["mlflow.runName"] == "fourth"


def test_create_run_with_conflicting_name_and_tag_raises(client: lakeml.Client) -> None:
    with pytest.raises(InvalidArgument, match="run_name='a'.*'b'"):
        client.create_run("0", run_name="a", tags={"mlflow.runName": "b"})
    run = client.create_run("0", run_name="a", tags={"mlflow.runName": "a"})
    assert run.info.run_name == "a"
    assert client.create_run("0", tags={"mlflow.runName": "t"}).info.run_name == "t"


def test_bulk_runs_take_their_name_from_the_run_name_tag(client: lakeml.Client) -> None:
    import pyarrow as pa

    ids = client.log_runs("0", pa.table({"tags.mlflow.runName": ["x", "y"],
                                         "metrics.m": [1.0, 2.0]}))
    assert [client.get_run(i).info.run_name for i in ids] == ["x", "y"]
    assert [r.info.run_id for r in client.search_runs(["0"], "run_name = 'y'")] == [ids[1]]
    ids = client.log_runs("0", pa.table({"metrics.m": [3.0]}), tags={"mlflow.runName": "z"})
    assert client.get_run(ids[0]).data.tags["mlflow.runName"] == "z"
    assert client.get_run(ids[0]).info.run_name == "z"
    with pytest.raises(InvalidArgument, match="run name is given twice"):
        client.log_runs("0", pa.table({"run_name": ["a"], "tags.mlflow.runName": ["b"]}))


# ---------------------------------------------------------------- 4. identical metric points


def test_identical_metric_points_are_kept_once(client: lakeml.Client) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=10, step=0)
    client.log_metric(run_id, "m", 1.0, timestamp=10, step=0)
    client.flush()
    client.log_batch(run_id, metrics=[Metric("m", 1.0, 10, 0), Metric("m", 2.0, 11, 1)])
    client.log_batch(run_id, metrics=[Metric("m", 2.0, 11, 1)])
    history = client.get_metric_history(run_id, "m")
    assert [(p.value, p.timestamp, p.step) for p in history] == [(1.0, 10, 0), (2.0, 11, 1)]
    assert client.get_run(run_id).data.metrics == {"m": 2.0}
    # NaN equals NaN for this purpose; different values at one step are distinct points
    client.log_metric(run_id, "n", float("nan"), timestamp=5, step=0)
    client.log_metric(run_id, "n", float("nan"), timestamp=5, step=0)
    client.log_metric(run_id, "n", 3.0, timestamp=5, step=0)
    values = [p.value for p in client.get_metric_history(run_id, "n")]
    assert len(values) == 2 and math.isnan(values[1]) and values[0] == 3.0
    assert client.sql("SELECT count(*) FROM metrics WHERE key = 'm'").fetchall() == [(2,)]


def test_metric_history_and_the_metrics_view_keep_the_same_points(
        client: lakeml.Client) -> None:
    run_id = client.create_run("0").info.run_id
    nan = float("nan")
    points = [Metric("m", value, ts, step) for value, ts, step in (
        (1.0, 5, 0), (1.0, 5, 0), (nan, 5, 0), (nan, 5, 0), (1.0, 6, 0), (2.0, 5, 1),
        (2.0, 5, 1), (1.0, 5, 1), (-0.5, 4, 2))]
    for batch in (points[:4], points[4:], points[2:7]):
        client.log_batch(run_id, metrics=batch)
        client.flush()
    for _ in range(3):  # timestamps in microseconds: logged "now", never identical
        client.log_metric(run_id, "m", 7.0, step=3)

    def text(rows) -> list[str]:
        return [repr(tuple(row)) for row in rows]

    history = [(p.value, p.timestamp, p.step) for p in client.get_metric_history(run_id, "m")]
    view = client.sql("SELECT value, epoch_ms(timestamp), step FROM metrics WHERE run_id = ? "
                      "AND key = 'm' ORDER BY step, timestamp, value", [run_id]).fetchall()
    assert text(history) == text(view)
    assert text(history[:6]) == text([(1.0, 5, 0), (nan, 5, 0), (1.0, 6, 0), (1.0, 5, 1),
                                      (2.0, 5, 1), (-0.5, 4, 2)])
    assert len(history) > 6 and {p[:1] + p[2:] for p in history[6:]} == {(7.0, 3)}


@pytest.mark.slow
def test_identical_metric_points_from_two_processes_are_kept_once(client: lakeml.Client,
                                                                  store_uri: str) -> None:
    from tests.conftest import run_python

    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=10, step=3)
    client.flush()
    run_python(f"import lakeml; c = lakeml.Client({store_uri!r}); "
               f"c.log_metric({run_id!r}, 'm', 1.0, timestamp=10, step=3); c.flush()")
    assert len(lakeml.Client(store_uri).get_metric_history(run_id, "m")) == 1


# ---------------------------------------------------------------- 5. dataset inputs


def test_logging_a_dataset_again_adds_no_input(client: lakeml.Client) -> None:
    run_id = client.create_run("0").info.run_id
    ds = Dataset("train", "d1", "local", "/tmp/x", "{}", "{}")
    client.log_inputs(run_id, [DatasetInput(ds, "training")])
    client.flush()
    client.log_inputs(run_id, [DatasetInput(ds, "training")])
    client.log_inputs(run_id, [DatasetInput(ds, "eval")])  # same dataset, other context
    client.log_inputs(run_id, [DatasetInput(Dataset("train", "d2", "local", "/tmp/x"),
                                            "training")])
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert [(i.dataset.digest, i.context) for i in inputs] == [("d1", "training"),
                                                               ("d2", "training")]
    assert list(client.search_runs(["0"], "datasets.context = 'eval'")) == []


# ---------------------------------------------------------------- 8-10. fluent


def test_search_runs_with_unknown_experiment_names_is_empty(client: lakeml.Client) -> None:
    with lakeml.start_run():
        lakeml.log_metric("m", 1.0)
    assert lakeml.search_runs(experiment_names=["nope"], output_format="list") == []
    assert len(lakeml.search_runs(experiment_names=["nope"])) == 0
    assert len(lakeml.search_runs(experiment_names=[None])) == 0
    assert len(lakeml.search_runs(experiment_names=["Default", None, "nope"])) == 1
    assert list(client.search_runs([])) == []
    assert client.search_runs_table([]).num_rows == 0


def test_start_run_description_on_resume(client: lakeml.Client) -> None:
    with lakeml.start_run() as run:
        pass
    with lakeml.start_run(run_id=run.info.run_id, description="notes"):
        pass
    assert client.get_run(run.info.run_id).data.tags["mlflow.note.content"] == "notes"
    for run_id in (None, run.info.run_id):
        with pytest.raises(InvalidArgument, match="mlflow.note.content"):
            lakeml.start_run(run_id=run_id, description="a",
                             tags={"mlflow.note.content": "b"})
    assert lakeml.active_run() is None
    assert client.get_run(run.info.run_id).info.status == "FINISHED"


def test_start_run_experiment_id_zero_is_experiment_zero(client: lakeml.Client) -> None:
    lakeml.set_experiment("other")
    with lakeml.start_run(experiment_id=0) as run:
        pass
    assert run.info.experiment_id == "0"


# ---------------------------------------------------------------- 11-12. client


def test_update_run_with_empty_name_keeps_the_name(client: lakeml.Client) -> None:
    run_id = client.create_run("0", run_name="keep").info.run_id
    client.update_run(run_id, "FINISHED", name="")
    run = client.get_run(run_id)
    assert (run.info.run_name, run.data.tags["mlflow.runName"], run.info.status) == (
        "keep", "keep", "FINISHED")


def test_search_runs_max_results_limit(client: lakeml.Client) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidArgument, match="at most 50,000, got 50001"):
        client.search_runs(["0"], max_results=50_001)
    assert [r.info.run_id for r in client.search_runs(["0"], max_results=50_000)] == [run_id]
    assert [r.info.run_id for r in client.search_runs(["0"], max_results=None)] == [run_id]
    assert len(lakeml.search_runs(["0"], max_results=None)) == 1


# ---------------------------------------------------------------- logging to ended runs


def test_an_ended_run_takes_log_calls_until_it_is_deleted(client: lakeml.Client) -> None:
    """MLflow's stores check only the lifecycle (``_check_run_is_active``), not the status:
    metrics of an evaluation or tags of a review can be added after a run ended."""
    from lakeml.errors import InvalidState

    exp = client.create_experiment("ended")
    for status in ("FINISHED", "FAILED", "KILLED"):
        run_id = client.create_run(exp).info.run_id
        client.set_terminated(run_id, status)
        client.log_metric(run_id, "late", 0.5, step=3)
        client.log_param(run_id, "after", "end")
        client.set_tag(run_id, "review", "ok")
        client.flush()
        run = client.get_run(run_id)
        assert run.info.status == status  # logging does not reopen the run
        assert (run.data.metrics, run.data.params) == ({"late": 0.5}, {"after": "end"})
        assert run.data.tags["review"] == "ok"
    client.delete_run(run_id)
    with pytest.raises(InvalidState, match=f"run '{run_id}' is deleted"):
        client.log_metric(run_id, "late", 1.0)
    client.restore_run(run_id)
    client.log_metric(run_id, "late", 1.0, step=4)
    client.flush()
    assert client.get_run(run_id).data.metrics == {"late": 1.0}
