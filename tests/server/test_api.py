"""MLflow's REST API 2.0 of ``lakeml server``, over plain HTTP, against a real server.

Every route of the first slice of issue 18, its error cases, and the data read back
from the lake with lakeml's own Client: what the server acknowledged is committed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

import lakeml
from tests.conftest import run_python
from tests.server.conftest import Server, settled


def post(server: Server, path: str, body: Any = None, *, status: int = 200) -> dict:
    response = httpx.post(f"{server.api}/{path}", json=body if body is not None else {},
                          timeout=60)
    assert response.status_code == status, response.text
    return response.json()


def get(server: Server, path: str, status: int = 200, **params: Any) -> dict:
    response = httpx.get(f"{server.api}/{path}", params=params, timeout=60)
    assert response.status_code == status, response.text
    return response.json()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def experiment_id(server: Server) -> str:
    return post(server, "experiments/create", {"name": unique("exp")})["experiment_id"]


def new_run(server: Server, experiment_id: str, **fields: Any) -> str:
    body = {"experiment_id": experiment_id, **fields}
    return post(server, "runs/create", body)["run"]["info"]["run_id"]


def tags_of(entity: dict) -> dict[str, str]:
    return {t["key"]: t["value"] for t in entity.get("tags", [])}


# ---- experiments ---------------------------------------------------------------------------
def test_experiment_create_get_update_tag_delete_restore(server: Server) -> None:
    name = unique("exp")
    eid = post(server, "experiments/create",
               {"name": name, "tags": [{"key": "team", "value": "ml"}]})["experiment_id"]
    exp = get(server, "experiments/get", experiment_id=eid)["experiment"]
    assert exp["name"] == name and exp["lifecycle_stage"] == "active"
    assert tags_of(exp) == {"team": "ml"}
    assert {"experiment_id", "artifact_location", "creation_time",
            "last_update_time"} <= exp.keys()
    assert get(server, "experiments/get-by-name",
               experiment_name=name)["experiment"]["experiment_id"] == eid

    assert post(server, "experiments/update", {"experiment_id": eid,
                                               "new_name": name + "-b"}) == {}
    post(server, "experiments/set-experiment-tag", {"experiment_id": eid, "key": "stage",
                                                    "value": "dev"})
    exp = get(server, "experiments/get", experiment_id=eid)["experiment"]
    assert exp["name"] == name + "-b" and tags_of(exp)["stage"] == "dev"
    post(server, "experiments/set-experiment-tag", {"experiment_id": eid, "key": "gone",
                                                    "value": "soon"})
    assert post(server, "experiments/delete-experiment-tag",  # MLflow 3's client calls it
                {"experiment_id": eid, "key": "gone"}) == {}
    assert "gone" not in tags_of(get(server, "experiments/get",
                                     experiment_id=eid)["experiment"])

    post(server, "experiments/delete", {"experiment_id": eid})
    assert get(server, "experiments/get",
               experiment_id=eid)["experiment"]["lifecycle_stage"] == "deleted"
    found = post(server, "experiments/search", {"filter": f"name = '{name}-b'"})
    assert found["experiments"] == []
    found = post(server, "experiments/search", {"filter": f"name = '{name}-b'",
                                                 "view_type": "DELETED_ONLY"})
    assert [e["experiment_id"] for e in found["experiments"]] == [eid]
    post(server, "experiments/restore", {"experiment_id": eid})

    # in the lake, read by lakeml itself
    lake_exp = lakeml.Client(server.store).get_experiment(eid)
    assert lake_exp.name == name + "-b" and lake_exp.lifecycle_stage == "active"
    assert lake_exp.tags == {"team": "ml", "stage": "dev"}


def test_experiment_search_pages_and_get(server: Server) -> None:
    prefix = unique("paged")
    ids = [post(server, "experiments/create", {"name": f"{prefix}-{i}"})["experiment_id"]
           for i in range(3)]
    body = {"filter": f"name LIKE '{prefix}-%'", "max_results": 2, "order_by": ["name ASC"]}
    first = post(server, "experiments/search", body)
    assert [e["experiment_id"] for e in first["experiments"]] == ids[:2]
    second = post(server, "experiments/search", {**body, "page_token":
                                                 first["next_page_token"]})
    assert [e["experiment_id"] for e in second["experiments"]] == ids[2:]
    assert "next_page_token" not in second
    by_get = get(server, "experiments/search", filter=f"name = '{prefix}-1'")
    assert [e["experiment_id"] for e in by_get["experiments"]] == ids[1:2]


def test_experiment_errors(server: Server) -> None:
    missing = get(server, "experiments/get", 404, experiment_id="123456789")
    assert missing["error_code"] == "RESOURCE_DOES_NOT_EXIST" and missing["message"]
    assert get(server, "experiments/get-by-name", 404, experiment_name=unique("none")
               )["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    name = unique("dup")
    post(server, "experiments/create", {"name": name})
    assert post(server, "experiments/create", {"name": name}, status=400
                )["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert post(server, "experiments/create", {}, status=400
                )["error_code"] == "INVALID_PARAMETER_VALUE"
    assert post(server, "experiments/search", {"filter": "name ==== 'x'"}, status=400
                )["error_code"] == "INVALID_PARAMETER_VALUE"


# ---- runs ------------------------------------------------------------------------------------
def test_run_lifecycle_and_logging(server: Server, experiment_id: str) -> None:
    created = post(server, "runs/create", {
        "experiment_id": experiment_id, "user_id": "ana", "run_name": "first",
        "start_time": 1_700_000_000_000, "tags": [{"key": "kind", "value": "test"}]})["run"]
    info = created["info"]
    run_id = info["run_id"]
    assert info["run_uuid"] == run_id and info["experiment_id"] == experiment_id
    assert (info["run_name"], info["user_id"], info["status"], info["lifecycle_stage"]) == (
        "first", "ana", "RUNNING", "active")
    assert info["start_time"] == 1_700_000_000_000 and info["artifact_uri"]
    assert created["inputs"] == {"dataset_inputs": []}

    post(server, "runs/log-metric", {"run_id": run_id, "key": "loss", "value": 0.5,
                                     "timestamp": 1_700_000_000_001, "step": 0})
    post(server, "runs/log-metric", {"run_uuid": run_id, "key": "loss", "value": "NaN",
                                     "timestamp": "1700000000002", "step": "1"})
    post(server, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    post(server, "runs/set-tag", {"run_id": run_id, "key": "note", "value": "hi"})
    post(server, "runs/set-tag", {"run_id": run_id, "key": "gone", "value": "x"})
    post(server, "runs/delete-tag", {"run_id": run_id, "key": "gone"})
    post(server, "runs/log-batch", {
        "run_id": run_id,
        "metrics": [{"key": "loss", "value": 0.25, "timestamp": 1_700_000_000_003, "step": 2},
                    {"key": "acc", "value": 0.9, "timestamp": 1_700_000_000_003, "step": 2}],
        "params": [{"key": "depth", "value": "3"}],
        "tags": [{"key": "batch", "value": "yes"}]})

    run = get(server, "runs/get", run_id=run_id)["run"]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"] == {"key": "loss", "value": 0.25, "timestamp": 1_700_000_000_003,
                               "step": 2}
    assert metrics["acc"]["value"] == 0.9
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1", "depth": "3"}
    tags = tags_of(run["data"])
    assert tags["note"] == "hi" and tags["batch"] == "yes" and tags["kind"] == "test"
    assert "gone" not in tags and tags["mlflow.user"] == "ana"
    assert tags["lakeml.owner"] == "remote"  # not the server's process

    history = get(server, "metrics/get-history", run_id=run_id, metric_key="loss")["metrics"]
    assert [(m["step"], m["value"]) for m in history] == [(0, 0.5), (1, "NaN"), (2, 0.25)]
    first = get(server, "metrics/get-history", run_id=run_id, metric_key="loss",
                max_results=2)
    assert [m["step"] for m in first["metrics"]] == [0, 1]
    rest = get(server, "metrics/get-history", run_id=run_id, metric_key="loss",
               max_results=2, page_token=first["next_page_token"])
    assert [m["step"] for m in rest["metrics"]] == [2] and "next_page_token" not in rest

    ended = post(server, "runs/update", {"run_id": run_id, "status": "FINISHED",
                                         "end_time": 1_700_000_001_000, "run_name": "renamed"})
    assert ended["run_info"]["status"] == "FINISHED"
    assert ended["run_info"]["end_time"] == 1_700_000_001_000
    assert ended["run_info"]["run_name"] == "renamed"

    # what the server acknowledged is in the lake
    settled(server)  # the server's journal is committed: read the store
    lake_run = lakeml.Client(server.store).get_run(run_id)
    assert lake_run.info.status == "FINISHED" and lake_run.info.run_name == "renamed"
    assert lake_run.data.params == {"lr": "0.1", "depth": "3"}
    assert lake_run.data.metrics["loss"] == 0.25 and lake_run.data.tags["note"] == "hi"
    lake_history = lakeml.Client(server.store).get_metric_history(run_id, "loss")
    assert [m.step for m in lake_history] == [0, 1, 2]


def test_run_search_delete_restore(server: Server, experiment_id: str) -> None:
    ids = []
    for i in range(3):
        run_id = new_run(server, experiment_id, run_name=f"r{i}")
        post(server, "runs/log-batch", {"run_id": run_id,
                                        "metrics": [{"key": "score", "value": i,
                                                     "timestamp": 1_700_000_000_000,
                                                     "step": 0}],
                                        "params": [{"key": "i", "value": str(i)}]})
        ids.append(run_id)
    body = {"experiment_ids": [experiment_id], "filter": "metrics.score >= 1",
            "order_by": ["metrics.score DESC"]}
    found = post(server, "runs/search", body)["runs"]
    assert [r["info"]["run_id"] for r in found] == [ids[2], ids[1]]
    assert found[0]["data"]["params"] == [{"key": "i", "value": "2"}]
    page = post(server, "runs/search", {**body, "max_results": 1})
    rest = post(server, "runs/search", {**body, "max_results": 1,
                                        "page_token": page["next_page_token"]})
    assert [r["info"]["run_id"] for r in page["runs"] + rest["runs"]] == [ids[2], ids[1]]

    post(server, "runs/delete", {"run_id": ids[2]})
    assert get(server, "runs/get", run_id=ids[2])["run"]["info"]["lifecycle_stage"] == \
        "deleted"
    assert [r["info"]["run_id"] for r in post(server, "runs/search", body)["runs"]] == ids[1:2]
    deleted = post(server, "runs/search", {**body, "run_view_type": "DELETED_ONLY"})["runs"]
    assert [r["info"]["run_id"] for r in deleted] == ids[2:]
    # the lake agrees, through lakeml's own search
    lakeml.set_store(server.store)
    frame = lakeml.search_runs([experiment_id], filter_string="metrics.score >= 1")
    assert sorted(frame["run_id"]) == [ids[1]]
    post(server, "runs/restore", {"run_id": ids[2]})
    assert len(post(server, "runs/search", body)["runs"]) == 2


def test_run_errors(server: Server, experiment_id: str) -> None:
    unknown = uuid.uuid4().hex
    for response in (get(server, "runs/get", 404, run_id=unknown),
                     post(server, "runs/log-metric", {"run_id": unknown, "key": "m",
                                                      "value": 1, "timestamp": 1},
                          status=404),
                     get(server, "metrics/get-history", 404, run_id=unknown,
                         metric_key="m")):
        assert response["error_code"] == "RESOURCE_DOES_NOT_EXIST" and response["message"]
    run_id = new_run(server, experiment_id)
    bad = [
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": "high", "timestamp": 1}),
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1, "timestamp": 1,
                             "step": "two"}),
        ("runs/log-metric", {"run_id": run_id, "key": "m"}),
        ("runs/log-batch", {"run_id": run_id, "metrics": [{"key": "m", "value": [1]}]}),
        ("runs/log-parameter", {"run_id": run_id}),
        ("runs/update", {"run_id": run_id, "status": "DONE"}),
        ("runs/search", {}),
        ("runs/create", {"experiment_id": experiment_id, "start_time": "yesterday"}),
    ]
    for path, body in bad:
        answer = post(server, path, body, status=400)
        assert answer["error_code"] == "INVALID_PARAMETER_VALUE", (path, body, answer)
    post(server, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "1"})
    assert post(server, "runs/log-parameter", {"run_id": run_id, "key": "p", "value": "2"},
                status=400)["error_code"] == "INVALID_PARAMETER_VALUE"
    assert post(server, "runs/create", {"experiment_id": "987654321"}, status=404
                )["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # a deleted run takes no log calls: 400 INVALID_PARAMETER_VALUE, as MLflow answers (a
    # 500 would have MLflow's client retry it for a minute before it gives up)
    post(server, "runs/delete", {"run_id": run_id})
    for path, body in [("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1,
                                            "timestamp": 1}),
                       ("runs/log-parameter", {"run_id": run_id, "key": "q", "value": "1"}),
                       ("runs/set-tag", {"run_id": run_id, "key": "t", "value": "1"}),
                       ("runs/log-batch", {"run_id": run_id, "tags": [{"key": "t",
                                                                      "value": "1"}]})]:
        answer = post(server, path, body, status=400)
        assert answer["error_code"] == "INVALID_PARAMETER_VALUE", (path, answer)
        assert f"run {run_id!r} is deleted" in answer["message"], (path, answer)
    gone = post(server, "experiments/create", {"name": unique("gone")})["experiment_id"]
    post(server, "experiments/delete", {"experiment_id": gone})
    answer = post(server, "runs/create", {"experiment_id": gone}, status=400)
    assert answer["error_code"] == "INVALID_PARAMETER_VALUE" and "is deleted" in \
        answer["message"]


def test_malformed_requests_answer_in_mlflows_shape(server: Server) -> None:
    as_json = {"Content-Type": "application/json"}
    response = httpx.post(f"{server.api}/runs/create", content=b"{not json", timeout=30,
                          headers=as_json)
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    response = httpx.post(f"{server.api}/runs/create", content=b"[1, 2]", timeout=30,
                          headers=as_json)
    assert response.status_code == 400 and response.json()["error_code"] == "BAD_REQUEST"
    response = httpx.get(f"{server.api}/runs/nothing-here", timeout=30)
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    response = httpx.get(f"{server.api}/runs/create", timeout=30)  # POST only
    assert response.status_code == 405 and "error_code" in response.json()


def test_server_log_shows_no_traceback_to_callers(server: Server) -> None:
    """Errors reach the caller as one message; tracebacks stay out of responses."""
    answer = get(server, "runs/get", 404, run_id="x" * 40)
    assert "Traceback" not in answer["message"]


# ---- the command ---------------------------------------------------------------------------
def test_server_help_documents_every_option() -> None:
    proc = run_python("from lakeml.cli import main; main(['server', '--help'])")
    for option in ("--store", "--host", "--port", "--workers", "--log-level",
                   "--allowed-hosts", "127.0.0.1", "5000"):
        assert option in proc.stdout


def test_import_lakeml_does_not_load_the_server_stack() -> None:
    proc = run_python("import sys, lakeml, lakeml.cli.app\n"
                      "print([m for m in ('fastapi', 'uvicorn', 'starlette') "
                      "if m in sys.modules])")
    assert proc.stdout.strip() == "[]"



@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_a_body_that_is_not_json_is_refused_before_it_acts(server: Server,
                                                           content_type: str | None) -> None:
    """What a page on another site can make a browser send to 127.0.0.1 without asking
    (CORS simple requests) never reaches a handler."""
    name = f"csrf-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{server.api}/experiments/create", timeout=30, headers=headers,
                          content=json.dumps({"name": name}).encode())
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["message"]
    assert lakeml.Client(server.store).get_experiment_by_name(name) is None
