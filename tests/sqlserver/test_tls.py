"""TLS on lakeml sql-server: psycopg and psql with sslmode=require / verify-full against a
self-signed certificate made here, the clear-text fallback, and bad set-ups refused."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import struct
import subprocess

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lakeml.cli import main as cli_main
from lakeml.errors import InvalidArgument
from lakeml.sqlserver import SqlServer
from tests.sqlserver.conftest import PASSWORD, USER, require_tool, start


def self_signed(folder, name: str = "server") -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by its own key: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return str(cert_file), str(key_file)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, store):
    """A second server over the same store, with an auth file and TLS."""
    from lakeml.sqlserver.auth import scram_verifier

    base = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(base)
    users = base / "users"
    users.write_text(f"{USER}:{scram_verifier(PASSWORD)}\n")
    proc, port, log = start(base, store, "--auth-file", str(users),
                            "--tls-cert", cert, "--tls-key", key)
    yield port, cert
    proc.terminate()
    proc.wait(timeout=10)
    assert "TLS for clients that ask" in log.read_text()


def dsn(port: int, **extra: str) -> str:
    parts = {"host": "127.0.0.1", "port": str(port), "user": USER, "password": PASSWORD,
             "dbname": "lakeml", **extra}
    return " ".join(f"{k}='{v}'" for k, v in parts.items())


def test_psycopg_with_sslmode_require_talks_tls(tls_server) -> None:
    port, _ = tls_server
    with psycopg.connect(dsn(port, sslmode="require")) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (12,)
        got = conn.execute("SELECT run_name FROM runs WHERE run_name = %s",
                           ["churn-3"]).fetchall()  # the extended protocol over TLS
        assert got == [("churn-3",)]


def test_verify_full_checks_the_certificate(tls_server, tmp_path) -> None:
    port, cert = tls_server
    with psycopg.connect(dsn(port, sslmode="verify-full", sslrootcert=cert)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    other, _ = self_signed(tmp_path, "other")  # a certificate the server does not hold
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(dsn(port, sslmode="verify-full", sslrootcert=other))


def test_a_client_that_does_not_ask_stays_in_the_clear(tls_server) -> None:
    port, _ = tls_server
    with psycopg.connect(dsn(port, sslmode="disable")) as conn:
        assert not conn.pgconn.ssl_in_use
        assert conn.execute("SELECT count(*) FROM experiments").fetchone()[0] >= 2


def test_a_server_without_tls_answers_no(sql_server) -> None:
    with pytest.raises(psycopg.OperationalError, match="does not support SSL"):
        psycopg.connect(sql_server.dsn(sslmode="require"))
    with sql_server.connect(sslmode="prefer") as conn:  # prefer falls back to the clear
        assert not conn.pgconn.ssl_in_use


def test_psql_over_tls(tls_server) -> None:
    psql = require_tool(shutil.which("psql"), "psql (postgresql-client)")
    port, _ = tls_server
    done = subprocess.run([psql, dsn(port, sslmode="require"), "-At", "-c", "\\conninfo",
                           "-c", "SELECT count(*) FROM runs_wide"], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "SSL connection (protocol: TLSv1." in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "12"


def test_garbage_instead_of_a_handshake_drops_only_that_connection(tls_server) -> None:
    port, _ = tls_server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(struct.pack("!ii", 8, 80877103))  # SSLRequest
        assert raw.recv(1) == b"S"
        raw.sendall(b"\x00\x00\x00\x08not a TLS hello at all")
        answer = b""
        try:
            while chunk := raw.recv(100):
                answer += chunk
        except ConnectionResetError:
            pass
        # the server closed it, at most with a TLS alert record (type 0x15), no PostgreSQL
        assert answer == b"" or answer[0] == 0x15, answer
    with psycopg.connect(dsn(port, sslmode="require")) as conn:  # and serves the next
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_bad_tls_set_ups_are_refused_by_name(tmp_path, store) -> None:
    cert, key = self_signed(tmp_path)
    other_cert, _ = self_signed(tmp_path, "other")
    with pytest.raises(InvalidArgument, match="--tls-cert needs --tls-key"):
        SqlServer(store, port=0, tls_cert=cert)
    with pytest.raises(InvalidArgument, match="--tls-key .*missing.pem.*no such file"):
        SqlServer(store, port=0, tls_cert=cert, tls_key=str(tmp_path / "missing.pem"))
    with pytest.raises(InvalidArgument, match="other.crt.*cannot be used"):
        SqlServer(store, port=0, tls_cert=other_cert, tls_key=key)  # key of another cert


@pytest.fixture(scope="module")
def tls_only_server(tmp_path_factory, store):
    """``lakeml sql-server --tls-required``: clients in the clear are refused."""
    from lakeml.sqlserver.auth import scram_verifier

    base = tmp_path_factory.mktemp("tls-only")
    cert, key = self_signed(base)
    users = base / "users"
    users.write_text(f"{USER}:{scram_verifier(PASSWORD)}\n")
    proc, port, log = start(base, store, "--auth-file", str(users), "--tls-cert", cert,
                            "--tls-key", key, "--tls-required")
    yield port
    proc.terminate()
    proc.wait(timeout=10)
    assert "TLS only" in log.read_text()


def error_fields(reply: bytes) -> dict[str, str]:
    """The fields of the ErrorResponse at the start of ``reply`` (code letter -> text)."""
    assert reply[:1] == b"E", reply
    (length,) = struct.unpack("!i", reply[1:5])
    fields = {}
    for part in reply[5:1 + length].split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode()
    return fields


def test_tls_required_refuses_a_client_in_the_clear_with_sqlstate_28000(tls_only_server):
    port = tls_only_server
    with pytest.raises(psycopg.OperationalError, match="accepts only TLS connections"):
        psycopg.connect(dsn(port, sslmode="disable"))
    # the same start-up on a raw socket: a FATAL ErrorResponse with SQLSTATE 28000
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        body = b"user\0" + USER.encode() + b"\0database\0lakeml\0\0"
        raw.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
        reply = b""
        while chunk := raw.recv(4096):
            reply += chunk
    fields = error_fields(reply)
    assert (fields["S"], fields["C"]) == ("FATAL", "28000"), fields
    assert "--tls-required" in fields["M"]
    # clients that ask for TLS are served, by the extended protocol too
    for mode in ("require", "prefer"):
        with psycopg.connect(dsn(port, sslmode=mode)) as conn:
            assert conn.pgconn.ssl_in_use
            assert conn.execute("SELECT count(*) FROM runs WHERE run_name = %s",
                                ["churn-3"]).fetchone() == (1,)


def test_tls_required_without_a_certificate_is_refused(store, capsys):
    with pytest.raises(InvalidArgument, match="--tls-required needs --tls-cert"):
        SqlServer(store, port=0, tls_required=True)
    assert cli_main(["sql-server", "--store", store, "--port", "0", "--tls-required"]) != 0
    assert "--tls-required needs --tls-cert and --tls-key" in capsys.readouterr().err
