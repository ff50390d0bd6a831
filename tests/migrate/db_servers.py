"""A real PostgreSQL and a real MariaDB server on loopback, for the database imports.

Both come from Debian (``postgresql``, ``mariadb-server``: .ci/system-packages.txt) and
run from a fresh data folder in /tmp for the session only, on a free port of 127.0.0.1.
PostgreSQL refuses to run as root, so as root the folder belongs to ``nobody`` and the
server runs as that user (``runuser``). Without the binaries a test skips, except in CI
(``CI=true``), where it fails: an import from a database must never pass by not running.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _missing(what: str) -> None:
    message = (f"{what} is not installed: `make system-packages` installs it "
               "(.ci/system-packages.txt)")
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(ready: Callable[[], bool], proc: subprocess.Popen | None, log: Path,
          what: str) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited: {log.read_text()[-3000:]}")
        assert time.monotonic() < deadline, f"{what} not up after 60 s: {log.read_text()[-3000:]}"
        time.sleep(0.2)


def _as_owner(argv: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *argv] if owner else argv


def _folder(owner: str | None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="lakeml-db-"))
    if owner:
        shutil.chown(folder, owner)
    return folder


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server with an empty database ``mlflow``; its URI (user ``postgres``,
    no password: trust on loopback)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        _missing("PostgreSQL (Debian package postgresql)")
    bin_dir = Path(found[-1]).parent
    owner = "nobody" if os.geteuid() == 0 else None
    folder = _folder(owner)
    data, log = folder / "data", folder / "server.log"
    port = _free_port()
    subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
                              "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"], owner),
                   check=True, capture_output=True)
    # pg_ctl -w returns once the server accepts connections
    subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                              "-o", f"-h 127.0.0.1 -p {port} -k {folder} -F", "start"], owner),
                   check=True, capture_output=True)
    try:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres",
                             autocommit=True) as con:
            con.execute("CREATE DATABASE mlflow")
        # (the driver suffix MLflow users write; lakeml reads it with psycopg 3 all the same)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(_as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                                  "stop"], owner), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def mariadb_server() -> Iterator[str]:
    """A MariaDB server with an empty database ``mlflow`` and a user ``mlflow`` (password
    ``p@ss:word``, quoted in the URI) allowed on it; its URI."""
    install, server = shutil.which("mariadb-install-db"), (
        shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin"))
    if not install or not server:
        _missing("MariaDB (Debian package mariadb-server)")
    user = "root" if os.geteuid() == 0 else None
    folder = _folder(None)
    data, log, sock_path = folder / "data", folder / "server.log", folder / "mysqld.sock"
    port = _free_port()
    own = [f"--user={user}"] if user else []
    subprocess.run([install, "--no-defaults", f"--datadir={data}", "--skip-test-db",
                    "--auth-root-authentication-method=normal", *own],
                   check=True, capture_output=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={data}", "--bind-address=127.0.0.1",
             f"--port={port}", f"--socket={sock_path}", f"--pid-file={folder / 'pid'}",
             "--skip-networking=0", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
             f"--log-error={log}", *own], stdout=out, stderr=subprocess.STDOUT)
    try:
        import pymysql

        def up() -> bool:  # mariadbd makes its socket once it takes connections
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(sock_path))
                    return True
                except OSError:
                    return False

        _wait(up, proc, log, "mariadbd")
        con = pymysql.connect(unix_socket=str(sock_path), user="root", autocommit=True)
        with con.cursor() as cur:
            cur.execute("CREATE DATABASE mlflow")
            cur.execute("CREATE USER 'mlflow'@'127.0.0.1' IDENTIFIED BY 'p@ss:word'")
            cur.execute("GRANT ALL ON mlflow.* TO 'mlflow'@'127.0.0.1'")
        con.close()
        yield f"mysql+pymysql://mlflow:p%40ss%3Aword@127.0.0.1:{port}/mlflow"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
