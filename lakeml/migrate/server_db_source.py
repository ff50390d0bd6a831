"""Reading an MLflow tracking database on a PostgreSQL or MySQL/MariaDB server.

The URI is the one MLflow was given (SQLAlchemy's form: ``postgresql://``,
``postgresql+psycopg2://``, ``mysql://``, ``mysql+pymysql://``, ``mariadb://``,
user and password percent-quoted); the queries are ``sql_source``'s. The
drivers are the optional extra ``lakeml[mlflow-db]`` (psycopg 3, PyMySQL),
imported only when such a source is opened.

Speed: PostgreSQL hands a batch's rows over as CSV through COPY, which
pyarrow's CSV reader turns into Arrow in C++ (typed by the query's own
column types, so a tag value ``"1"`` stays a string); MySQL has no such
path: its batches come through connectorx (Rust, straight into Arrow) when it is
installed (in the extra), else through PyMySQL's cursor, ~5x slower.

The store's name in the import state (``uri``) leaves the password out, so
changing it does not make the store a new one, and it is never written down.
"""

from __future__ import annotations

import io
import logging
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from lakeml.errors import InvalidArgument, NotSupported, StoreUnavailable
from lakeml.migrate.sql_source import SqlSource, rows_to_arrow

_log = logging.getLogger(__name__)
POSTGRES_SCHEMES = ("postgresql", "postgres")
MYSQL_SCHEMES = ("mysql", "mariadb")


def db_kind(uri: str) -> str | None:
    """``"postgresql"`` or ``"mysql"`` for a URI of such a database (any SQLAlchemy
    driver suffix), else None."""
    scheme = uri.split("://", 1)[0].lower().split("+", 1)[0] if "://" in uri else ""
    if scheme in POSTGRES_SCHEMES:
        return "postgresql"
    if scheme in MYSQL_SCHEMES:
        return "mysql"
    return None


def _driver(module: str, uri: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise NotSupported(f"reading {_safe(uri)!r} needs the {module} driver: "
                           "pip install 'lakeml[mlflow-db]'") from exc


def _safe(uri: str) -> str:
    """``uri`` without its password (for messages and the import state)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(unquote(parts.username or ''), safe='')}@{host}" + (
        f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _identity(kind: str, uri: str) -> str:
    """One name per database: scheme without driver, user, host, port, database."""
    parts = urlsplit(uri)
    user = f"{quote(unquote(parts.username), safe='')}@" if parts.username else ""
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (5432 if kind == "postgresql" else 3306)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise InvalidArgument(f"{_safe(uri)!r} names no database: write "
                              f"{kind}://user:password@host:port/DATABASE")
    socket = dict(parse_qsl(parts.query)).get("host" if kind == "postgresql" else "unix_socket")
    return f"{kind}://{user}{host}:{port}/{quote(database, safe='')}" + (
        f"?socket={socket}" if socket else "")


class _ServerSource(SqlSource):
    """What the PostgreSQL and MySQL readers share: ``%s`` parameters, the table list
    from information_schema, a batch's runs named in an IN list (exact: no filtering)."""

    _con: Any
    _schema_sql = ""

    def _open(self, uri: str) -> None:
        self._tables = {str(r[0]).lower() for r in self._rows(self._schema_sql)}
        if not {"experiments", "runs"} <= self._tables:
            self._con.close()
            raise InvalidArgument(f"{_safe(uri)!r} is not an MLflow database: it has no "
                                  "experiments and runs tables")

    def close(self) -> None:
        self._con.close()

    def _execute(self, cur: Any, sql: str, params: Any) -> None:
        cur.execute(sql.replace("?", "%s"), list(params) or None)

    def _rows(self, sql: str, params: Any = (), *, table: str | None = None) -> list[tuple]:
        if table is not None and table not in self._tables:
            return []
        cur = self._con.cursor()
        try:
            self._execute(cur, sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def _select_runs(self, column: str, wanted: list[str]) -> tuple[str, list[Any], bool]:
        return f"{column} IN ({', '.join('?' * len(wanted))})", list(wanted), False


class PostgresSource(_ServerSource):
    """An MLflow database on PostgreSQL (psycopg 3), read in a read-only session."""

    _schema_sql = ("SELECT table_name FROM information_schema.tables "
                   "WHERE table_schema = current_schema()")

    def __init__(self, uri: str) -> None:
        self.uri = _identity("postgresql", uri)
        psycopg = _driver("psycopg", uri)
        conninfo = "postgresql://" + uri.split("://", 1)[1]  # libpq's URI: no driver suffix
        try:
            self._con = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to {_safe(uri)!r}: {exc}") from exc
        self._con.execute("SET default_transaction_read_only = on")
        self._con.execute("SET client_encoding = 'UTF8'")
        self._open(uri)

    def _arrow(self, sql: str, params: list[Any]) -> Any:
        """COPY of the query as CSV, parsed by pyarrow with the query's column types."""
        import pyarrow as pa
        import pyarrow.csv as csv

        sql = sql.replace("?", "%s")
        with self._con.cursor() as cur:
            cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0", params)
            names = [d.name for d in cur.description]
            types = [_pg_type(d.type_code) for d in cur.description]
            buffer = io.BytesIO()
            with cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
                for chunk in copy:
                    buffer.write(chunk)
        if buffer.tell() == 0:
            return pa.schema(list(zip(names, types))).empty_table()
        buffer.seek(0)
        return csv.read_csv(
            buffer, read_options=csv.ReadOptions(column_names=names),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            # NULL is an empty field, an empty string a quoted one
            convert_options=csv.ConvertOptions(
                column_types=dict(zip(names, types)), null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=False,
                true_values=["t"], false_values=["f"]))


# PostgreSQL type OIDs of numbers and booleans (int2, int4, int8, float4, float8, numeric,
# bool): every other column is read as a string
_PG_TYPES = {21: "int64", 23: "int64", 20: "int64", 700: "float64", 701: "float64",
             1700: "float64", 16: "bool_"}


def _pg_type(oid: int) -> Any:
    import pyarrow as pa

    return getattr(pa, _PG_TYPES.get(oid, "string"))()


def _inline(sql: str, params: list[str]) -> str:
    """MySQL ``sql`` with its ``?`` replaced by the string literals of ``params`` (no
    backslash among them: quotes doubled is then the escape in every sql_mode), and
    ``"key"`` in MySQL's own quotes (connectorx's session has no ANSI quotes)."""
    pieces = sql.replace('"key"', "`key`").split("?")
    if len(pieces) != len(params) + 1:
        raise InvalidArgument(f"{len(params)} parameters for {len(pieces) - 1} places")
    out = [pieces[0]]
    for value, rest in zip(params, pieces[1:]):
        out += ["'" + value.replace("'", "''") + "'", rest]
    return "".join(out)


class MysqlSource(_ServerSource):
    """An MLflow database on MySQL or MariaDB (PyMySQL for the small reads, with ANSI
    quotes for ``"key"``; connectorx, when installed, for the batches of rows)."""

    _schema_sql = ("SELECT table_name FROM information_schema.tables "
                   "WHERE table_schema = DATABASE()")

    def __init__(self, uri: str) -> None:
        self.uri = _identity("mysql", uri)
        pymysql = _driver("pymysql", uri)
        parts = urlsplit(uri)
        options: dict[str, Any] = {}
        for key, value in parse_qsl(parts.query):
            if key not in ("unix_socket", "charset", "ssl_ca", "ssl_cert", "ssl_key"):
                raise InvalidArgument(f"{_safe(uri)!r}: lakeml does not know the MySQL "
                                      f"option {key!r} (it reads unix_socket, charset, "
                                      "ssl_ca, ssl_cert and ssl_key)")
            options[key] = value
        try:
            self._con = pymysql.connect(
                host=parts.hostname or "localhost", port=parts.port or 3306,
                user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                database=unquote(parts.path.lstrip("/")) or None,
                charset=options.pop("charset", "utf8mb4"), autocommit=True,
                init_command="SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')",
                **options)
            with self._con.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
        except pymysql.err.MySQLError as exc:
            raise StoreUnavailable(f"cannot connect to {_safe(uri)!r}: {exc}") from exc
        self._open(uri)
        # connectorx, when installed, reads batches straight into Arrow (its own
        # connection: host and port only, no socket or TLS options)
        self._cx_uri = None if options else "mysql://" + uri.split("://", 1)[1]

    def _arrow(self, sql: str, params: list[Any]) -> Any:
        if self._cx_uri and all(isinstance(p, str) and "\\" not in p for p in params):
            try:
                import connectorx
            except ImportError:
                self._cx_uri = None
            else:
                try:
                    return connectorx.read_sql(self._cx_uri, _inline(sql, params),
                                               return_type="arrow")
                except Exception as exc:  # noqa: BLE001 - its errors have no common type
                    _log.warning("connectorx cannot read %s (%s): reading through PyMySQL",
                                 self.uri, exc)
                    self._cx_uri = None
        import pymysql.cursors

        cur = self._con.cursor(pymysql.cursors.SSCursor)  # streamed, not held twice
        try:
            self._execute(cur, sql, params)
            names = [d[0] for d in cur.description]
            rows: list[tuple] = []
            while chunk := cur.fetchmany(100_000):
                rows.extend(chunk)
            return rows_to_arrow(names, rows)
        finally:
            cur.close()
