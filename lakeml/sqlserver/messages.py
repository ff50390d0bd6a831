"""The PostgreSQL frontend/backend protocol v3, as bytes: reading a client's messages
and building the server's.

Every message after start-up is a type byte, a big-endian int32 length that counts
itself, and a body; the start-up packets (StartupMessage, SSLRequest,
GSSENCRequest, CancelRequest) have no type byte. :class:`MessageReader` reads them
from a socket with a limit on their size, so a client cannot make the server hold a
message larger than it allows; the builders below return one message each.
See https://www.postgresql.org/docs/current/protocol-message-formats.html.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

PROTOCOL_V3 = 196608  # 3.0
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")
_NULL = _I32.pack(-1)


class ProtocolViolation(Exception):
    """A client sent bytes that are not a valid message (SQLSTATE 08P01)."""


class MessageTooLong(ProtocolViolation):
    """A client announced a message longer than the server accepts (SQLSTATE 54000)."""

    def __init__(self, kind: bytes, length: int, limit: int) -> None:
        super().__init__(f"message {kind!r} of {length:,} bytes is longer than the "
                         f"{limit:,} bytes this server accepts")
        self.kind, self.length, self.limit = kind, length, limit


class ConnectionClosed(Exception):
    """The client closed the connection."""


class MessageReader:
    """Reads a client's messages from ``sock`` (``limit``: the largest body accepted).

    Start-up packets are read from the socket unbuffered, so that nothing a client
    sent after an SSLRequest is read ahead in the clear and later taken as if it
    had come over TLS; the buffered file that reads the messages after start-up is
    made on first use, over the socket of :meth:`use` (the TLS one).
    """

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self._sock = sock
        self._file: Any = None
        self.limit = limit

    def use(self, sock: socket.socket) -> None:
        """Read from ``sock`` from now on (the connection wrapped in TLS); start-up only."""
        if self._file is not None:
            raise ProtocolViolation("TLS may only be negotiated at the start of a connection")
        self._sock = sock

    def close(self) -> None:
        """Release the socket's file (the socket closes only once it is released too)."""
        if self._file is not None:
            self._file.close()

    def exact(self, size: int) -> bytes:
        if self._file is None:
            self._file = self._sock.makefile("rb", buffering=65536)
        data = self._file.read(size)
        if data is None or len(data) < size:
            raise ConnectionClosed()
        return data

    def _unbuffered(self, size: int) -> bytes:
        if self._file is not None:
            return self.exact(size)
        data = bytearray()
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise ConnectionClosed()
            data += chunk
        return bytes(data)

    def startup(self) -> tuple[int, bytes]:
        """(code, rest) of a start-up packet: a protocol version or a request code."""
        length = _I32.unpack(self._unbuffered(4))[0]
        if length < 8 or length > 10_000:
            raise ProtocolViolation(f"invalid start-up packet length {length}")
        body = self._unbuffered(length - 4)
        return _I32.unpack_from(body)[0], body[4:]

    def message(self) -> tuple[bytes, bytes]:
        """(type byte, body) of the next message; MessageTooLong leaves the body unread."""
        kind = self.exact(1)
        length = _I32.unpack(self.exact(4))[0]
        if length < 4:
            raise ProtocolViolation(f"invalid length {length} of message {kind!r}")
        if length - 4 > self.limit:
            raise MessageTooLong(kind, length - 4, self.limit)
        return kind, self.exact(length - 4)

    def skip(self, size: int) -> None:
        """Read and drop ``size`` bytes (the body of a message refused for its size)."""
        while size > 0:
            chunk = self._file.read(min(size, 1 << 20))
            if not chunk:
                raise ConnectionClosed()
            size -= len(chunk)


@dataclass
class Body:
    """A cursor over a message body, raising ProtocolViolation when it runs short."""

    data: bytes
    pos: int = 0

    def _take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ProtocolViolation(f"message body too short: needs {size} bytes at "
                                    f"offset {self.pos} of {len(self.data)}")
        piece = self.data[self.pos:self.pos + size]
        self.pos += size
        return piece

    def int32(self) -> int:
        return _I32.unpack(self._take(4))[0]

    def int16(self) -> int:
        return _I16.unpack(self._take(2))[0]

    def byte(self) -> bytes:
        return self._take(1)

    def cstring(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise ProtocolViolation("a string in the message has no terminating NUL")
        raw = self.data[self.pos:end]
        self.pos = end + 1
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolViolation(f"a string in the message is not UTF-8: {exc}") from None

    def value(self) -> bytes | None:
        """A length-prefixed value (-1: NULL)."""
        size = self.int32()
        if size == -1:
            return None
        if size < -1:
            raise ProtocolViolation(f"invalid value length {size}")
        return self._take(size)

    def rest(self) -> bytes:
        return self._take(len(self.data) - self.pos)


def startup_parameters(rest: bytes) -> dict[str, str]:
    """The name/value pairs of a StartupMessage body (after the protocol version)."""
    parts = rest.split(b"\0")
    if len(parts) < 2 or parts[-1] != b"" or len(parts) % 2:
        raise ProtocolViolation("malformed start-up parameters")
    try:
        texts = [p.decode("utf-8") for p in parts[:-1]]
    except UnicodeDecodeError as exc:
        raise ProtocolViolation(f"start-up parameters are not UTF-8: {exc}") from None
    texts = texts[:-1] if texts and texts[-1] == "" else texts
    return dict(zip(texts[0::2], texts[1::2]))


def message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _I32.pack(len(body) + 4) + body


def cstr(text: str) -> bytes:
    return text.encode("utf-8") + b"\0"


def authentication(code: int, extra: bytes = b"") -> bytes:
    """AuthenticationOk (0), MD5Password (5, salt), SASL (10), SASLContinue (11),
    SASLFinal (12)."""
    return message(b"R", _I32.pack(code) + extra)


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstr(name) + cstr(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return message(b"K", _I32.pack(pid) + _I32.pack(secret))


def ready_for_query(status: str) -> bytes:
    return message(b"Z", status.encode("ascii"))


def command_complete(tag: str) -> bytes:
    return message(b"C", cstr(tag))


@dataclass(frozen=True)
class Field:
    """A column of a RowDescription."""

    name: str
    type_oid: int
    type_size: int
    type_modifier: int = -1
    format: int = 0


def row_description(fields: Sequence[Field]) -> bytes:
    parts = [_I16.pack(len(fields))]
    for f in fields:
        parts.append(cstr(f.name) + struct.pack("!ihihih", 0, 0, f.type_oid, f.type_size,
                                                f.type_modifier, f.format))
    return message(b"T", b"".join(parts))


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", _I16.pack(len(oids)) + b"".join(_I32.pack(o) for o in oids))


def data_row(values: Iterable[bytes | None]) -> bytes:
    parts = []
    for v in values:
        parts.append(_NULL if v is None else _I32.pack(len(v)) + v)
    return message(b"D", _I16.pack(len(parts)) + b"".join(parts))


def error_response(code: str, text: str, *, severity: str = "ERROR", detail: str = "",
                   hint: str = "", notice: bool = False) -> bytes:
    """ErrorResponse (or NoticeResponse) with SQLSTATE ``code``."""
    fields = [b"S" + cstr(severity), b"V" + cstr(severity), b"C" + cstr(code),
              b"M" + cstr(text)]
    if detail:
        fields.append(b"D" + cstr(detail))
    if hint:
        fields.append(b"H" + cstr(hint))
    return message(b"N" if notice else b"E", b"".join(fields) + b"\0")


PARSE_COMPLETE = message(b"1")
BIND_COMPLETE = message(b"2")
CLOSE_COMPLETE = message(b"3")
NO_DATA = message(b"n")
PORTAL_SUSPENDED = message(b"s")
EMPTY_QUERY = message(b"I")
