"""Bad input never hurts the server: malformed messages, unknown types, a 1 GB query,
writes and file reads, wrong passwords. Each gets an ErrorResponse with its SQLSTATE,
and the server (mostly the same connection) keeps serving."""

from __future__ import annotations

import hashlib
import socket
import struct
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pgerrors

from lakeml.cli import main
from lakeml.errors import InvalidArgument
from lakeml.sqlserver import SqlServer
from tests.sqlserver.conftest import MD5_PASSWORD, MD5_USER, PASSWORD, USER


class Wire:
    """A hand-driven PostgreSQL protocol client, to send what no driver would."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, kind: bytes, body: bytes = b"") -> None:
        self.sock.sendall(kind + struct.pack("!i", len(body) + 4) + body)

    def read(self) -> tuple[bytes, bytes]:
        kind = self.file.read(1)
        if not kind:
            return b"", b""
        size = struct.unpack("!i", self.file.read(4))[0]
        return kind, self.file.read(size - 4)

    def until_ready(self) -> list[tuple[bytes, bytes]]:
        got = []
        while True:
            kind, body = self.read()
            got.append((kind, body))
            if kind in (b"Z", b""):
                return got

    def login(self, user: str = MD5_USER, password: str = MD5_PASSWORD, *,
              ssl_first: bool = False) -> list[tuple[bytes, bytes]]:
        if ssl_first:
            self.sock.sendall(struct.pack("!ii", 8, 80877103))
            assert self.file.read(1) == b"N"
        params = b"user\0" + user.encode() + b"\0database\0lakeml\0\0"
        self.sock.sendall(struct.pack("!ii", len(params) + 8, 196608) + params)
        kind, body = self.read()
        assert kind == b"R" and struct.unpack("!i", body[:4])[0] == 5, (kind, body)
        inner = hashlib.md5((password + user).encode()).hexdigest()
        answer = "md5" + hashlib.md5(inner.encode() + body[4:8]).hexdigest()
        self.send(b"p", answer.encode() + b"\0")
        return self.until_ready()

    def query(self, sql: str) -> list[tuple[bytes, bytes]]:
        self.send(b"Q", sql.encode() + b"\0")
        return self.until_ready()


def sqlstate(messages: list[tuple[bytes, bytes]]) -> str | None:
    for kind, body in messages:
        if kind == b"E":
            fields = {f[:1]: f[1:].decode() for f in body.split(b"\0") if f}
            return fields[b"C"]
    return None


def rows(messages: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [body for kind, body in messages if kind == b"D"]


@pytest.fixture
def wire(sql_server):
    client = Wire(sql_server.port)
    assert sqlstate(client.login(ssl_first=True)) is None
    yield client
    client.close()


def test_md5_login_and_a_query(wire) -> None:
    answer = wire.query("SELECT 41 + 1")
    assert rows(answer) == [struct.pack("!hi", 1, 2) + b"42"]
    assert answer[-1] == (b"Z", b"I")


def test_malformed_messages_get_protocol_errors(wire) -> None:
    wire.send(b"B", b"\0\0\0\x05")  # a Bind cut short
    wire.send(b"S")
    assert sqlstate(wire.until_ready()) == "08P01"
    wire.send(b"P", b"s1\0SELECT $1\0" + struct.pack("!hi", 1, 999999))  # unknown type OID
    wire.send(b"S")
    answer = wire.until_ready()
    assert sqlstate(answer) == "42704" and b"999999" in answer[0][1]
    wire.send(b"P", b"s2\0SELECT $1::INTEGER\0" + struct.pack("!h", 0))
    wire.send(b"B", b"\0s2\0" + struct.pack("!hh", 0, 0) + struct.pack("!h", 0))  # no params
    wire.send(b"S")
    assert sqlstate(wire.until_ready()) == "08P01"
    wire.send(b"B", b"\0nope\0" + struct.pack("!hhh", 0, 0, 0))  # no such statement
    wire.send(b"S")
    assert sqlstate(wire.until_ready()) == "26000"
    assert rows(wire.query("SELECT 'still here'")) == [struct.pack("!hi", 1, 10) + b"still here"]


def test_an_unknown_message_type_ends_only_that_connection(sql_server, wire) -> None:
    wire.send(b"~", b"junk")
    answer = wire.until_ready()
    assert sqlstate(answer) == "08P01" and answer[-1] == (b"", b"")  # FATAL, then closed
    other = Wire(sql_server.port)
    try:
        other.login()
        assert rows(other.query("SELECT 1")) == [struct.pack("!hi", 1, 1) + b"1"]
    finally:
        other.close()


def test_a_1_gb_query_string_is_refused_and_the_connection_goes_on(wire) -> None:
    size = 1 << 30
    wire.sock.sendall(b"Q" + struct.pack("!i", size + 4))
    chunk = b"SELECT 1 " * (1 << 17)  # about 1 MiB
    sent = 0
    while sent < size - 1:
        piece = chunk[:size - 1 - sent]
        wire.sock.sendall(piece)
        sent += len(piece)
    wire.sock.sendall(b"\0")
    answer = wire.until_ready()
    assert sqlstate(answer) == "54000"
    assert rows(wire.query("SELECT 7")) == [struct.pack("!hi", 1, 1) + b"7"]


def test_a_query_over_the_limit_through_psycopg(conn) -> None:
    with pytest.raises(pgerrors.ProgramLimitExceeded):
        conn.execute("SELECT 1 " + "-- padding\n" * 2_000_000)
    assert conn.execute("SELECT 2").fetchone() == (2,)


@pytest.mark.parametrize(("statement", "code"), [
    ("INSERT INTO runs (run_id) VALUES ('x')", "25006"),
    ("DELETE FROM runs", "25006"),
    ("CREATE TABLE stolen AS SELECT * FROM runs", "25006"),
    ("COPY runs TO '/tmp/lakeml-sql-server-copy.csv'", "25006"),
    ("COPY runs FROM '/etc/passwd'", "25006"),
    ("ATTACH '/tmp/lakeml-sql-server.db' AS x", "0A000"),
    ("INSTALL httpfs", "0A000"),
    ("LOAD httpfs", "0A000"),
    ("PRAGMA database_list", "0A000"),
    ("CALL pragma_version()", "0A000"),
    ("SET enable_external_access = true", "0A000"),
    ("SELECT * FROM read_csv('/etc/passwd')", "42501"),
    ("SELECT * FROM read_text('/etc/hostname')", "42501"),
    ("SELECT * FROM glob('/etc/*')", "42501"),
    ("SELECT * FROM read_parquet('/tmp/*.parquet')", "42501"),
    ("SELEC 1", "42601"),
    ("SELECT * FROM no_such_view", "42P01"),
])
def test_writes_and_file_reads_are_refused(conn, sql_server, statement: str, code: str) -> None:
    before = conn.execute("SELECT count(*) FROM runs").fetchone()
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    assert caught.value.sqlstate == code, caught.value
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == before
    assert not Path("/tmp/lakeml-sql-server-copy.csv").exists()
    assert not Path("/tmp/lakeml-sql-server.db").exists()


def test_wrong_passwords_are_refused(sql_server) -> None:
    for user, password in ((USER, "wrong"), ("nobody", PASSWORD)):  # SCRAM, and no such user
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(sql_server.dsn(user=user, password=password))
    client = Wire(sql_server.port)  # MD5
    try:
        params = b"user\0" + MD5_USER.encode() + b"\0\0"
        client.sock.sendall(struct.pack("!ii", len(params) + 8, 196608) + params)
        kind, body = client.read()
        assert kind == b"R"
        client.send(b"p", b"md5" + b"0" * 32 + b"\0")
        assert sqlstate(client.until_ready()) == "28P01"
    finally:
        client.close()
    with psycopg.connect(sql_server.dsn()) as ok:  # the right one still gets in
        assert ok.execute("SELECT 1").fetchone() == (1,)


def test_trust_only_on_loopback(store: str, capsys) -> None:
    with pytest.raises(InvalidArgument, match="0.0.0.0"):
        SqlServer(store, host="0.0.0.0", port=0)
    assert main(["sql-server", "--store", store, "--host", "0.0.0.0"]) == 1
    assert "--auth-file" in capsys.readouterr().err


def test_trusted_loopback_server_and_add_user(store: str, tmp_path: Path, monkeypatch) -> None:
    server = SqlServer(store, port=0)
    host, port = server.start()
    try:
        with psycopg.connect(host=host, port=port, user="anyone", dbname="x") as trusted:
            assert trusted.execute("SELECT count(*) FROM experiments").fetchone()[0] >= 2
    finally:
        server.close()
    users = tmp_path / "users"
    monkeypatch.setenv("LAKEML_SQL_PASSWORD", "pä55 word")
    assert main(["sql-server", "--auth-file", str(users), "--add-user", "carol"]) == 0
    assert users.read_text().startswith("carol:SCRAM-SHA-256$4096:")
    server = SqlServer(store, port=0, auth_file=users)
    host, port = server.start()
    try:
        with psycopg.connect(host=host, port=port, user="carol", password="pä55 word",
                             dbname="x") as conn:
            assert conn.execute("SELECT current_schema()").fetchone() == ("main",)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host=host, port=port, user="carol", dbname="x", password="no")
    finally:
        server.close()
