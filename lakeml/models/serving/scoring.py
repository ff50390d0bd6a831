"""The model scoring server: MLflow's REST protocol on the standard library's HTTP server.

Routes: ``POST /invocations`` (JSON or CSV, see lakeml.models.payloads),
``GET /ping`` and ``/health`` (200 once the model is loaded), ``GET /version``.
A bad request gets 400 (415 for an unsupported content type, 411 without a
length, 413 when too large; JSON nested deeper than the parser allows is a
400 too) with ``{"error_code": ..., "message": ...}``; a failure inside the
model gets 500 with the same shape; the server keeps serving either way.
Memory is bounded by :mod:`lakeml.models.serving.limits`: the body bytes and
requests in flight are capped, and what would exceed them gets 503
``TEMPORARILY_UNAVAILABLE`` without its body being parsed. A JSON body is decoded
and parsed with its raw bytes already dropped, and the parsed document is
dropped before the model runs. Keep-alive and TCP_NODELAY keep a one-row
request's round trip around a millisecond on loopback.

Every answer to ``POST /invocations`` carries an ``X-Request-Id`` header (the
client's own when it sent a sane one). With an inference logger
(:mod:`lakeml.models.inference_log`, ``lakeml models serve --log-inferences``) each
request's inputs, outputs, latency and status are queued for the ``inference_log``
table under that id; the queueing costs microseconds, the commits run on a thread.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import InvalidArgument, LakemlError, TemporarilyUnavailable
from lakeml.models.inference_log import REQUEST_ID_HEADER, clean_request_id
from lakeml.models.payloads import (
    UnserializableOutput,
    json_text,
    load_json,
    parse_csv,
    parse_document,
    predictions_json,
)
from lakeml.models.serving.limits import Admission, Limits

if TYPE_CHECKING:
    from lakeml.models.inference_log import InferenceLogger
    from lakeml.models.pyfunc_model import PyFuncModel

MAX_BODY_BYTES = Limits().max_body_bytes  # the default; see Limits.configured
CONTENT_TYPES = ("application/json", "text/csv")


class _Reject(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def make_handler(model: PyFuncModel, limits: Limits | None = None, *,
                 access_log: bool = False,
                 inference_log: InferenceLogger | None = None) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``model``, admitting requests within ``limits``.

    With ``access_log``, each answered request prints one line to stderr:
    client address, time, request line, status and body size. With
    ``inference_log``, each request to /invocations is recorded there.
    """
    from lakeml.version import __version__

    admission = Admission(limits or Limits())
    max_body = admission.limits.max_body_bytes

    schema = model.metadata.input_schema
    tensors = schema is not None and schema.is_tensor

    class ScoringHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        timeout = 60  # seconds a connection may sit idle or mid-request
        _expects_100 = False  # the request asked for "100 Continue" before its body
        _request_id: str | None = None  # of the POST being answered
        _started = 0.0  # perf_counter() when that POST arrived
        server_version = f"lakeml/{__version__}"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            if access_log:  # off by default: a line costs more than scoring one row
                sys.stderr.write(f"{self.address_string()} - [{self.log_date_time_string()}] "
                                 f"{format % args}\n")
                sys.stderr.flush()

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            if status == 503:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", content_type)
            if self._request_id is not None:
                self.send_header(REQUEST_ID_HEADER, self._request_id)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def send_error(self, code: int, message: str | None = None,
                       explain: str | None = None) -> None:
            """The HTTP layer's own errors (bad request line, unknown method…) as JSON."""
            self.close_connection = True
            text = "; ".join(t for t in (message, explain) if t) or "bad request"
            self._error(code, "BAD_REQUEST" if code < 500 else "NOT_IMPLEMENTED", text)

        def _error(self, status: int, code: str, message: str) -> None:
            if inference_log is not None and self._request_id is not None:
                inference_log.record(self._request_id, None, None, self._elapsed_ms(),
                                     status, f"{code}: {message}")
            body = json.dumps({"error_code": code, "message": message}).encode()
            self._send(status, body, "application/json")

        def handle_expect_100(self) -> bool:
            """Defer ``100 Continue`` until the request is admitted (see :meth:`_continue`):
            a client that asked (curl does, for large bodies) sends no body that would
            be refused with 413 or 503."""
            self._expects_100 = True
            return True

        def _continue(self) -> None:
            """Tell a client waiting for ``100 Continue`` to send its body."""
            if self._expects_100:
                self._expects_100 = False
                self.send_response_only(100)
                self.end_headers()

        def do_GET(self) -> None:  # noqa: N802
            self._expects_100 = False
            path = self.path.split("?", 1)[0]
            if path in ("/ping", "/health"):
                self._send(200, b"{\"status\": \"ok\"}", "application/json")
            elif path == "/version":
                self._send(200, __version__.encode(), "text/plain; charset=utf-8")
            elif path == "/invocations":
                self._error(405, "METHOD_NOT_ALLOWED", "use POST for /invocations")
            else:
                self._error(404, "ENDPOINT_NOT_FOUND", f"no endpoint {path!r}; use POST "
                            "/invocations, GET /ping, /health or /version")

        def _elapsed_ms(self) -> float:
            return (time.perf_counter() - self._started) * 1000.0

        def do_POST(self) -> None:  # noqa: N802
            self._started = time.perf_counter()
            self._request_id = clean_request_id(self.headers.get(REQUEST_ID_HEADER))
            try:
                self._post()
            finally:
                self._request_id = None

        def _post(self) -> None:
            try:
                length = self._admissible_length()
            except _Reject as exc:
                self._error(exc.status, exc.code, exc.message)
                return
            if not admission.enter(length):
                busy = TemporarilyUnavailable(admission.busy_message(length))
                # Read in 64 KB pieces and dropped (no memory held, ~1 ms a MB): a
                # client still sending its body would otherwise see a broken pipe, not
                # the 503. The body is at most the max body size (else 413 before).
                # A client waiting for 100 Continue sends none (see _discard).
                self._discard(length)
                self._error(busy.http_status, busy.error_code, str(busy))
                return
            released = False

            def release() -> None:  # once, before the answer goes out (see _answer)
                nonlocal released
                if not released:
                    released = True
                    admission.leave(length)

            try:
                self._answer(length, release)
            finally:
                release()

        def _answer(self, length: int, release: Callable[[], None]) -> None:
            """Read, parse and score a body of ``length`` bytes, and answer. ``release``
            gives the request's place back before the predictions are written, so a
            client that sends again on reading them finds the place free."""
            try:
                parsed = self._parse(length)  # the body is dropped once parsed
            except _Reject as exc:
                self._error(exc.status, exc.code, exc.message)
                return
            except OSError:  # the client stalled past `timeout` or went away mid-body
                self.close_connection = True
                return
            except (LakemlError, ValueError, TypeError, KeyError, RecursionError) as exc:
                self._error(400, "BAD_REQUEST", _message(exc))  # the request's fault
                return
            except Exception as exc:  # noqa: BLE001 - answer, and keep serving
                self._error(500, "INTERNAL_ERROR", f"could not read the request: "
                            f"{type(exc).__name__}: {exc}")
                return
            try:
                predictions = model.predict_parsed(*parsed)
                answer = predictions_json(predictions)
                if inference_log is not None:
                    inference_log.record(self._request_id, parsed[0], predictions,
                                         self._elapsed_ms(), 200)
                del predictions
                release()
                self._send(200, answer, "application/json")
            except _Reject as exc:
                self._error(exc.status, exc.code, exc.message)
            except UnserializableOutput as exc:  # the model's output, not the request
                self._error(500, "INTERNAL_ERROR", str(exc))
            except (InvalidArgument, ValueError, TypeError, KeyError, RecursionError) as exc:
                self._error(400, "BAD_REQUEST", _message(exc))
            except LakemlError as exc:
                self._error(400, "BAD_REQUEST", str(exc))
            except Exception as exc:  # the model itself failed: report, keep serving
                self._error(500, "INTERNAL_ERROR", f"the model failed: "
                            f"{type(exc).__name__}: {exc}")

        def _admissible_length(self) -> int:
            """The body length of a POST to /invocations; else a _Reject (after the
            body of a POST elsewhere is read and dropped)."""
            path = self.path.split("?", 1)[0]
            length = self._content_length(required=path == "/invocations")
            if path != "/invocations":
                self._discard(length)
                raise _Reject(404, "ENDPOINT_NOT_FOUND", f"no endpoint {path!r}; POST to "
                              "/invocations")
            return length

        def _read_body(self, length: int) -> bytes:
            self._continue()
            body = self.rfile.read(length)
            if len(body) < length:  # the client hung up mid-body: nobody to answer
                raise ConnectionAbortedError(f"body cut short at {len(body)} of {length} bytes")
            return body

        def _content_length(self, *, required: bool) -> int:
            """The body's length, at most the max body size; else a _Reject (and hang up).

            A body that is refused is never read: the connection closes instead, so
            a client cannot make the server read (or allocate) more than the limit.
            """
            length_text = self.headers.get("Content-Length")
            if length_text is None:
                if not required:
                    return 0
                self.close_connection = True
                raise _Reject(411, "LENGTH_REQUIRED", "send a Content-Length header "
                              "(chunked bodies are not supported)")
            try:
                length = int(length_text)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                raise _Reject(400, "BAD_REQUEST", f"bad Content-Length {length_text!r}: "
                              "give the body's size in bytes")
            if length > max_body:
                self.close_connection = True
                raise _Reject(413, "PAYLOAD_TOO_LARGE", f"body of {length} bytes; the limit "
                              f"is {max_body} (LAKEML_SERVE_MAX_BODY_MB or --max-body-mb); "
                              "send fewer rows per request")
            return length

        def _discard(self, length: int) -> None:
            """Read and drop a body nobody wants, in bounded pieces (or, if the client
            waits for 100 Continue, never ask for it and hang up after answering)."""
            if self._expects_100:
                self._expects_100, self.close_connection = False, True
                return
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 16))
                if not chunk:  # the client went away
                    self.close_connection = True
                    return
                length -= len(chunk)

        def _parse(self, length: int) -> tuple[Any, dict[str, Any] | None]:
            """(model input, params) of the body, which nothing holds once this returns.

            An unsupported content type is refused before the body is read.
            """
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if content_type == "text/csv":
                return parse_csv(self._read_body(length)), None
            if content_type != "application/json":
                self._discard(length)
                raise _Reject(415, "UNSUPPORTED_MEDIA_TYPE",
                              f"content type {content_type or '(none)'!r} is not supported; "
                              f"use one of {list(CONTENT_TYPES)}")
            # Each step drops what the one before built: the bytes once decoded, the
            # text once parsed, the document once the input is built (by returning).
            text = json_text(self._read_body(length))
            doc = load_json(text)
            del text
            return parse_document(doc, tensors=tensors)

    return ScoringHandler


def _message(exc: BaseException) -> str:
    if isinstance(exc, LakemlError):
        return str(exc)
    if isinstance(exc, RecursionError):
        return ("the input is nested too deeply to score (deeper than the parser's "
                f"limit of about {sys.getrecursionlimit()} levels)")
    return f"the model could not score this input: {type(exc).__name__}: {exc}"


class ScoringServer(ThreadingHTTPServer):
    """A threaded HTTP server scoring one loaded model.

    With ``reuse_port``, several processes can listen on the same port and
    the kernel spreads new connections among them (SO_REUSEPORT, Linux).
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, model: PyFuncModel, host: str = "127.0.0.1", port: int = 5000, *,
                 reuse_port: bool = False, limits: Limits | None = None,
                 access_log: bool = False,
                 inference_log: InferenceLogger | None = None) -> None:
        self._reuse_port = reuse_port
        self.limits = limits or Limits()
        self.inference_log = inference_log
        self.access_log = access_log
        super().__init__((host, port), make_handler(model, self.limits, access_log=access_log,
                                                    inference_log=inference_log))

    def server_bind(self) -> None:
        if self._reuse_port:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def serve(model_uri: str, host: str = "127.0.0.1", port: int = 5000, *,
          workers: int = 1, limits: Limits | None = None, access_log: bool = False,
          log_inferences: bool = False, sample_rate: float = 1.0,
          flush_interval: float = 1.0) -> None:
    """Load ``model_uri`` and serve it until interrupted (``lakeml models serve``).

    ``workers`` > 1 forks that many processes after the model is loaded (each
    scores in its own interpreter, so requests run on several cores); they
    share the port through SO_REUSEPORT and stop with the first process.
    ``limits`` (default: :meth:`Limits.configured`) apply to each process.
    ``access_log`` prints a line per request to stderr. ``log_inferences`` records
    ``sample_rate`` of the requests in the store's ``inference_log`` table, committed
    every ``flush_interval`` seconds by each process (and on SIGTERM/SIGINT).
    """
    limits = limits or Limits.configured()
    from lakeml.models.pyfunc_model import load_model

    if workers < 1:
        raise InvalidArgument(f"workers must be at least 1, got {workers}")
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        raise InvalidArgument("workers > 1 needs SO_REUSEPORT, which this OS lacks")
    if workers > 1 and port != 0:
        _check_port_free(host, port)  # SO_REUSEPORT would share it with whoever holds it
    make_log = None
    if log_inferences:
        from lakeml.models.inference_log import logger_factory

        model_uri, make_log = logger_factory(model_uri, sample_rate, flush_interval)
    model = load_model(model_uri)
    try:
        server = ScoringServer(model, host, port, reuse_port=workers > 1, limits=limits,
                               access_log=access_log)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InvalidArgument(f"port {port} is in use on {host}; stop what listens "
                                  "there or choose another --port") from None
        raise
    # Listening already: connections wait in the queue until a process accepts them.
    print(f"lakeml: serving {model_uri} on {server.url}"
          + (f" with {workers} worker processes" if workers > 1 else ""),
          file=sys.stderr, flush=True)
    children, pipes = _fork_workers(model, server, workers - 1, make_log)
    signal.signal(signal.SIGTERM, _interrupt)  # so that the workers are stopped too
    log = _attach_log(server, model, make_log)
    # the workers' records come here to be committed (see InferenceLogger.forward_to)
    pumps = [log.receive(conn) for conn in pipes] if log is not None else []
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        for pump in pumps:  # the workers sent their last records before exiting
            pump.join(timeout=30)
        if log is not None:
            log.close()  # commits what is pending: nothing is lost on a clean stop


def _check_port_free(host: str, port: int) -> None:
    """Raise InvalidArgument naming ``port`` if something listens on it.

    A plain bind (without SO_REUSEPORT) fails on a port any socket holds,
    including an older server started with workers: with SO_REUSEPORT the new
    server would silently share its traffic with it instead.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InvalidArgument(f"port {port} is in use on {host}; stop what listens "
                                      "there or choose another --port") from None
            raise


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _attach_log(server: ScoringServer, model: PyFuncModel,
                make_log: Callable[..., InferenceLogger] | None, forward_to: Any = None
                ) -> InferenceLogger | None:
    """Give ``server`` a logger of this process's own (its thread does not survive a
    fork); a worker's forwards its records to the first process through ``forward_to``."""
    if make_log is None:
        return None
    log = make_log(model, forward_to=forward_to)
    server.inference_log = log
    server.RequestHandlerClass = make_handler(model, server.limits, inference_log=log,
                                              access_log=server.access_log)
    return log


def _fork_workers(model: PyFuncModel, first: ScoringServer, count: int,
                  make_log: Callable[..., InferenceLogger] | None = None
                  ) -> tuple[list[int], list[Any]]:
    """Fork ``count`` processes, each serving ``model`` on the port of ``first``."""
    parent = os.getpid()
    host, port = first.server_address[:2]
    import multiprocessing

    pids: list[int] = []
    pipes: list[Any] = []
    for _ in range(count):
        receiving, sending = multiprocessing.Pipe(duplex=False) if make_log else (None, None)
        pid = os.fork()
        if pid == 0:  # the worker: serve until told to stop or orphaned
            for conn in pipes:  # the other workers' pipes are the first process's
                conn.close()
            if receiving is not None:
                receiving.close()
            # SIGTERM (from the parent) stops serving and, with a log, commits it first
            signal.signal(signal.SIGTERM, _interrupt if make_log else signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops us
            code = 0
            log = None
            try:
                first.socket.close()  # the parent's queue: only the parent accepts from it
                server = ScoringServer(model, host, port, reuse_port=True,
                                       limits=first.limits, access_log=first.access_log)
                log = _attach_log(server, model, make_log, sending)
                threading.Thread(target=_exit_when_orphaned, args=(parent, log),
                                 daemon=True).start()
                server.serve_forever(poll_interval=0.5)
            except KeyboardInterrupt:
                pass
            except BaseException as exc:  # noqa: BLE001 - a worker must never return
                code = 1
                print(f"lakeml: worker {os.getpid()} stopped: {type(exc).__name__}: {exc}",
                      file=sys.stderr, flush=True)
            finally:
                try:
                    if log is not None:
                        log.close()  # sends what is pending to the first process
                finally:
                    os._exit(code)
        pids.append(pid)
        if receiving is not None:
            sending.close()
            pipes.append(receiving)
    return pids, pipes


def _exit_when_orphaned(parent: int, log: InferenceLogger | None = None) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    try:
        if log is not None:
            log.close()  # the first process is gone: its pipe too, most likely
    finally:
        os._exit(0)
