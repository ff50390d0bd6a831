"""A minimal HTTP/1.1 JSON client on asyncio streams, for load generators (stdlib only).

bench_server.py's write load runs 16 clients and the server on the same 2 cores, so
the client's own cost per request counts against the server being measured. httpx's
async client spends about a millisecond of CPU per request; this one, one keep-alive
connection that writes a request and reads a Content-Length or chunked answer, spends
a small fraction of that. It speaks only what the benchmark needs: POST and GET of JSON
to one loopback server.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class JsonConnection:
    """One keep-alive connection to ``host:port``; ``async with`` opens and closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> JsonConnection:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        """POST ``body`` as JSON; (status, the decoded JSON answer or None)."""
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        assert self._writer is not None and self._reader is not None, "not opened"
        self._writer.write(head.encode() + data)
        return await self._answer()

    async def _answer(self) -> tuple[int, Any]:
        assert self._reader is not None
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            payload = b""
            while True:
                size = int((await self._reader.readline()).split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                payload += chunk[:-2]
        elif length is not None:
            payload = await self._reader.readexactly(length)
        else:
            payload = await self._reader.read()
        if close:
            await self.__aexit__()
            await self.__aenter__()
        return status, json.loads(payload) if payload else None
