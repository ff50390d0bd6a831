"""``lakeml sql-server``: a PostgreSQL-wire endpoint over read-only DuckDB views of a
store's current state.

One listening socket, one thread per connection (each a
:class:`lakeml.sqlserver.session.Session`), one sandboxed DuckDB database shared by
all of them: the ``lake_*`` views of the store's Delta tables and the sql/views/
current-state views over them (:class:`lakeml.query.lake.LakeViews`, the layer
``lakeml sql`` uses), refreshed to the latest commits before each query. Each query
runs on a DuckDB cursor of its own, so connections run in parallel.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
import socket
import threading
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from lakeml.errors import InvalidArgument
from lakeml.sqlserver import catalog
from lakeml.sqlserver import messages as m
from lakeml.sqlserver.auth import load_users
from lakeml.sqlserver.tls import server_context

if TYPE_CHECKING:
    import duckdb

    from lakeml.sqlserver.session import Session

log = logging.getLogger(__name__)

DEFAULT_PORT = 5433
MAX_MESSAGE = 16 << 20  # the longest message (a query's text, a bind's values) accepted
MAX_CONNECTIONS = 200
# the views kept folded while the store does not change (see Database); not the full
# metric history (`metrics`), which may hold hundreds of millions of points
CACHED = frozenset({"runs", "latest_metrics", "params", "tags", "experiments",
                    "experiment_tags", "runs_wide", "inputs", "registered_models",
                    "model_versions"})
# how a kept table is re-written once a store version has served ORDER_AFTER queries:
# DuckDB keeps min/max per row group, so a filter on the leading column (a metric key,
# an experiment) scans only the row groups holding it, and tables in run-id order join
# faster (the leaderboard over 1 M runs: 0.78 CPU-s unordered, 0.52 by key, 0.37 by key
# and run id). Ordering costs more than the fold itself (latest_metrics of 1 M runs:
# 13 CPU-s), so a store that changes all the time keeps its unordered tables.
ORDER = {"latest_metrics": "key, run_id", "params": "key, run_id", "tags": "key, run_id",
         "runs": "experiment_id, run_id", "runs_wide": "experiment_id, run_id",
         "inputs": "run_id", "experiment_tags": "key"}
ORDER_AFTER = 5


class Database:
    """The server's sandboxed DuckDB database over the store's views.

    The current-state views fold the store's events on every query; a dashboard
    asking again and again of a store that has not changed would pay that fold each
    time. So the folded views a query names (:data:`CACHED`) are kept as tables in
    the schema ``lakeml_cache``, first on the search path, made on first use and
    dropped, all at once, as soon as any table of the store has a new commit: a
    query never sees a stale table, only a fresh one or the view itself. When
    ORDER_AFTER queries have come for one store version, a thread re-writes the kept
    tables in :data:`ORDER` and swaps each in unless the store moved meanwhile.
    """

    def __init__(self, store_uri: str) -> None:
        from lakeml.client import Client
        from lakeml.query.lake import LakeViews

        store = Client(store_uri).store
        self._lake = LakeViews(store)
        self._con = self._lake.connect(sandboxed=True)
        catalog.install(self._con)
        self._con.execute(f"CREATE SCHEMA {catalog.CACHE}")
        self._planner = self._con.cursor()
        self._lock = threading.Lock()
        self._versions: dict[str, int] | None = None
        self._cached: set[str] = set()
        self._served = 0  # queries since the store's version last moved
        # the threads re-writing kept tables in order, and their cursors: :meth:`close`
        # (and the interpreter's exit) stops and joins them, since a thread must not be
        # left inside DuckDB when the process exits (a daemon thread killed there
        # aborts the process)
        self._stop = threading.Event()
        self._orderers: set[threading.Thread] = set()
        self._working: set[duckdb.DuckDBPyConnection] = set()
        _open.add(self)

    def cursor(self, sql: str = "") -> duckdb.DuckDBPyConnection:
        """A new cursor over the views, refreshed to the store's latest commits, with the
        views ``sql`` names folded into tables."""
        from lakeml.query.lake import NAMES

        with self._lock:
            self._lake.refresh(NAMES)
            versions = self._lake.versions()
            if versions != self._versions:
                for name in self._cached:
                    self._con.execute(f'DROP TABLE IF EXISTS {catalog.CACHE}."{name}"')
                self._cached.clear()
                self._versions = versions
                self._served = 0
            for name in CACHED - self._cached:
                if re.search(rf"\b{name}\b", sql, re.IGNORECASE):
                    self._con.execute(f'CREATE TABLE {catalog.CACHE}."{name}" AS '
                                      f'SELECT * FROM main."{name}"')
                    self._cached.add(name)
            self._served += 1
            ordering = sorted(self._cached & ORDER.keys()) \
                if self._served == ORDER_AFTER else []
            cur = self._con.cursor()
            if ordering and not self._stop.is_set():
                thread = threading.Thread(target=self._order, args=(versions, ordering),
                                          name="lakeml-sql-order")
                self._orderers.add(thread)
                thread.start()
        cur.execute(catalog.SEARCH_PATH)
        return cur

    def close(self) -> None:
        """Stop the threads ordering kept tables (their DuckDB work is interrupted; a
        table not yet swapped in is dropped) and wait for them to end."""
        self._stop.set()
        with self._lock:
            threads = list(self._orderers)
            for work in self._working:
                work.interrupt()
        for thread in threads:
            thread.join()
        _open.discard(self)

    def _order(self, versions: dict[str, int], names: list[str]) -> None:
        """Re-write the kept tables ``names`` in :data:`ORDER`, each swapped in for the
        unordered one while the store is still at ``versions`` (queries running on the
        old table finish on it: DuckDB's catalog is versioned)."""
        import uuid

        import duckdb

        with self._lock:
            work = self._con.cursor()
            self._working.add(work)
        suffix = uuid.uuid4().hex[:12]  # two ordering threads never share a table
        ordered = ""
        try:
            for name in names:
                if self._stop.is_set():
                    return
                ordered = f'{catalog.CACHE}."{name}__ordered_{suffix}"'
                work.execute(f'CREATE OR REPLACE TABLE {ordered} AS SELECT * FROM '
                             f'{catalog.CACHE}."{name}" ORDER BY {ORDER[name]}')
                with self._lock:
                    current = self._versions == versions and name in self._cached \
                        and not self._stop.is_set()
                    if current:  # one transaction: no query finds the table missing
                        self._con.execute("BEGIN TRANSACTION")
                        try:
                            self._con.execute(f'DROP TABLE {catalog.CACHE}."{name}"')
                            self._con.execute(f'ALTER TABLE {ordered} RENAME TO "{name}"')
                            self._con.execute("COMMIT")
                        except duckdb.Error:
                            self._con.execute("ROLLBACK")
                            raise
                        ordered = ""
                if not current:  # the store moved: these tables are gone or refolded
                    return
        except duckdb.Error as exc:  # the unordered tables stay; queries go on
            if not self._stop.is_set():
                log.warning("ordering the kept tables failed: %s", exc)
        finally:
            if ordered:
                try:
                    work.execute(f"DROP TABLE IF EXISTS {ordered}")
                except duckdb.Error:
                    pass
            with self._lock:
                self._working.discard(work)
                self._orderers.discard(threading.current_thread())
            work.close()

    @contextmanager
    def planning(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for parsing statements (extract_statements), one user at a time."""
        with self._lock:
            yield self._planner


_open: weakref.WeakSet[Database] = weakref.WeakSet()


def _close_all() -> None:
    """As the interpreter starts exiting (before it joins threads): stop every open
    database's ordering threads, so none is inside DuckDB when the process ends."""
    for database in list(_open):
        database.close()


try:  # runs before threading joins non-daemon threads at exit
    threading._register_atexit(_close_all)
except RuntimeError:  # first imported while the interpreter exits: nothing to stop later
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SqlServer:
    """A PostgreSQL-wire server over the store at ``store_uri``.

    Without ``auth_file`` every client is trusted, which is allowed only on a
    loopback address; with it, clients prove a password with SCRAM-SHA-256 (or
    MD5, for users whose entry is an MD5 verifier). With ``tls_cert`` and ``tls_key``
    (PEM files) a client that asks for TLS gets it; one that does not, still talks
    in the clear, unless ``tls_required``: then its start-up is refused with SQLSTATE
    28000 (a CancelRequest, which carries only a key, is still taken in the clear, as
    PostgreSQL does).

    Example:
        >>> server = SqlServer("/tmp/lake", port=0)                  # doctest: +SKIP
        >>> host, port = server.start()                             # doctest: +SKIP
        >>> # psql "host=127.0.0.1 port=$port user=me" -c "SELECT count(*) FROM runs"
        >>> server.close()                                          # doctest: +SKIP
    """

    def __init__(self, store_uri: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 auth_file: str | os.PathLike[str] | None = None,
                 max_message: int = MAX_MESSAGE, max_connections: int = MAX_CONNECTIONS,
                 tls_cert: str | os.PathLike[str] | None = None,
                 tls_key: str | os.PathLike[str] | None = None,
                 tls_required: bool = False) -> None:
        self.tls = server_context(tls_cert, tls_key)
        if tls_required and self.tls is None:
            raise InvalidArgument("--tls-required needs --tls-cert and --tls-key: without a "
                                  "certificate no client could connect")
        self.tls_required = tls_required
        self.users = load_users(auth_file) if auth_file is not None else None
        if self.users is None and not is_loopback(host):
            raise InvalidArgument(f"--host {host!r} is not a loopback address: serving other "
                                  "machines needs --auth-file (users and their password "
                                  "verifiers; see `lakeml sql-server --add-user`)")
        self.host, self.port = host, port
        self.max_message = max_message
        self.max_connections = max_connections
        self.database = Database(store_uri)
        self._sessions: dict[int, Session] = {}
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def random_bytes(self, size: int) -> bytes:
        return secrets.token_bytes(size)

    def start(self) -> tuple[str, int]:
        """Listen and serve in a background thread; (host, port) bound."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise InvalidArgument(f"cannot listen on {self.host}:{self.port}: {exc}") from None
        sock.listen(128)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="lakeml-sql-server",
                                        daemon=True)
        self._thread.start()
        return self.host, self.port

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        if self._thread is None:
            self.start()
        try:
            self._closing.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._closing.set()
        if self._socket is not None:
            try:
                self._socket.shutdown(socket.SHUT_RDWR)  # wakes the thread in accept()
            except OSError:
                pass
            try:
                self._socket.close()
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.database.close()

    def _accept(self) -> None:
        from lakeml.sqlserver.session import Session

        assert self._socket is not None
        while not self._closing.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                full = len(self._sessions) >= self.max_connections
                pid = 1 + secrets.randbelow(2**31 - 2)
                while pid in self._sessions:
                    pid = 1 + secrets.randbelow(2**31 - 2)
                session = Session(self, conn, pid, secrets.randbelow(2**31))
                if not full:
                    self._sessions[pid] = session
            if full:
                threading.Thread(target=self._refuse, args=(conn,), daemon=True).start()
                continue
            threading.Thread(target=self._serve, args=(session,), daemon=True,
                             name=f"lakeml-sql-{pid}").start()

    def _serve(self, session: Session) -> None:
        try:
            session.run()
        finally:
            with self._lock:
                self._sessions.pop(session.pid, None)

    def _refuse(self, conn: socket.socket) -> None:
        try:
            conn.sendall(m.error_response("53300", "sorry, too many clients already "
                                          f"(lakeml sql-server serves {self.max_connections})",
                                          severity="FATAL"))
        except OSError:
            pass
        finally:
            conn.close()

    def cancel(self, pid: int, secret: int) -> None:
        """Interrupt the running query of session ``pid`` if ``secret`` is its key."""
        with self._lock:
            session = self._sessions.get(pid)
        if session is not None and secrets.compare_digest(
                str(session.secret).encode(), str(secret).encode()):
            session.cancel()

    def connections(self) -> int:
        with self._lock:
            return len(self._sessions)
