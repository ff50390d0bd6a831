"""The scoring server, as a real process on loopback: payloads, errors, liveness."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

import lakeml.pyfunc
import lakeml.sklearn
from lakeml.models.serving.scoring import MAX_BODY_BYTES

ROOT = Path(__file__).resolve().parents[2]


class Server:
    """A `lakeml models serve` process on a free loopback port."""

    def __init__(self, model_uri: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lakeml", "models", "serve", "-m", model_uri, "--port", "0",
             *extra], cwd=str(ROOT), stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stderr is not None
        seen = ""
        match = None
        while match is None and len(seen) < 20_000:  # warnings may come first
            line = self.proc.stderr.readline()  # "lakeml: serving ... on http://127.0.0.1:N"
            if not line:
                break
            seen += line
            match = re.search(r"lakeml: serving .* on http://127\.0\.0\.1:(\d+)", line)
        if match is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not start: {seen}{self.proc.stderr.read()}")
        self.port = int(match.group(1))

    def request(self, method: str, path: str, body: bytes | str | None = None,
                content_type: str | None = "application/json",
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            hdrs = dict(headers or {})
            if content_type is not None:
                hdrs["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        kind = resp.getheader("Content-Type") or ""
        return resp.status, json.loads(raw) if kind.startswith("application/json") else raw

    def post(self, payload: Any, content_type: str = "application/json") -> tuple[int, Any]:
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return self.request("POST", "/invocations", body, content_type)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def iris_server(tmp_path_factory: pytest.TempPathFactory, sk_model: Any,
                iris: tuple[Any, Any]) -> Iterator[Server]:
    X, _ = iris
    path = tmp_path_factory.mktemp("served") / "iris"
    lakeml.sklearn.save_model(sk_model, path, input_example=X.head(2))
    server = Server(str(path))
    yield server
    server.stop()


def _expected(sk_model: Any, X: Any, rows: int = 3) -> list[int]:
    return sk_model.predict(X.head(rows)).tolist()


def test_health_ping_version(iris_server: Server) -> None:
    assert iris_server.request("GET", "/ping") == (200, {"status": "ok"})
    assert iris_server.request("GET", "/health") == (200, {"status": "ok"})
    status, body = iris_server.request("GET", "/version")
    assert status == 200 and body.decode() == lakeml.__version__


def test_every_mlflow_payload_format(iris_server: Server, sk_model: Any,
                                     iris: tuple[Any, Any]) -> None:
    X, _ = iris
    rows = X.head(3)
    want = {"predictions": _expected(sk_model, X)}
    payloads = [
        {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))},
        {"dataframe_split": json.loads(rows.to_json(orient="split"))},  # with an index
        {"dataframe_records": rows.to_dict(orient="records")},
        {"instances": rows.to_dict(orient="records")},
        {"instances": rows.to_numpy().tolist()},
        {"inputs": rows.to_dict(orient="list")},
        {"inputs": rows.to_numpy().tolist()},
    ]
    for payload in payloads:
        assert iris_server.post(payload) == (200, want), payload
    assert iris_server.post(rows.to_csv(index=False), "text/csv") == (200, want)
    assert iris_server.post(rows.to_csv(index=False),
                            "text/csv; charset=utf-8") == (200, want)


def test_ints_in_json_are_widened_and_extra_columns_ignored(iris_server: Server,
                                                            sk_model: Any) -> None:
    record = {"sepal_length": 6, "sepal_width": 3, "petal_length": 5, "petal_width": 2,
              "comment": "ignored"}
    status, body = iris_server.post({"dataframe_records": [record]})
    assert status == 200
    features = [[6.0, 3.0, 5.0, 2.0]]
    import pandas as pd

    frame = pd.DataFrame(features, columns=list(record)[:4])
    assert body == {"predictions": sk_model.predict(frame).tolist()}


@pytest.mark.parametrize(("body", "content_type", "status", "message"), [
    (b"{not json", "application/json", 400, r"not valid JSON: .* line 1 column 2"),
    (b"", "application/json", 400, "not valid JSON"),
    (b"\xff\xfe\x00", "application/json", 400, "not (valid JSON|UTF-8)"),
    (b"[1, 2]", "application/json", 400, "must be a JSON object .* got a JSON list"),
    (b'{"rows": [[1, 2, 3, 4]]}', "application/json", 400, r"unknown key\(s\) \['rows'\]"),
    (b'{"inputs": [[1,2,3,4]], "instances": [[1,2,3,4]]}', "application/json", 400,
     "exactly one of"),
    (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', "application/json", 400,
     "row 0 of 'dataframe_split.data' has 2 values but there are 1 columns"),
    (b'{"dataframe_split": [[1, 2]]}', "application/json", 400, "must be an object"),
    (b'{"dataframe_split": {"columns": ["sepal_length", "sepal_length", "sepal_width", '
     b'"petal_length", "petal_width"], "data": [[1, 1, 2, 3, 4]]}}', "application/json", 400,
     r"'dataframe_split.columns' names \['sepal_length'\] more than once"),
    (b'{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", '
     b'"petal_width"], "data": [[100000000000000000000000, 2, 3, 4]]}}', "application/json",
     400, r"column 'sepal_length' .*beyond the range of 64-bit integers"),
    (b'{"dataframe_records": [1, 2]}', "application/json", 400, "list of objects"),
    (b'{"instances": [[1, 2], [3]]}', "application/json", 400, "not a regular array"),
    (b'{"inputs": [[1, 2, 3, 4]], "params": 3}', "application/json", 400,
     "'params' must be a JSON object"),
    (b'{"dataframe_records": [{"sepal_length": 1, "sepal_width": 2, "petal_length": 3}]}',
     "application/json", 400, "missing column 'petal_width'"),
    (b'{"dataframe_records": [{"sepal_length": "wide", "sepal_width": 2, "petal_length": 3,'
     b' "petal_width": 4}]}', "application/json", 400, "column 'sepal_length' has type"),
    (b'{"inputs": [[1, 2, 3]]}', "application/json", 400, r"shape \(1, 3\)"),
    (b"", "text/csv", 400, "CSV request body is empty"),
    (b'a,b\n1,2,3,4\n"unterminated', "text/csv", 400, "not valid CSV"),
    (b"x,y\n1,2\n", "text/csv", 400, "missing columns 'sepal_length'"),
    # nested deeper than the parser goes: was a RecursionError and a 500
    (b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json", 400,
     "nested too deeply"),
    (b'{"dataframe_split": {"columns": ["a"], "data": [' + b"[" * 50_000 + b"1"
     + b"]" * 50_000 + b"]}}", "application/json", 400, "nested too deeply"),
    (b"<xml/>", "application/xml", 415, "content type 'application/xml' is not supported"),
    (b"{}", None, 415, r"content type '\(none\)'"),
])
def test_malformed_requests_get_a_4xx_naming_the_problem(
        iris_server: Server, body: bytes, content_type: str | None, status: int,
        message: str) -> None:
    got_status, got = iris_server.request("POST", "/invocations", body, content_type)
    assert got_status == status, got
    assert re.search(message, got["message"]), got["message"]
    assert got["error_code"]
    assert iris_server.request("GET", "/ping")[0] == 200  # still serving


def test_unknown_paths_and_methods(iris_server: Server) -> None:
    status, body = iris_server.request("GET", "/nope")
    assert status == 404 and "no endpoint '/nope'" in body["message"]
    status, body = iris_server.request("POST", "/predict", b"{}")
    assert status == 404
    status, body = iris_server.request("GET", "/invocations")
    assert status == 405


def test_keep_alive_connection_serves_many_requests(iris_server: Server,
                                                    iris: tuple[Any, Any]) -> None:
    X, _ = iris
    body = json.dumps({"dataframe_records": X.head(1).to_dict(orient="records")})
    conn = http.client.HTTPConnection("127.0.0.1", iris_server.port, timeout=10)
    try:
        for _ in range(20):
            conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 200
            assert len(json.loads(resp.read())["predictions"]) == 1
        conn.request("POST", "/invocations", b"{bad", {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 400
        resp.read()
        conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        assert conn.getresponse().status == 200  # the same connection survives a 400
    finally:
        conn.close()


class Fragile(lakeml.pyfunc.PythonModel):
    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        if (model_input["x"] < 0).any():
            raise RuntimeError("negative input broke the model")
        return np.sqrt(model_input["x"].to_numpy())


def test_a_model_failure_is_a_500_and_the_server_lives_on(tmp_path: Path) -> None:
    import pandas as pd

    lakeml.pyfunc.save_model(tmp_path / "fragile", python_model=Fragile(),
                             input_example=pd.DataFrame({"x": [4.0]}))
    server = Server(str(tmp_path / "fragile"))
    try:
        status, body = server.post({"inputs": {"x": [-1.0]}})
        assert status == 500
        assert body["message"] == ("the model failed: RuntimeError: negative input broke "
                                   "the model")
        assert server.post({"inputs": {"x": [4.0, 9.0]}}) == (200, {"predictions": [2.0, 3.0]})
        status, body = server.post({"inputs": {"x": [1.0]}, "params": {"k": 1}})
        assert status == 200
    finally:
        server.stop()


class TwoTensors(lakeml.pyfunc.PythonModel):
    """Adds tensors a and b, or returns what params["out"] names (outputs JSON finds hard)."""

    def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
        import pandas as pd

        out = (params or {}).get("out", "sum")
        if out == "sum":
            return model_input["a"] + model_input["b"]
        if out == "nonfinite":
            return np.array([1.0, np.inf, -np.inf, np.nan])
        if out == "datetime":
            return pd.Series(pd.to_datetime(["2026-11-27T04:00:00"]))
        return np.array([complex(1, 2)], dtype=object)


def test_multi_tensor_input_and_outputs_json_cannot_hold(tmp_path: Path) -> None:
    from lakeml.models import ModelSignature, Schema, TensorSpec

    sig = ModelSignature(inputs=Schema((TensorSpec("float64", (-1, 2), "a"),
                                        TensorSpec("float64", (-1, 2), "b"))))
    lakeml.pyfunc.save_model(tmp_path / "two", python_model=TwoTensors(), signature=sig)
    server = Server(str(tmp_path / "two"))
    try:
        inputs = {"a": [[1, 2]], "b": [[0.5, 0.25]]}
        assert server.post({"inputs": inputs}) == (200, {"predictions": [[1.5, 2.25]]})
        status, raw = server.request("POST", "/invocations", json.dumps(
            {"inputs": inputs, "params": {"out": "nonfinite"}}))
        assert (status, raw) == (200, {"predictions": [1.0, None, None, None]})
        assert server.post({"inputs": inputs, "params": {"out": "datetime"}}) == \
            (200, {"predictions": ["2026-11-27T04:00:00"]})
        status, body = server.post({"inputs": inputs, "params": {"out": "complex"}})
        assert status == 500 and "builtins.complex value" in body["message"], body
    finally:
        server.stop()


def test_serving_a_missing_model_fails_fast_with_a_message(tmp_path: Path) -> None:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "lakeml", "models", "serve", "-m",
                           str(tmp_path / "absent"), "--port", "0"], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "lakeml: error: no model at" in proc.stderr
    assert time.monotonic() - start < 30


def test_concurrent_clients_each_get_their_own_answers(iris_server: Server, sk_model: Any,
                                                       iris: tuple[Any, Any]) -> None:
    import threading

    X, _ = iris
    expected = sk_model.predict(X).tolist()
    failures: list[str] = []

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", iris_server.port, timeout=30)
        try:
            for i in range(offset, len(X), 8):
                body = json.dumps({"dataframe_split": json.loads(
                    X.iloc[[i]].to_json(orient="split", index=False))})
                conn.request("POST", "/invocations", body,
                             {"Content-Type": "application/json"})
                got = json.loads(conn.getresponse().read())["predictions"]
                if got != [expected[i]]:
                    failures.append(f"row {i}: {got} != {[expected[i]]}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_worker_processes_share_the_port_and_stop_with_the_server(
        tmp_path: Path, sk_model: Any, iris: tuple[Any, Any]) -> None:
    import psutil

    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", input_example=X.head(1))
    server = Server(str(tmp_path / "m"), "--workers", "3")
    try:
        deadline = time.monotonic() + 30
        workers = []
        while len(workers) < 2 and time.monotonic() < deadline:  # forked after the banner
            workers = psutil.Process(server.proc.pid).children()
            time.sleep(0.05)
        assert len(workers) == 2
        body = {"dataframe_records": X.head(2).to_dict(orient="records")}
        for _ in range(30):  # a new connection each time: the kernel spreads them
            assert server.post(body) == (200, {"predictions": sk_model.predict(
                X.head(2)).tolist()})
    finally:
        server.stop()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []


def _raw(port: int, data: bytes, *, read: bool = True) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if not read:
            return b""
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _server_connections(server: Server, client_port: int) -> list[Any]:
    import psutil

    return [c for c in psutil.Process(server.proc.pid).net_connections(kind="tcp")
            if c.raddr and c.raddr.port == client_port]


def _hang_up_mid_body(server: Server) -> None:
    """Send half a body, hang up, and see the server drop its end of the connection."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 1000\r\n\r\n{\"inp")
        client_port = sock.getsockname()[1]
        deadline = time.monotonic() + 10
        while not _server_connections(server, client_port) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _server_connections(server, client_port)  # the handler is waiting for more
    deadline = time.monotonic() + 10  # hung up: the handler must close its end, not answer
    while _server_connections(server, client_port) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _server_connections(server, client_port) == []


def test_bodies_without_length_or_cut_short_leave_the_server_serving(
        iris_server: Server) -> None:
    reply = _raw(iris_server.port, b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Type: application/json\r\n\r\n{}")
    assert reply.startswith(b"HTTP/1.1 411") and b"send a Content-Length" in reply
    reply = _raw(iris_server.port, b"POST /invocations HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Type: application/json\r\nContent-Length: abc"
                                   b"\r\n\r\n{}")
    assert reply.startswith(b"HTTP/1.1 400") and b"bad Content-Length 'abc'" in reply
    _hang_up_mid_body(iris_server)
    reply = _raw(iris_server.port, b"BREW /invocations HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 501")
    assert b'"message": "Unsupported method (\'BREW\')' in reply
    _raw(iris_server.port, b"GARBAGE\r\n\r\n")  # not even HTTP
    assert iris_server.request("GET", "/ping")[0] == 200


@pytest.mark.parametrize(("path", "length", "status"), [
    ("/nope", str(10**15), b"413"),  # was read into memory: MemoryError and no answer
    ("/nope", str(MAX_BODY_BYTES + 1), b"413"),
    ("/nope", "-5", b"400"),  # was read to the end of the stream, then 404
    ("/invocations", "-5", b"400"),  # was 413
    ("/invocations", str(10**15), b"413"),
])
def test_refused_lengths_are_answered_without_reading_the_body(
        iris_server: Server, path: str, length: str, status: bytes) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", iris_server.port), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
        # no shutdown: the server answers and closes on its own, without waiting for a body
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    assert reply.startswith(b"HTTP/1.1 " + status), reply
    assert b"Content-Length" in reply
    assert iris_server.request("GET", "/ping")[0] == 200


def test_workers_refuse_a_port_already_in_use(tmp_path: Path, sk_model: Any,
                                              iris: tuple[Any, Any]) -> None:
    import socket

    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "m", input_example=X.head(1))
    with socket.socket() as old:  # an older server started with --workers
        old.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        old.bind(("127.0.0.1", 0))
        old.listen()
        port = old.getsockname()[1]
        for workers in ("2", "1"):
            proc = subprocess.run([sys.executable, "-m", "lakeml", "models", "serve", "-m",
                                   str(tmp_path / "m"), "--port", str(port), "--workers",
                                   workers], cwd=str(ROOT), capture_output=True, text=True,
                                  timeout=30)
            assert proc.returncode == 1, proc.stderr
            assert f"port {port} is in use" in proc.stderr


# ---- limits: body size, bytes and requests in flight ------------------------------
LIMITED = ("--max-requests", "2", "--max-body-mb", "0.05", "--max-inflight-mb", "0.06")
MAX_BODY, MAX_INFLIGHT = int(0.05 * 1024 * 1024), int(0.06 * 1024 * 1024)


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory, sk_model: Any,
                   iris: tuple[Any, Any]) -> Iterator[Server]:
    X, _ = iris
    path = tmp_path_factory.mktemp("limited") / "iris"
    lakeml.sklearn.save_model(sk_model, path, input_example=X.head(2))
    server = Server(str(path), *LIMITED)
    yield server
    server.stop()


def _padded(iris: tuple[Any, Any], size: int) -> bytes:
    """A valid one-row request of exactly ``size`` bytes, spaces first (JSON allows them;
    :func:`_hold` sends ten of them)."""
    X, _ = iris
    body = json.dumps({"dataframe_records": X.head(1).to_dict(orient="records")}).encode()
    return b" " * (size - len(body)) + body


def _hold(port: int, length: int) -> Any:
    """A connection whose ``length``-byte POST was admitted, and 10 bytes of it sent.

    It asks for ``100 Continue``, which the server sends once it has admitted the
    request (taking its place), so what follows runs with the place taken.
    """
    import socket

    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 f"\r\nExpect: 100-continue\r\nContent-Length: {length}\r\n\r\n".encode())
    reply = b""
    while not reply.endswith(b"\r\n\r\n"):
        reply += sock.recv(1)
    assert reply.startswith(b"HTTP/1.1 100"), reply
    sock.sendall(b" " * 10)
    return sock


def _finish(sock: Any, body: bytes) -> bytes:
    """Send the rest of a held request (10 bytes were sent) and read its answer."""
    sock.sendall(body[10:])
    reply = sock.recv(65536)
    sock.close()
    return reply


def _post(server: Server, body: bytes) -> tuple[int, Any, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/invocations", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), dict(resp.getheaders())
    finally:
        conn.close()


@pytest.mark.slow
def test_requests_beyond_the_limit_get_503_and_the_places_come_back(
        limited_server: Server, iris: tuple[Any, Any]) -> None:
    small = _padded(iris, 200)
    held = [_hold(limited_server.port, 200) for _ in range(2)]  # both places taken
    status, body, headers = _post(limited_server, small)
    assert status == 503, body
    assert body["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "2 request(s)" in body["message"] and "retry" in body["message"]
    assert headers.get("Retry-After") == "1"
    for sock in held:  # the held requests are answered in full
        assert _finish(sock, small).startswith(b"HTTP/1.1 200")
    assert limited_server.post(small)[0] == 200  # their places were given back


@pytest.mark.slow
def test_bytes_in_flight_are_bounded_and_bodies_over_the_limit_get_413(
        limited_server: Server, iris: tuple[Any, Any]) -> None:
    big = MAX_BODY - 100  # fits alone, but not beside a second one of its size
    held = _hold(limited_server.port, big)
    status, body, _ = _post(limited_server, _padded(iris, big))
    assert status == 503 and f"{big} bytes" in body["message"], body
    assert limited_server.post(_padded(iris, MAX_INFLIGHT - big))[0] == 200  # fits beside
    assert _finish(held, _padded(iris, big)).startswith(b"HTTP/1.1 200")
    status, body = limited_server.post(_padded(iris, MAX_BODY + 1))
    assert status == 413 and f"the limit is {MAX_BODY}" in body["message"], body
    assert limited_server.post(_padded(iris, big))[0] == 200


@pytest.mark.slow
def test_a_client_waiting_for_100_continue_sends_no_refused_body(
        limited_server: Server, iris: tuple[Any, Any]) -> None:
    import socket

    def ask(length: int) -> bytes:
        with socket.create_connection(("127.0.0.1", limited_server.port), timeout=30) as sock:
            sock.sendall(f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         f"application/json\r\nExpect: 100-continue\r\nContent-Length: "
                         f"{length}\r\n\r\n".encode())
            reply = b""
            while chunk := sock.recv(65536):  # the answer comes without our body, then EOF
                reply += chunk
            return reply

    assert ask(MAX_BODY + 1).startswith(b"HTTP/1.1 413")
    held = [_hold(limited_server.port, 200) for _ in range(2)]
    reply = ask(200)
    assert reply.startswith(b"HTTP/1.1 503") and b"TEMPORARILY_UNAVAILABLE" in reply
    for sock in held:
        assert _finish(sock, _padded(iris, 200)).startswith(b"HTTP/1.1 200")


def test_limits_are_checked_and_read_from_the_settings(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    from lakeml.errors import InvalidArgument
    from lakeml.models.serving.limits import MB, Admission, Limits

    assert Limits.configured() == Limits(64 * MB, 64 * MB, 16)
    monkeypatch.setenv("LAKEML_SERVE_MAX_BODY_MB", "300")
    monkeypatch.setenv("LAKEML_SERVE_MAX_REQUESTS", "3")
    assert Limits.configured() == Limits(300 * MB, 300 * MB, 3)  # in flight >= one body
    assert Limits.configured(max_body_mb=1, max_inflight_mb=2) == Limits(MB, 2 * MB, 3)
    with pytest.raises(InvalidArgument, match="must be at least max_body_bytes"):
        Limits.configured(max_body_mb=2, max_inflight_mb=1)
    with pytest.raises(InvalidArgument, match="max_requests must be a positive integer"):
        Limits(max_requests=0)
    monkeypatch.setenv("LAKEML_SERVE_MAX_BODY_MB", "-1")
    with pytest.raises(InvalidArgument, match="LAKEML_SERVE_MAX_BODY_MB"):
        Limits.configured()
    admission = Admission(Limits(10, 15, 2))
    assert admission.enter(10) and not admission.enter(6) and admission.enter(5)
    assert not admission.enter(0)  # two requests in flight
    admission.leave(10)
    assert admission.enter(10) is True


def test_access_log_prints_a_line_per_request(tmp_path: Path, sk_model: Any,
                                              iris: tuple[Any, Any]) -> None:
    X, _ = iris
    lakeml.sklearn.save_model(sk_model, tmp_path / "logged", input_example=X.head(2))
    server = Server(str(tmp_path / "logged"), "--access-log")
    try:
        assert server.request("GET", "/ping")[0] == 200
        status, _ = server.post({"dataframe_split": X.head(2).to_dict(orient="split")})
        assert status == 200
        assert server.request("GET", "/nope")[0] == 404
    finally:
        server.proc.terminate()
        _, err = server.proc.communicate(timeout=10)
    lines = [line for line in err.splitlines() if line.startswith("127.0.0.1 - [")]
    assert len(lines) == 3, err
    assert '"GET /ping HTTP/1.1" 200' in lines[0]
    assert '"POST /invocations HTTP/1.1" 200' in lines[1]
    assert '"GET /nope HTTP/1.1" 404' in lines[2]
