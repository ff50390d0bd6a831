"""Inference logging on a real scoring server on loopback: request ids, what lands in
inference_log, and what survives a clean stop (SIGTERM, SIGINT, with workers) and a
kill -9 (all but the last flush interval)."""

from __future__ import annotations

import http.client
import json
import signal
import time
from typing import Any, Iterator

import pytest

from lakeml.data.monitor import connect
from tests.models.test_server import Server
from tests.monitor.scenario import FEATURES, customers, train


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import lakeml

    store = str(tmp_path_factory.mktemp("served") / "lake")
    out = train(store, n=500)
    out["store"] = store
    yield out
    lakeml.fluent.reset()


def _post(port: int, rows: list[dict[str, Any]], request_id: str | None = None
          ) -> tuple[int, str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"}
        if request_id:
            headers["X-Request-Id"] = request_id
        conn.request("POST", "/invocations", json.dumps({"dataframe_records": rows}), headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("X-Request-Id"), json.loads(resp.read())
    finally:
        conn.close()


def _logged(store: str) -> list[tuple[Any, ...]]:
    con = connect(store)
    try:
        return con.execute("SELECT request_id, \"row\", status, model_name, model_version, "
                           "model_uuid, input_age, input_plan, prediction, latency_ms, error "
                           "FROM inference_log ORDER BY request_id, \"row\"").fetchall()
    finally:
        con.close()


def _stop(server: Server, how: int) -> None:
    server.proc.send_signal(how)
    server.proc.wait(timeout=60)
    assert server.proc.stderr is not None
    server.proc.stderr.close()


def test_workers_log_every_request_and_a_sigterm_commits_the_rest(
        trained: dict[str, Any], tmp_path: Any) -> None:
    store = str(tmp_path / "lake")
    import shutil

    shutil.copytree(trained["store"], store)
    server = Server("models:/churn@champion", "--store", store, "--log-inferences",
                    "--workers", "2", "--log-flush-interval", "60")
    frame = customers(40, seed=5)[FEATURES]
    sent = {}
    try:
        for i in range(20):
            rows = frame.iloc[2 * i:2 * i + 2].to_dict(orient="records")
            status, rid, body = _post(server.port, rows, request_id=f"req-{i:02d}")
            assert status == 200 and rid == f"req-{i:02d}"
            sent[rid] = (rows, body["predictions"])
        status, rid, body = _post(server.port, [{"age": 1.0}])  # no income: refused
        assert status == 400 and len(rid) == 32
    finally:
        _stop(server, signal.SIGTERM)  # flush interval 60 s: only the stop commits them
    logged = _logged(store)
    ok = [r for r in logged if r[2] == 200]
    assert len(ok) == 40 and {r[0] for r in ok} == set(sent)
    for request_id, row, _, name, version, uuid, age, plan, prediction, latency, _ in ok:
        rows, predictions = sent[request_id]
        assert (name, version) == ("churn", 1) and len(uuid) == 32
        assert age == pytest.approx(rows[row]["age"]) and plan == rows[row]["plan"]
        assert prediction == predictions[row] and latency > 0
    refused = [r for r in logged if r[0] == rid]
    assert refused and refused[0][2] == 400 and "income" in refused[0][-1]


def test_sigint_commits_what_is_pending(trained: dict[str, Any], tmp_path: Any) -> None:
    import shutil

    store = str(tmp_path / "lake")
    shutil.copytree(trained["store"], store)
    server = Server("models:/churn@champion", "--store", store, "--log-inferences",
                    "--log-flush-interval", "60", "--sample-rate", "1")
    rows = customers(3, seed=6)[FEATURES].to_dict(orient="records")
    try:
        ids = [_post(server.port, rows)[1] for _ in range(7)]
    finally:
        _stop(server, signal.SIGINT)
    assert sorted({r[0] for r in _logged(store)}) == sorted(ids)
    assert len(_logged(store)) == 21


def test_kill_9_loses_at_most_the_last_flush_interval(trained: dict[str, Any],
                                                      tmp_path: Any) -> None:
    import shutil

    store = str(tmp_path / "lake")
    shutil.copytree(trained["store"], store)
    interval = 0.5
    server = Server("models:/churn@champion", "--store", store, "--log-inferences",
                    "--log-flush-interval", str(interval))
    rows = customers(2, seed=7)[FEATURES].to_dict(orient="records")
    try:
        early = [_post(server.port, rows)[1] for _ in range(10)]
        time.sleep(6 * interval)  # several flushes later: these must be committed
        late = [_post(server.port, rows)[1] for _ in range(10)]
    finally:
        _stop(server, signal.SIGKILL)
    logged = {r[0] for r in _logged(store)}
    assert set(early) <= logged  # older than one interval: never lost
    assert logged <= set(early) | set(late)  # nothing invented, nothing twice
    assert len(_logged(store)) == 2 * len(logged)
