"""Every kind of bad request gets a 4xx in MLflow's error shape ``{error_code, message}``,
never a traceback, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.server.conftest import Server

RUN = "<run>"  # replaced by a real, RUNNING run's id
EXPERIMENT = "<experiment>"


def _point(key: str = "m", **extra: Any) -> dict[str, Any]:
    return {"key": key, "value": 1.0, "timestamp": 1, **extra}


# (what is wrong, method, path, JSON body or raw bytes, query parameters, status, code)
CASES: list[tuple[str, str, str, Any, dict[str, Any] | None, int, str]] = [
    # malformed bodies
    ("broken JSON", "POST", "runs/log-batch", b"{", None, 400, "BAD_REQUEST"),
    ("JSON null", "POST", "runs/log-batch", b"null", None, 400, "BAD_REQUEST"),
    ("JSON number", "POST", "runs/create", b"3", None, 400, "BAD_REQUEST"),
    ("JSON list", "POST", "experiments/create", b"[1, 2]", None, 400, "BAD_REQUEST"),
    ("not UTF-8", "POST", "runs/log-batch", b"\xff\xfe", None, 400, "BAD_REQUEST"),
    # missing required fields
    ("no run_id", "POST", "runs/log-batch", {}, None, 400, "INVALID_PARAMETER_VALUE"),
    ("no metric key", "POST", "runs/log-metric", {"run_id": RUN, "value": 1, "timestamp": 1},
     None, 400, "INVALID_PARAMETER_VALUE"),
    ("no metric value", "POST", "runs/log-metric", {"run_id": RUN, "key": "m"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("no param key", "POST", "runs/log-parameter", {"run_id": RUN}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("no tag key", "POST", "runs/set-tag", {"run_id": RUN, "value": "v"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("no experiment name", "POST", "experiments/create", {}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("no experiment id", "GET", "experiments/get", None, {}, 400, "INVALID_PARAMETER_VALUE"),
    ("no metric_key", "GET", "metrics/get-history", None, {"run_id": RUN}, 400,
     "INVALID_PARAMETER_VALUE"),
    ("no experiment_ids", "POST", "runs/search", {}, None, 400, "INVALID_PARAMETER_VALUE"),
    # wrong types
    ("run_id a number", "POST", "runs/log-batch", {"run_id": 123}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("metrics not a list", "POST", "runs/log-batch", {"run_id": RUN, "metrics": "x"}, None,
     400, "INVALID_PARAMETER_VALUE"),
    ("metric value a word", "POST", "runs/log-batch",
     {"run_id": RUN, "metrics": [{"key": "m", "value": "high", "timestamp": 1}]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("timestamp a list", "POST", "runs/log-batch",
     {"run_id": RUN, "metrics": [_point(timestamp=[1])]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("step a fraction", "POST", "runs/log-batch", {"run_id": RUN, "metrics": [_point(step=1.5)]},
     None, 400, "INVALID_PARAMETER_VALUE"),
    ("param key a number", "POST", "runs/log-batch",
     {"run_id": RUN, "params": [{"key": 1, "value": "a"}]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("param value an object", "POST", "runs/log-batch",
     {"run_id": RUN, "params": [{"key": "p", "value": {"a": 1}}]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("tag value a list", "POST", "runs/set-tag", {"run_id": RUN, "key": "t", "value": [1]},
     None, 400, "INVALID_PARAMETER_VALUE"),
    ("tags an object", "POST", "runs/log-batch", {"run_id": RUN, "tags": {"a": "b"}}, None,
     400, "INVALID_PARAMETER_VALUE"),
    ("experiment name a number", "POST", "experiments/create", {"name": 5}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("start_time a word", "POST", "runs/create",
     {"experiment_id": EXPERIMENT, "start_time": "yesterday"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("end_time a word", "POST", "runs/update",
     {"run_id": RUN, "status": "FINISHED", "end_time": "late"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("unknown status", "POST", "runs/update", {"run_id": RUN, "status": "DONE"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("step beyond int64", "POST", "runs/log-metric",
     {"run_id": RUN, "key": "m", "value": 1, "timestamp": 1, "step": 2 ** 70}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("negative timestamp", "POST", "runs/log-metric",
     {"run_id": RUN, "key": "m", "value": 1, "timestamp": -5}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("max_results a word", "POST", "experiments/search", {"max_results": "many"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("max_results negative", "POST", "experiments/search", {"max_results": -1}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("max_results a word (GET)", "GET", "metrics/get-history", None,
     {"run_id": RUN, "metric_key": "m", "max_results": "x"}, 400, "INVALID_PARAMETER_VALUE"),
    ("unknown view type", "POST", "runs/search",
     {"experiment_ids": [EXPERIMENT], "run_view_type": "SOMETIMES"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("experiment_ids a string", "POST", "runs/search", {"experiment_ids": "1"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    # unknown ids
    ("unknown run (get)", "GET", "runs/get", None, {"run_id": uuid.uuid4().hex}, 404,
     "RESOURCE_DOES_NOT_EXIST"),
    ("unknown run (log-batch)", "POST", "runs/log-batch",
     {"run_id": uuid.uuid4().hex, "metrics": [_point()]}, None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("malformed run id", "POST", "runs/log-batch", {"run_id": "no such run"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("unknown run (history)", "GET", "metrics/get-history", None,
     {"run_id": uuid.uuid4().hex, "metric_key": "m"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("unknown experiment (get)", "GET", "experiments/get", None,
     {"experiment_id": "987654321"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("unknown experiment (create run)", "POST", "runs/create", {"experiment_id": "987654321"},
     None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("unknown experiment (delete)", "POST", "experiments/delete",
     {"experiment_id": "987654321"}, None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("unknown experiment (rename)", "POST", "experiments/update",
     {"experiment_id": "987654321", "new_name": "z"}, None, 404, "RESOURCE_DOES_NOT_EXIST"),
    ("unknown tag", "POST", "runs/delete-tag", {"run_id": RUN, "key": "absent"}, None, 404,
     "RESOURCE_DOES_NOT_EXIST"),
    # oversized values
    ("param value > 6000 chars", "POST", "runs/log-batch",
     {"run_id": RUN, "params": [{"key": "big", "value": "x" * 7000}]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("tag value > 8000 chars", "POST", "runs/set-tag",
     {"run_id": RUN, "key": "big", "value": "x" * 9000}, None, 400, "INVALID_PARAMETER_VALUE"),
    ("key > 250 chars", "POST", "runs/log-batch", {"run_id": RUN, "metrics": [_point("k" * 300)]},
     None, 400, "INVALID_PARAMETER_VALUE"),
    ("experiment name > 500 chars", "POST", "experiments/create", {"name": "n" * 600}, None,
     400, "INVALID_PARAMETER_VALUE"),
    ("1001 metrics in a batch", "POST", "runs/log-batch",
     {"run_id": RUN, "metrics": [_point(f"m{i}") for i in range(1001)]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("101 params in a batch", "POST", "runs/log-batch",
     {"run_id": RUN, "params": [{"key": f"q{i}", "value": "1"} for i in range(101)]}, None,
     400, "INVALID_PARAMETER_VALUE"),
    ("101 tags in a batch", "POST", "runs/log-batch",
     {"run_id": RUN, "tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("1001 entities in a batch", "POST", "runs/log-batch",
     {"run_id": RUN, "metrics": [_point(f"m{i}") for i in range(950)],
      "params": [{"key": f"q{i}", "value": "1"} for i in range(51)]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    # bad filters, orders and page tokens
    ("bad comparator", "POST", "runs/search",
     {"experiment_ids": [EXPERIMENT], "filter": "metrics.x <<< 1"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("unquoted string", "POST", "runs/search",
     {"experiment_ids": [EXPERIMENT], "filter": "params.p = unquoted"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("unknown attribute", "POST", "runs/search",
     {"experiment_ids": [EXPERIMENT], "filter": "attributes.nope = 'a'"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("bad order_by", "POST", "runs/search",
     {"experiment_ids": [EXPERIMENT], "order_by": ["bad column!"]}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("garbage page token", "POST", "runs/search",
     {"experiment_ids": [EXPERIMENT], "page_token": "garbage!!"}, None, 400,
     "INVALID_PARAMETER_VALUE"),
    ("bad experiment filter", "POST", "experiments/search", {"filter": "name ==== 'x'"}, None,
     400, "INVALID_PARAMETER_VALUE"),
    ("bad experiment order_by", "POST", "experiments/search", {"order_by": ["nope DESC"]},
     None, 400, "INVALID_PARAMETER_VALUE"),
    ("garbage history token", "GET", "metrics/get-history", None,
     {"run_id": RUN, "metric_key": "m", "page_token": "zz"}, 400, "INVALID_PARAMETER_VALUE"),
    # wrong methods and routes
    ("GET of a POST route", "GET", "runs/create", None, {}, 405, "BAD_REQUEST"),
    ("POST of a GET route", "POST", "runs/get", {}, None, 405, "BAD_REQUEST"),
    ("PUT", "PUT", "runs/create", {}, None, 405, "BAD_REQUEST"),
    ("DELETE of a POST route", "DELETE", "runs/log-batch", {}, None, 405, "BAD_REQUEST"),
    ("PATCH of a GET route", "PATCH", "experiments/get", {}, None, 405, "BAD_REQUEST"),
    ("no such route", "GET", "runs/nothing-here", None, {}, 404, "ENDPOINT_NOT_FOUND"),
]


@pytest.fixture(scope="module")
def ids(server: Server) -> dict[str, str]:
    api = server.api
    eid = httpx.post(f"{api}/experiments/create", json={"name": f"bad-{uuid.uuid4().hex[:8]}"},
                     timeout=60).json()["experiment_id"]
    run = httpx.post(f"{api}/runs/create", json={"experiment_id": eid}, timeout=60).json()
    return {RUN: run["run"]["info"]["run_id"], EXPERIMENT: eid}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("what", "method", "path", "body", "query", "status", "code"), CASES,
                         ids=[case[0] for case in CASES])
def test_a_bad_request_is_a_4xx_in_mlflows_shape(
        server: Server, ids: dict[str, str], what: str, method: str, path: str, body: Any,
        query: dict[str, Any] | None, status: int, code: str) -> None:
    options: dict[str, Any] = {"params": _fill(query, ids)}
    if isinstance(body, bytes):  # broken bodies that say they are JSON, as clients send
        options["content"] = body
        options["headers"] = {"Content-Type": "application/json"}
    elif body is not None:
        options["json"] = _fill(body, ids)
    response = httpx.request(method, f"{server.api}/{path}", timeout=60, **options)
    assert response.status_code == status, (what, response.text)
    answer = response.json()
    assert set(answer) == {"error_code", "message"}, answer
    assert answer["error_code"] == code, answer
    assert answer["message"] and "Traceback" not in answer["message"]
    assert "File \"" not in response.text


def test_bad_requests_changed_nothing(server: Server, ids: dict[str, str]) -> None:
    """After every refused request above, the run holds nothing it was sent."""
    response = httpx.get(f"{server.api}/runs/get", params={"run_id": ids[RUN]}, timeout=60)
    data = response.json()["run"]["data"]
    assert data.get("metrics", []) == [] and data.get("params", []) == []
    assert not [t for t in data.get("tags", [])
                if not t["key"].startswith(("mlflow.", "lakeml."))], data["tags"]
    assert response.json()["run"]["info"]["status"] == "RUNNING"
