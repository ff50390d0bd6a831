"""One client connection: start-up and authentication, then the simple and extended
query protocols, until Terminate or the connection drops.

A session runs in a thread of its own and holds its prepared statements, its
portals (unnamed, named, and the cursors DECLARE makes), its run-time parameters
and its transaction status. Each query gets a DuckDB cursor over the server's one
sandboxed database. An error in the extended protocol skips messages until Sync,
as PostgreSQL does; an error inside a transaction block fails the block until
ROLLBACK.
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any, Protocol

from lakeml.sqlserver import auth, catalog, commands, errors, pgtypes, tls
from lakeml.sqlserver import messages as m
from lakeml.sqlserver.errors import SqlError
from lakeml.sqlserver.plans import Plan, plan
from lakeml.sqlserver.results import Column, Portal, codecs, description, encode
from lakeml.sqlserver.statements import split_statements


class Host(Protocol):
    """What a session needs of its server (lakeml.sqlserver.server.SqlServer)."""

    max_message: int
    users: dict[str, str] | None
    database: Any  # lakeml.sqlserver.server.Database
    tls: ssl.SSLContext | None  # None: SSLRequest is answered N
    tls_required: bool  # a start-up message in the clear is refused

    def cancel(self, pid: int, secret: int) -> None: ...

    def random_bytes(self, size: int) -> bytes: ...

_FLUSH_AT = 1 << 18


class Session:
    """The server's side of one connection."""

    def __init__(self, server: Host, sock: socket.socket, pid: int, secret: int) -> None:
        self.server, self.sock, self.pid, self.secret = server, sock, pid, secret
        self.reader = m.MessageReader(sock, server.max_message)
        self.out = bytearray()
        self.statements: dict[str, Plan] = {}
        self.portals: dict[str, Portal] = {}
        self.settings = catalog.Settings({})
        self.status = "I"  # I idle, T in a transaction block, E failed block
        self.skip_to_sync = False
        self.running: Any = None  # what a CancelRequest interrupts: a cursor or RowSource
        self.user = ""

    # ---- the connection ---------------------------------------------------------------

    def run(self) -> None:
        try:
            if self._start():
                self._serve()
        except (m.ConnectionClosed, ConnectionError, OSError):
            pass
        except m.ProtocolViolation as exc:
            self._fatal(errors.PROTOCOL, str(exc))
        finally:
            for portal in self.portals.values():
                portal.close()
            try:
                self.reader.close()
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def send(self, data: bytes) -> None:
        self.out += data
        if len(self.out) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self.out:
            self.sock.sendall(self.out)
            self.out.clear()

    def _fatal(self, code: str, text: str) -> None:
        try:
            self.send(m.error_response(code, text, severity="FATAL"))
            self.flush()
        except OSError:
            pass

    def cancel(self) -> None:
        """Interrupt the query this session runs now (a CancelRequest's work)."""
        running = self.running
        if running is not None:
            try:
                running.interrupt()
            except Exception:  # noqa: BLE001 - the query ended meanwhile
                pass

    # ---- start-up ---------------------------------------------------------------------

    def _start_tls(self, context: ssl.SSLContext) -> None:
        """Answer an SSLRequest with ``S`` and go on over TLS (a second one is refused)."""
        if isinstance(self.sock, ssl.SSLSocket):
            raise m.ProtocolViolation("SSLRequest over a connection already using TLS")
        self.sock.sendall(b"S")
        self.sock.settimeout(tls.HANDSHAKE_SECONDS)
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self.sock.settimeout(None)
        self.reader.use(self.sock)

    def _start(self) -> bool:
        while True:
            code, rest = self.reader.startup()
            if code == m.SSL_REQUEST and self.server.tls is not None:
                self._start_tls(self.server.tls)
                continue
            if code in (m.SSL_REQUEST, m.GSSENC_REQUEST):
                self.sock.sendall(b"N")  # no TLS (GSS) here: the client goes on in the clear
                continue
            if code == m.CANCEL_REQUEST:
                if len(rest) >= 8:
                    self.server.cancel(*struct.unpack("!ii", rest[:8]))
                return False
            if code != m.PROTOCOL_V3:
                self._fatal(errors.NOT_SUPPORTED, f"unsupported frontend protocol "
                            f"{code >> 16}.{code & 0xFFFF}: lakeml sql-server speaks 3.0")
                return False
            break
        if self.server.tls_required and not isinstance(self.sock, ssl.SSLSocket):
            self._fatal(errors.TLS_REQUIRED, "lakeml sql-server accepts only TLS connections "
                        "(it runs with --tls-required): connect with sslmode=require, "
                        "verify-ca or verify-full")
            return False
        params = m.startup_parameters(rest)
        self.user = params.get("user", "")
        if not self.user:
            self._fatal("28000", "no PostgreSQL user name specified in startup packet")
            return False
        try:
            self._authenticate()
        except auth.AuthFailed as exc:
            self._fatal(errors.BAD_PASSWORD,
                        f'password authentication failed for user "{self.user}": {exc}')
            return False
        self.settings = catalog.Settings(params)
        self.send(m.authentication(0))
        for name, value in self.settings.reported():
            self.send(m.parameter_status(name, value))
        self.send(m.backend_key_data(self.pid, self.secret))
        self.send(m.ready_for_query(self.status))
        self.flush()
        return True

    def _authenticate(self) -> None:
        users = self.server.users
        if users is None:
            return  # trust: loopback only, checked when the server started
        verifier = users.get(self.user)
        if verifier is not None and verifier.startswith("md5"):
            salt = self.server.random_bytes(4)
            self.send(m.authentication(5, salt))
            self.flush()
            if not auth.check_md5(verifier, salt, m.Body(self._password()).cstring()):
                raise auth.AuthFailed("wrong password")
            return
        exchange = auth.ScramExchange(auth.parse_scram(verifier) if verifier else None)
        self.send(m.authentication(10, m.cstr(auth.MECHANISM) + b"\0"))
        self.flush()
        body = m.Body(self._password())
        if body.cstring() != auth.MECHANISM:
            raise auth.AuthFailed(f"only {auth.MECHANISM} is offered")
        size = body.int32()
        self.send(m.authentication(11, exchange.first(body.rest()[:max(size, 0)])))
        self.flush()
        self.send(m.authentication(12, exchange.final(self._password())))

    def _password(self) -> bytes:
        kind, body = self.reader.message()
        if kind != b"p":
            raise m.ProtocolViolation(f"expected a password message, got {kind!r}")
        return body

    # ---- the message loop -------------------------------------------------------------

    def _serve(self) -> None:
        handlers = {b"Q": self._query, b"P": self._parse, b"B": self._bind,
                    b"D": self._describe, b"E": self._execute, b"C": self._close,
                    b"S": self._sync, b"H": lambda body: self.flush()}
        while True:
            try:
                kind, body = self.reader.message()
            except m.MessageTooLong as exc:
                self.reader.skip(exc.length)
                self._error(SqlError(errors.TOO_LONG, str(exc), hint="send a shorter query"))
                if exc.kind == b"Q":
                    self.send(m.ready_for_query(self.status))
                    self.flush()
                continue
            if kind == b"X":
                return
            handler = handlers.get(kind)
            if handler is None:
                raise m.ProtocolViolation(f"invalid frontend message type {kind!r}")
            if self.skip_to_sync and kind not in (b"S", b"Q"):
                continue
            try:
                self._handle(handler, kind, body)
            except m.ProtocolViolation as exc:
                self._error(SqlError(errors.PROTOCOL, str(exc)))
                if kind == b"Q":
                    self.send(m.ready_for_query(self.status))
                    self.flush()

    def _handle(self, handler: Any, kind: bytes, body: bytes) -> None:
        try:
            handler(body)
        except (m.ProtocolViolation, m.ConnectionClosed, OSError):
            raise
        except Exception as exc:  # noqa: BLE001 - a bug of ours: say so, keep serving
            self._error(SqlError("XX000", "internal error in lakeml sql-server: "
                                 f"{type(exc).__name__}: {exc}"))
            if kind == b"Q":
                self.send(m.ready_for_query(self.status))
                self.flush()

    def _error(self, exc: SqlError) -> None:
        """Send ``exc``; in the extended protocol, skip to the next Sync."""
        self.send(m.error_response(exc.code, exc.message, hint=exc.hint))
        self.skip_to_sync = True
        if self.status == "T":
            self.status = "E"

    def _sync(self, body: bytes) -> None:
        self.skip_to_sync = False
        self.portals.pop("", None)
        if self.status == "I":
            self._drop_portals(keep_holdable=True)
        self.send(m.ready_for_query(self.status))
        self.flush()

    # ---- simple query -----------------------------------------------------------------

    def _query(self, body: bytes) -> None:
        text = m.Body(body).cstring()
        self.skip_to_sync = False
        try:
            pieces = split_statements(text)
            if not pieces:
                self.send(m.EMPTY_QUERY)
            for piece in pieces:
                portal = Portal(self._plan(piece), [], [])
                self._run(portal, None, describe=True)
        except SqlError as exc:
            self._error(exc)
        self.skip_to_sync = False
        if self.status == "I":
            self._drop_portals(keep_holdable=True)
        self.send(m.ready_for_query(self.status))
        self.flush()

    def _plan(self, text: str) -> Plan:
        with self.server.database.planning() as con:
            return plan(text, con)

    # ---- extended query ---------------------------------------------------------------

    def _parse(self, body: bytes) -> None:
        b = m.Body(body)
        name, text = b.cstring(), b.cstring()
        oids = [b.int32() for _ in range(b.int16())]
        try:
            for oid in oids:
                if oid:
                    pgtypes.check_parameter_type(oid)
            pieces = split_statements(text)
            if len(pieces) > 1:
                raise SqlError(errors.SYNTAX, "cannot insert multiple commands into a "
                               "prepared statement")
            parsed = self._plan(pieces[0]) if pieces else Plan("empty", text)
        except pgtypes.UnknownType as exc:
            return self._error(SqlError(errors.UNDEFINED_OBJECT, str(exc)))
        except SqlError as exc:
            return self._error(exc)
        parsed.extra["oids"] = oids + [0] * max(0, parsed.params - len(oids))
        self.statements[name] = parsed
        self.send(m.PARSE_COMPLETE)

    def _bind(self, body: bytes) -> None:
        b = m.Body(body)
        portal_name, statement_name = b.cstring(), b.cstring()
        param_formats = [b.int16() for _ in range(b.int16())]
        values = [b.value() for _ in range(b.int16())]
        result_formats = [b.int16() for _ in range(b.int16())]
        statement = self.statements.get(statement_name)
        if statement is None:
            return self._error(SqlError(errors.UNDEFINED_STATEMENT,
                                        f'prepared statement "{statement_name}" does not exist'))
        oids = statement.extra["oids"]
        if len(values) != len(oids):
            return self._error(SqlError(errors.PROTOCOL, f"bind message supplies "
                               f"{len(values)} parameters, but prepared statement "
                               f'"{statement_name}" requires {len(oids)}'))
        if len(param_formats) not in (0, 1, len(values)):
            return self._error(SqlError(errors.PROTOCOL, "bad parameter format count"))
        try:
            params = [pgtypes.decode_parameter(
                oid, value, bool(param_formats[0] if len(param_formats) == 1
                                 else param_formats[i] if param_formats else 0))
                for i, (oid, value) in enumerate(zip(oids, values))]
        except pgtypes.UnknownType as exc:
            return self._error(SqlError(errors.UNDEFINED_OBJECT, str(exc)))
        except (ValueError, struct.error, UnicodeDecodeError, ArithmeticError) as exc:
            return self._error(SqlError("22P02", f"invalid parameter value: {exc}"))
        if portal_name and portal_name in self.portals:
            return self._error(SqlError("42P03", f'cursor "{portal_name}" already exists'))
        self.portals[portal_name] = Portal(statement, params, result_formats)
        self.send(m.BIND_COMPLETE)

    def _describe(self, body: bytes) -> None:
        b = m.Body(body)
        what, name = b.byte(), b.cstring()
        try:
            if what == b"S":
                statement = self.statements.get(name)
                if statement is None:
                    raise SqlError(errors.UNDEFINED_STATEMENT,
                                   f'prepared statement "{name}" does not exist')
                oids = [oid or pgtypes.TEXT for oid in statement.extra["oids"]]
                self.send(m.parameter_description(oids))
                columns = self._columns_of(statement, [None] * len(oids))
                self.send(description(columns, []) if columns else m.NO_DATA)
            elif what == b"P":
                portal = self._portal(name)
                columns = self._start_portal(portal)
                portal.described = True
                self.send(description(columns, portal.formats) if columns else m.NO_DATA)
            else:
                raise m.ProtocolViolation(f"invalid DESCRIBE message subtype {what!r}")
        except SqlError as exc:
            self._error(exc)

    def _execute(self, body: bytes) -> None:
        b = m.Body(body)
        name, limit = b.cstring(), b.int32()
        try:
            self._run(self._portal(name), limit or None, describe=False)
        except SqlError as exc:
            self._error(exc)

    def _close(self, body: bytes) -> None:
        b = m.Body(body)
        what, name = b.byte(), b.cstring()
        if what == b"S":
            self.statements.pop(name, None)
        elif what == b"P":
            portal = self.portals.pop(name, None)
            if portal is not None:
                portal.close()
        else:
            raise m.ProtocolViolation(f"invalid CLOSE message subtype {what!r}")
        self.send(m.CLOSE_COMPLETE)

    def _portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            raise SqlError(errors.UNDEFINED_CURSOR, f'portal "{name}" does not exist')
        return portal

    def _drop_portals(self, *, keep_holdable: bool) -> None:
        for name in list(self.portals):
            if not (keep_holdable and self.portals[name].holdable):
                self.portals.pop(name).close()

    # ---- running statements -----------------------------------------------------------

    def _columns_of(self, statement: Plan, params: list[Any]) -> list[Column]:
        """The result columns of a statement, without running it."""
        return commands.columns_of(self, statement, params)

    def _start_portal(self, portal: Portal) -> list[Column]:
        return commands.start(self, portal)

    def _run(self, portal: Portal, limit: int | None, *, describe: bool) -> None:
        commands.run(self, portal, limit, describe=describe)

    def send_rows(self, portal: Portal, limit: int | None, describe: bool) -> tuple[int, bool]:
        """Send up to ``limit`` rows of a started portal; (rows sent, more remain)."""
        source = portal.source
        assert source is not None
        chosen = codecs(source.columns, portal.formats)
        if describe:
            self.send(description(source.columns, portal.formats))
        sent, more = 0, True
        self.running = source
        try:
            while more and (limit is None or sent < limit):
                chunks, more = source.take(None if limit is None else limit - sent)
                for chunk in chunks:
                    self.send(encode(chunk, chosen))
                    sent += len(chunk)
        finally:
            self.running = None
        return sent, more
