"""lakeml's REST client against a real ``lakeml server``: the fluent API and the Client over
HTTP, lakeml's /api/2.0/lakeml extensions, errors, buffering and read-your-writes."""

from __future__ import annotations

import math
import threading
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

import lakeml
from lakeml.entities import Dataset, DatasetInput, Metric, Param, RunTag
from lakeml.errors import (
    AlreadyExists,
    Deleted,
    InvalidArgument,
    InvalidState,
    LakemlError,
    NotFound,
    NotSupported,
    StoreUnavailable,
)
from lakeml.rest import RestRegistryService, RestTrackingService, buffer
from lakeml.rest.http import ARROW_STREAM, read_arrow
from tests.server.conftest import Server


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rest(server: Server) -> lakeml.Client:
    return lakeml.Client(server.url)


def lakeml_api(server: Server) -> str:
    return f"{server.url}/api/2.0/lakeml"


# ---- choosing the REST services ------------------------------------------------------------
def test_http_uris_select_the_rest_services(server: Server, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    for client in (lakeml.Client(server.url), lakeml.Client(server.url + "/")):
        assert isinstance(client.tracking, RestTrackingService)
        assert isinstance(client.registry, RestRegistryService)
        assert client.store_uri == server.url
    monkeypatch.setenv("LAKEML_STORE", server.url)
    assert isinstance(lakeml.Client().tracking, RestTrackingService)
    monkeypatch.delenv("LAKEML_STORE")
    lakeml.set_store(server.url)
    assert lakeml.get_store_uri() == server.url
    with pytest.raises(NotSupported, match="tracking server.*store.writer"):
        lakeml.Client(server.url).store.writer  # noqa: B018 - the attribute raises
    with pytest.raises(InvalidArgument, match="storage_options"):
        lakeml.Client(server.url, storage_options={"a": "b"})


def test_an_unreachable_server_is_store_unavailable_naming_it() -> None:
    from tests.server.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StoreUnavailable, match=f"tracking server {url} did not answer"):
        lakeml.Client(url).get_experiment("0")
    with pytest.raises(InvalidArgument, match="names no host"):
        lakeml.set_store("http://")


# ---- the fluent API over HTTP --------------------------------------------------------------------
def test_fluent_api_end_to_end_over_http(server: Server) -> None:
    lakeml.set_store(server.url)
    exp = lakeml.set_experiment(unique("fluent"))
    with lakeml.start_run(run_name="outer", tags={"team": "a"}) as outer:
        lakeml.log_param("alpha", 0.5)
        lakeml.log_params({"beta": 1, "gamma": "x"})
        for step in range(5):
            lakeml.log_metric("loss", 1.0 / (step + 1), step=step)
        lakeml.log_metrics({"acc": 0.9, "f1": float("nan")})
        lakeml.set_tag("stage", "dev")
        with lakeml.start_run(run_name="inner", nested=True) as inner:
            lakeml.log_metric("loss", 0.01)
    run = lakeml.get_run(outer.info.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "outer"
    assert run.data.params == {"alpha": "0.5", "beta": "1", "gamma": "x"}
    assert run.data.metrics["loss"] == 0.2 and math.isnan(run.data.metrics["f1"])
    assert run.data.tags["team"] == "a" and run.data.tags["stage"] == "dev"
    child = lakeml.get_run(inner.info.run_id)
    assert child.info.parent_run_id == outer.info.run_id
    history = lakeml.Client().get_metric_history(outer.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
    frame = lakeml.search_runs(filter_string="params.alpha = '0.5' OR metrics.loss < 0.05")
    assert set(frame["run_id"]) == {outer.info.run_id, inner.info.run_id}
    assert exp.experiment_id in set(frame["experiment_id"])
    found = lakeml.search_runs(filter_string="tags.team = 'a' and (metrics.acc > 0.5 or "
                               "params.gamma = 'y')", output_format="list")
    assert [r.info.run_id for r in found] == [outer.info.run_id]
    counted = lakeml.sql("SELECT count(*) FROM metrics WHERE run_id = ?",
                         [outer.info.run_id]).fetchall()
    assert counted == [(7,)]


# ---- the Client over HTTP ------------------------------------------------------------------------
def test_client_experiments_runs_and_logs(rest: lakeml.Client) -> None:
    name = unique("client")
    exp_id = rest.create_experiment(name, tags={"owner": "me"})
    assert rest.get_experiment_by_name(name).experiment_id == exp_id
    assert rest.get_experiment_by_name(unique("absent")) is None
    assert rest.active_experiment(exp_id).tags == {"owner": "me"}
    rest.set_experiment_tag(exp_id, "k", "v")
    rest.delete_experiment_tag(exp_id, "owner")
    assert rest.get_experiment(exp_id).tags == {"k": "v"}
    page = rest.search_experiments(filter_string=f"name = '{name}'")
    assert [e.experiment_id for e in page] == [exp_id] and page.token is None
    rest.rename_experiment(exp_id, name + "-b")
    rest.delete_experiment(exp_id)
    assert rest.get_experiment_by_name(name + "-b").lifecycle_stage == "deleted"
    assert exp_id in [e.experiment_id for e in rest.search_experiments("DELETED_ONLY")]
    with pytest.raises(InvalidState, match="deleted"):
        rest.create_run(exp_id)
    rest.restore_experiment(exp_id)

    run_id = rest.create_run(exp_id, run_name="r", start_time=1_700_000_000_000).info.run_id
    rest.log_batch(run_id, metrics=[Metric("m", 2.0, 1_700_000_000_001, 3)],
                   params=[Param("p", "1")], tags=[RunTag("t", "x")])
    rest.log_inputs(run_id, [DatasetInput(Dataset("train", "abc123", source="s3://b/k"),
                                          "training")])
    rest.update_run(run_id, name="renamed")
    rest.set_terminated(run_id, "FAILED", end_time=1_700_000_000_500)
    run = rest.get_run(run_id)
    assert (run.info.run_name, run.info.status, run.info.start_time, run.info.end_time) == \
        ("renamed", "FAILED", 1_700_000_000_000, 1_700_000_000_500)
    assert run.data.latest_metrics == (Metric("m", 2.0, 1_700_000_000_001, 3, run_id),)
    [used] = run.inputs.dataset_inputs
    assert (used.dataset.name, used.dataset.source, used.context) == \
        ("train", "s3://b/k", "training")
    assert [r.run_id for r in rest.list_runs(exp_id)] == [run_id]
    rest.delete_run(run_id)
    assert rest.list_runs(exp_id) == [] and len(rest.list_runs(exp_id, "ALL")) == 1
    rest.restore_run(run_id)
    assert rest.get_artifact_uri(run_id, "model") == f"{run.info.artifact_uri}/model"
    rest.delete_run(run_id)
    with pytest.raises(InvalidState, match="deleted"):
        rest.log_text(run_id, "x", "a.txt")  # checked before any file moves, as in the lake


def test_search_pages_and_tables_with_lakemls_grammar(rest: lakeml.Client) -> None:
    exp_id = rest.create_experiment(unique("search"))
    ids = []
    for i in range(5):
        run_id = rest.create_run(exp_id, start_time=1_700_000_000_000 + i).info.run_id
        rest.log_batch(run_id, metrics={"m": float(i)}, params={"p": "even" if i % 2 == 0
                                                                else "odd"})
        ids.append(run_id)
    text = "(params.p = 'odd' and metrics.m > 2) or metrics.m = 0"
    first = rest.search_runs([exp_id], text, max_results=1, order_by=["metrics.m DESC"])
    second = rest.search_runs([exp_id], text, max_results=1, order_by=["metrics.m DESC"],
                              page_token=first.token)
    assert [r.info.run_id for r in first + second] == [ids[3], ids[0]]
    assert second.token is None
    table = rest.search_runs_table([exp_id], text, order_by=["metrics.m"])
    assert table["run_id"].to_pylist() == [ids[0], ids[3]]
    assert table.schema.field("metrics.m").type == pa.float64()
    shown = rest.search_runs_table([exp_id], text, order_by=["metrics.m"],
                                   columns=["metrics.m"])
    assert shown.column_names[6:] == ["metrics.m"] and shown["run_id"] == table["run_id"]
    frame = rest.search_runs_frame([exp_id], "params.p = 'even'")
    assert sorted(frame["metrics.m"]) == [0.0, 2.0, 4.0]
    exported = rest.export_runs(exp_id, format="arrow")
    assert exported["run_id"].to_pylist() == ids  # by start time
    board = rest.leaderboard(exp_id, "m", ascending=False, max_results=2)
    assert list(board["run_id"]) == [ids[4], ids[3]]
    best = rest.best_runs(exp_id, "m", "p")
    assert dict(zip(best["group_value"], best["run_id"])) == {"even": ids[0], "odd": ids[1]}
    stats = rest.metric_by_param(exp_id, "m", "p").set_index("group_value")
    assert stats.loc["odd", "runs"] == 2 and stats.loc["even", "max"] == 4.0
    diff = rest.param_diff(ids[:2])
    assert diff.loc["p"].tolist() == ["even", "odd"]
    histories = rest.get_metric_histories(ids[:2])
    assert sorted(histories["value"]) == [0.0, 1.0]
    with pytest.raises(InvalidArgument, match="format must be one of"):
        rest.export_runs(exp_id, format="xml")


def test_sql_over_http_in_both_formats(rest: lakeml.Client, server: Server) -> None:
    run_id = rest.create_run().info.run_id
    rest.log_metric(run_id, "m", 1.5)
    rest.log_metric(run_id, "m", float("inf"), step=1)
    query = "SELECT key, value, step FROM metrics WHERE run_id = ? ORDER BY step"
    relation = rest.sql(query, [run_id])
    assert relation.fetchall() == [("m", 1.5, 0), ("m", float("inf"), 1)]
    assert list(relation.df()["step"]) == [0, 1]

    answer = httpx.post(f"{lakeml_api(server)}/sql",
                        json={"query": query, "params": [run_id], "format": "arrow"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == ARROW_STREAM
    assert read_arrow(answer.content).to_pylist() == [
        {"key": "m", "value": 1.5, "step": 0}, {"key": "m", "value": float("inf"), "step": 1}]
    answer = httpx.post(f"{lakeml_api(server)}/sql", json={"query": query, "params": [run_id]})
    assert answer.json() == {
        "schema": {"fields": [{"name": "key", "type": "string"},
                              {"name": "value", "type": "double"},
                              {"name": "step", "type": "int64"}]},
        "rows": [["m", 1.5, 0], ["m", "Infinity", 1]]}
    versions = rest.store_versions()
    assert versions["metrics"] >= 1
    as_of = rest.sql("SELECT count(*) FROM metrics WHERE run_id = ?", [run_id],
                     as_of=versions).fetchall()
    assert as_of == [(2,)]


@pytest.mark.parametrize("body, message", [
    ({"query": "DROP TABLE runs"}, "DROP"),
    ({"query": "SELEC 1"}, "Parser"),
    ({"query": "SELECT 1", "format": "csv"}, "'json' or 'arrow'"),
    ({"format": "json"}, "'query'"),
])
def test_sql_errors_are_invalid_parameter_value(server: Server, body: dict[str, Any],
                                                message: str) -> None:
    answer = httpx.post(f"{lakeml_api(server)}/sql", json=body)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in answer.json()["message"]


# ---- errors: the lake's classes and messages ---------------------------------------------------
def error_of(call: Any) -> tuple[type, str]:
    try:
        call()
    except LakemlError as exc:
        return type(exc), str(exc)
    raise AssertionError("no error")


def test_errors_map_to_the_lake_services_classes_and_messages(
        rest: lakeml.Client, client: lakeml.Client) -> None:
    name = unique("twice")
    cases = {
        "no run": lambda c, run: c.get_run("nope"),
        "no experiment": lambda c, run: c.get_experiment("42"),
        "log to no run": lambda c, run: c.log_metric("nope", "m", 1.0),
        "taken name": lambda c, run: (c.create_experiment(name), c.create_experiment(name)),
        "bad filter": lambda c, run: c.search_runs(["0"], "metrics.m <<< 1"),
        "bad view": lambda c, run: c.list_runs("0", "SOMETIMES"),
        "bad key": lambda c, run: c.log_metric(run, "bad key!", 1.0),
        "bad value": lambda c, run: c.log_metric(run, "m", "high"),
        "param changed": lambda c, run: (c.log_param(run, "p", 1), c.log_param(run, "p", 2)),
        "no tag": lambda c, run: c.delete_tag(run, "absent"),
        "bad status": lambda c, run: c.set_terminated(run, "DONE"),
        "refused sql": lambda c, run: c.sql("DELETE FROM runs"),
        "no model": lambda c, run: c.get_registered_model(name),
        "bad stage": lambda c, run: (c.create_registered_model(name + "-m"),
                                     c.transition_model_version_stage(name + "-m", 1, "Prod")),
        "deleted run": lambda c, run: (c.delete_run(run), c.log_param(run, "q", 1)),
    }
    seen = {}
    for case, call in cases.items():
        lake_run, rest_run = client.create_run().info.run_id, rest.create_run().info.run_id
        lake_error = error_of(partial(call, client, lake_run))
        rest_error = error_of(partial(call, rest, rest_run))
        seen[case] = (lake_error[0], rest_error[0])
        assert rest_error[0] is lake_error[0], case
        assert rest_error[1] == lake_error[1].replace(lake_run, rest_run), case
    # (Deleted: an InvalidState sent as MLflow's INVALID_PARAMETER_VALUE, known again)
    assert {lake for lake, _ in seen.values()} >= {NotFound, AlreadyExists, InvalidArgument,
                                                   Deleted}


# ---- buffering and read-your-writes --------------------------------------------------------
def test_reads_see_the_writes_of_this_process_without_a_flush(rest: lakeml.Client) -> None:
    run_id = rest.create_run().info.run_id
    rest.log_metric(run_id, "m", 1.0)
    assert [m.value for m in rest.get_metric_history(run_id, "m")] == [1.0]
    rest.set_tag(run_id, "t", "1")
    rest.log_param(run_id, "p", "x")
    run = rest.get_run(run_id)
    assert (run.data.tags["t"], run.data.params) == ("1", {"p": "x"})
    rest.set_tag(run_id, "t", "2")
    rest.delete_tag(run_id, "t")  # a write after a buffered tag lands after it
    assert "t" not in rest.get_run(run_id).data.tags
    rest.log_metric(run_id, "m", 2.0, step=1)
    assert rest.sql("SELECT max(step) FROM metrics WHERE run_id = ?",
                    [run_id]).fetchall() == [(1,)]


def test_a_flush_sends_one_log_batch_per_run_within_mlflows_limits(
        rest: lakeml.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[dict[str, Any]] = []
    original = buffer.Batch.send

    def spy(self: buffer.Batch, http: Any) -> list[LakemlError]:
        sent.append(self.body())
        return original(self, http)

    monkeypatch.setattr(buffer.Batch, "send", spy)
    a, b = rest.create_run().info.run_id, rest.create_run().info.run_id
    with rest.tracking._buffer._flush_lock:  # the background flusher waits: one flush
        rest.log_batch(a, params={f"p{i}": i for i in range(150)},
                       tags={f"t{i}": i for i in range(120)})
        for step in range(900):  # (more than 1,000 points in all would go as Arrow)
            rest.log_metric(a, "m", float(step), step=step)
        rest.log_metric(b, "m", 1.0)
    rest.flush()
    per_run: dict[str, list[tuple[int, int, int]]] = {}
    for body in sent:  # each run's in order (runs go side by side)
        per_run.setdefault(body["run_id"], []).append(
            (len(body["metrics"]), len(body["params"]), len(body["tags"])))
    assert per_run == {a: [(800, 100, 100), (100, 50, 20)], b: [(1, 0, 0)]}
    run = rest.get_run(a)
    assert (len(run.data.params), len([k for k in run.data.tags if k.startswith("t")])) == \
        (150, 120)
    assert len(rest.get_metric_history(a, "m")) == 900


def test_a_big_flush_goes_in_one_arrow_request(rest: lakeml.Client) -> None:
    runs = [rest.create_run().info.run_id for _ in range(3)]
    points = buffer.POINTS_FROM
    for i in range(points):
        rest.log_metric(runs[i % 3], "m", float(i), step=i)
    rest.flush()
    counted = rest.sql("SELECT run_id, count(*) FROM metrics WHERE run_id IN "
                       "(SELECT unnest(?::VARCHAR[])) GROUP BY 1 ORDER BY 1",
                       [runs]).fetchall()
    assert sum(n for _, n in counted) == points and len(counted) == 3


@pytest.mark.parametrize("points", [1, buffer.POINTS_FROM], ids=["log-batch", "arrow"])
def test_rows_the_server_refuses_raise_at_the_next_flush_and_others_are_kept(
        rest: lakeml.Client, server: Server, points: int) -> None:
    ok, ended = rest.create_run().info.run_id, rest.create_run().info.run_id
    with rest.tracking._buffer._flush_lock:  # the background flusher waits
        for step in range(points):
            rest.log_metric(ok, "m", 1.0, step=step)
        rest.log_metric(ended, "m", 1.0)
        # another process deletes the run: this process's run state still says active
        httpx.post(f"{server.api}/runs/delete", json={"run_id": ended}).raise_for_status()
    assert rest.get_run(ok).info.status == "RUNNING"  # a read sends, and does not report
    with pytest.raises(InvalidState, match=f"run '{ended}' is deleted"):
        rest.flush()
    rest.flush()  # reported once
    assert rest.get_run(ok).data.metrics == {"m": 1.0}
    assert len(rest.get_metric_history(ok, "m")) == points
    assert rest.get_run(ended).data.metrics == {}


def test_a_history_of_an_unknown_run_is_empty_as_in_the_lake(rest: lakeml.Client,
                                                              client: lakeml.Client) -> None:
    assert rest.get_metric_history("nope", "m") == client.get_metric_history("nope", "m") == []


def test_log_metric_costs_no_request(rest: lakeml.Client, monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    run_id = rest.create_run().info.run_id
    rest.flush()

    http = rest.tracking._http
    send, caller = http._send, threading.current_thread()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is caller:  # (not the background flusher)
            raise AssertionError("a log call sent a request")
        return send(*args, **kwargs)

    monkeypatch.setattr(http, "_send", refuse)
    for step in range(100):
        rest.log_metric(run_id, "m", 0.5, step=step)
    rest.log_param(run_id, "p", 1)
    rest.set_tag(run_id, "t", 2)
    monkeypatch.undo()
    assert len(rest.get_metric_history(run_id, "m")) == 100


def test_bulk_logging_over_http(rest: lakeml.Client) -> None:
    import pandas as pd

    exp_id = rest.create_experiment(unique("bulk"))
    frame = pd.DataFrame({"params.lr": ["0.1", "0.2"], "metrics.acc": [0.5, float("nan")]})
    ids = rest.log_runs(exp_id, frame, tags={"source": "bulk"})
    assert len(ids) == 2 and rest.get_run(ids[0]).data.tags["source"] == "bulk"
    assert math.isnan(rest.get_run(ids[1]).data.metrics["acc"])
    count = rest.log_metric_histories(pa.table({
        "run_id": [ids[0]] * 3, "key": ["h"] * 3, "value": [1.0, 2.0, 3.0],
        "step": [0, 1, 2], "timestamp": [1_700_000_000_000] * 3}))
    assert count == 3 and len(rest.get_metric_history(ids[0], "h")) == 3
    with pytest.raises(InvalidArgument, match="missing column"):
        rest.log_metric_histories(pa.table({"run_id": [ids[0]]}))


def test_a_forked_child_sends_its_own_rows_and_not_its_parents(rest: lakeml.Client) -> None:
    import os

    run_id = rest.create_run().info.run_id
    with rest.tracking._buffer._flush_lock:  # held across the fork: the child gets new locks
        rest.log_metric(run_id, "parent", 1.0)
        pid = os.fork()
        if pid == 0:  # the child: log its own point, send it, leave without exit hooks
            code = 1
            try:
                lakeml.Client(rest.store_uri).log_metric(run_id, "child", 2.0)
                lakeml.Client(rest.store_uri).flush()
                code = 0
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    rest.flush()
    counted = rest.sql("SELECT key, count(*) FROM metrics WHERE run_id = ? GROUP BY 1 "
                       "ORDER BY 1", [run_id]).fetchall()
    assert counted == [("child", 1), ("parent", 1)]


# ---- artifacts through MLflow's artifact proxy ------------------------------------------------
def test_artifacts_through_the_proxy_as_in_the_lake(rest: lakeml.Client, tmp_path) -> None:
    run_id = rest.create_run().info.run_id
    root = rest.get_run(run_id).info.artifact_uri
    if not root.startswith("mlflow-artifacts:"):
        with pytest.raises(NotSupported, match="mlflow-artifacts/artifacts/<path>"):
            rest.log_text(run_id, "x", "a.txt")
        pytest.skip("this server has no mlflow-artifacts proxy (it shows local paths)")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "data" / "sub").mkdir()
    (tmp_path / "data" / "sub" / "b.txt").write_text("bee")
    rest.log_artifact(run_id, tmp_path / "data" / "a.csv")
    rest.log_artifacts(run_id, tmp_path / "data", "folder")
    rest.log_text(run_id, "hello", "notes/hello.txt")
    rest.log_dict(run_id, {"k": 1}, "conf.yaml")
    assert [(i.path, i.is_dir) for i in rest.list_artifacts(run_id)] == [
        ("a.csv", False), ("conf.yaml", False), ("folder", True), ("notes", True)]
    assert rest.list_artifacts(run_id, "folder/sub") == [
        lakeml.entities.FileInfo("folder/sub/b.txt", False, 3)]
    assert rest.list_artifacts(run_id, "notes/hello.txt") == [
        lakeml.entities.FileInfo("notes/hello.txt", False, 5)]
    got = rest.download_artifacts(run_id, "folder", tmp_path / "out")
    assert Path(got, "sub", "b.txt").read_text() == "bee"
    assert Path(got, "a.csv").read_text() == "x,y\n1,2\n"
    one = rest.download_artifacts(run_id, "conf.yaml", tmp_path / "one")
    assert Path(one).read_text() == "k: 1\n"
    with pytest.raises(NotFound, match="'absent'"):
        rest.download_artifacts(run_id, "absent", tmp_path / "none")
    with pytest.raises(InvalidArgument):
        rest.log_text(run_id, "x", "../escape.txt")


@pytest.mark.parametrize("path, body", [
    ("runs/log-metrics", {"arrow": "not base64!"}),
    ("metrics/log-histories", {}),
    ("runs/log-runs", {"experiment_id": "0", "arrow": "AAAA"}),
    ("model-versions/register-many", {"arrow": 7}),
])
def test_a_bulk_write_without_a_table_is_a_bad_request_naming_it(server: Server, path: str,
                                                                 body: dict[str, Any]) -> None:
    answer = httpx.post(f"{lakeml_api(server)}/{path}", json=body)
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "BAD_REQUEST"
    assert "field 'arrow'" in answer.json()["message"]


def test_rows_that_could_not_be_delivered_are_sent_by_the_next_flush(
        rest: lakeml.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = [rest.create_run().info.run_id for _ in range(3)]
    http = rest.tracking._http
    send, failed = http._send, []

    def unreachable_once(method: str, path: str, **kwargs: Any) -> Any:
        body = kwargs.get("content") or b""
        if path.endswith("/log-batch") and runs[1].encode() in body and not failed:
            failed.append(path)
            raise StoreUnavailable(f"tracking server {http.url} did not answer")
        return send(method, path, **kwargs)

    monkeypatch.setattr(http, "_send", unreachable_once)
    with rest.tracking._buffer._flush_lock:  # one flush, with every run in it
        for run_id in runs:
            rest.log_batch(run_id, metrics={"m": 1.0}, params={"p": "x"})
            rest.log_metric(run_id, "m", 2.0, step=1)
    with pytest.raises(StoreUnavailable, match="did not answer"):
        rest.flush()
    assert failed and rest.tracking._buffer.has_unflushed()
    rest.flush()
    for run_id in runs:
        assert [m.value for m in rest.get_metric_history(run_id, "m")] == [1.0, 2.0]
        assert rest.get_run(run_id).data.params == {"p": "x"}


# ---- signing in ---------------------------------------------------------------------------------
@pytest.fixture
def header_server() -> Any:
    """A loopback HTTP server that records each request's Authorization header and answers
    MLflow's 404 (enough to see what the client sends)."""
    import http.server
    import json

    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST",
                               "message": "no experiment"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def test_the_client_signs_in_with_basic_credentials_or_a_token(
        header_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    host, seen = header_server
    basic = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    client = lakeml.Client(f"http://alice:s3cret@{host}")
    assert client.store_uri == f"http://{host}"  # the password stays out of sight
    with pytest.raises(NotFound, match="no experiment"):
        client.get_experiment("1")
    monkeypatch.setenv("LAKEML_TRACKING_USERNAME", "bob")
    monkeypatch.setenv("LAKEML_TRACKING_PASSWORD", "pw")
    with pytest.raises(NotFound):
        lakeml.Client(f"http://{host}/").get_experiment("1")
    monkeypatch.setenv("LAKEML_TRACKING_TOKEN", "tok-123")
    with pytest.raises(NotFound):
        lakeml.Client(f"http://{host}//").get_experiment("1")
    monkeypatch.delenv("LAKEML_TRACKING_TOKEN")
    monkeypatch.delenv("LAKEML_TRACKING_USERNAME")
    with pytest.raises(NotFound):
        lakeml.Client(f"http://{host}").get_experiment("1")
    assert seen == [basic, "Basic " + base64.b64encode(b"bob:pw").decode(),
                    "Bearer tok-123", None]
    with pytest.raises(InvalidArgument, match=r"alice:\*\*\*@") as refused:
        lakeml.Client(f"http://alice:s3cret@{host}/?x=1")
    assert "s3cret" not in str(refused.value)


def test_a_run_is_resumed_over_http(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEML_STORE", server.url)
    with lakeml.start_run(run_name="first") as run:
        lakeml.log_metric("m", 1.0)
    assert lakeml.get_run(run.info.run_id).info.status == "FINISHED"
    late = lakeml.Client()  # a finished run still takes log calls (MLflow's rule)
    late.set_tag(run.info.run_id, "reviewed", "yes")
    late.flush()
    with lakeml.start_run(run_id=run.info.run_id):  # this process may log to it again
        lakeml.log_metric("m", 2.0, step=1)
        lakeml.set_tag("resumed", "yes")
    again = lakeml.get_run(run.info.run_id)
    assert again.info.status == "FINISHED"
    assert again.data.tags["resumed"] == again.data.tags["reviewed"] == "yes"
    assert [m.value for m in lakeml.Client().get_metric_history(run.info.run_id, "m")] == \
        [1.0, 2.0]
    late.delete_run(run.info.run_id)  # a deleted one does not
    with pytest.raises(InvalidState, match="deleted"):
        lakeml.Client().log_metric(run.info.run_id, "m", 9.0)


def test_lineage_over_http(rest: lakeml.Client, tmp_path: Path) -> None:
    import pandas as pd
    from deltalake import write_deltalake

    table = str(tmp_path / "customers")
    write_deltalake(table, pd.DataFrame({"x": [1.0, 2.0]}))
    exp = rest.create_experiment(unique("lineage"))
    run_id = rest.create_run(exp).info.run_id
    rest.log_inputs(run_id, [DatasetInput(lakeml.data.from_delta(table), "training")])
    (edge,) = rest.get_lineage(f"runs:/{run_id}")
    assert (edge.src, edge.dst, edge.kind, edge.detail, edge.depth) == (
        f"{table}@v0", f"runs:/{run_id}", "input", "training", 1)
    assert edge.time is not None
    assert rest.get_lineage(f"{table}@v0", "downstream") == [edge]
    with pytest.raises(InvalidArgument, match="sideways"):
        rest.get_lineage(f"runs:/{run_id}", "sideways")
