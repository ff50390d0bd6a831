"""A fault-injecting HTTP proxy on loopback, between lakeml and an S3 endpoint.

Each request is, at the configured rates: dropped (the connection closes before it is
forwarded), refused with S3's 503 SlowDown or 500 InternalError, delayed, or forwarded
and its response lost (the connection closes after the endpoint did the work: the
write landed but the client cannot know). Otherwise it is forwarded as is. Counts of
each outcome are kept for the test to check that faults really happened.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")
INTERNAL = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
            b"<Message>We encountered an internal error. Please try again.</Message></Error>")


@dataclass
class Faults:
    """Rates (0..1) of each fault; the rest of the requests pass."""

    drop: float = 0.0
    slow_down: float = 0.0
    internal: float = 0.0
    delay: float = 0.0
    lost_response: float = 0.0
    delay_seconds: float = 1.0
    seed: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def pick(self, rng: random.Random) -> str:
        roll = rng.random()
        for name in ("drop", "slow_down", "internal", "delay", "lost_response"):
            rate = getattr(self, name)
            if roll < rate:
                return name
            roll -= rate
        return "pass"


class FaultProxy(ThreadingHTTPServer):
    """``FaultProxy(target_url, faults)``; ``.url`` is what clients use as endpoint."""

    daemon_threads = True

    def __init__(self, target: str, faults: Faults) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def choose(self) -> str:
        with self.lock:
            outcome = self.faults.pick(self.rng)
            self.faults.counts[outcome] = self.faults.counts.get(outcome, 0) + 1
            return outcome


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        outcome = self.server.choose()
        if outcome == "drop":
            self.close_connection = True
            return
        if outcome in ("slow_down", "internal"):
            payload = SLOW_DOWN if outcome == "slow_down" else INTERNAL
            self.send_response(503 if outcome == "slow_down" else 500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if outcome == "delay":
            time.sleep(self.server.faults.delay_seconds)
        status, headers, data = self._forward(body)
        if outcome == "lost_response":
            self.close_connection = True  # the endpoint did it; the client never hears
            return
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        # a HEAD's answer has no body but the object's length (readers size files by it)
        upstream = dict((k.lower(), v) for k, v in headers).get("content-length")
        self.send_header("Content-Length", upstream if self.command == "HEAD" and upstream
                         else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.server.target, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
            conn.request(self.command, self.path, body=body or None, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any  # noqa: N815
