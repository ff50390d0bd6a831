"""What one statement asks of the server: a read-only DuckDB query, a command the
server answers itself, or a refusal with its SQLSTATE.

The store is served read-only. A statement reaches DuckDB only if DuckDB parses it
as exactly one query (SELECT, WITH, VALUES, FROM-first, DESCRIBE, SHOW TABLES,
SUMMARIZE, or EXPLAIN of one); writes are refused as in a read-only PostgreSQL
transaction (25006), anything else that DuckDB would run (ATTACH, INSTALL, LOAD,
PRAGMA, CALL, COPY, EXPORT, SET of DuckDB settings…) as not supported (0A000).
The database underneath is sandboxed as well (see :mod:`lakeml.query.sandbox`),
so a query cannot read files other than the store's tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeml.sqlserver import catalog
from lakeml.sqlserver import statements as st
from lakeml.sqlserver.errors import SqlError

if TYPE_CHECKING:
    import duckdb

WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "CREATE", "CREATE_FUNC", "DROP", "ALTER",
                    "MERGE_INTO", "COPY", "COPY_DATABASE", "VACUUM", "ANALYZE", "EXPORT",
                    "UPDATE_EXTENSIONS"})
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(ANALY[SZ]E\s+)?", re.IGNORECASE)
_NOOPS = {"DISCARD": "DISCARD ALL", "SAVEPOINT": "SAVEPOINT", "RELEASE": "RELEASE",
          "LISTEN": "LISTEN", "UNLISTEN": "UNLISTEN", "DEALLOCATE": "DEALLOCATE"}
_BEGIN = {"BEGIN", "START"}
_COMMIT = {"COMMIT", "END"}
_ROLLBACK = {"ROLLBACK", "ABORT"}


@dataclass
class Plan:
    """One statement, classified. ``kind``: empty, query, begin, commit, rollback, set,
    show, reset, declare, fetch, close, noop."""

    kind: str
    text: str = ""
    sql: str = ""  # a query's SQL as DuckDB runs it
    params: int = 0  # how many $n parameters a query takes
    name: str = ""  # the cursor, setting or command tag
    value: str = ""
    count: int | None = None  # FETCH: rows (None: all)
    hold: bool = False
    inner: Plan | None = None  # DECLARE: the query
    extra: dict[str, Any] = field(default_factory=dict)


def plan(text: str, con: duckdb.DuckDBPyConnection) -> Plan:
    """Classify one statement (already split from its neighbours); raises SqlError."""
    body = st.strip_comments(text)
    if not body.strip():
        return Plan("empty", text)
    words = st.first_words(body, 3)
    head = words[0] if words else ""
    if head in _BEGIN:
        return Plan("begin", text)
    if head in _COMMIT:
        return Plan("commit", text)
    if head in _ROLLBACK and "TO" not in words[1:]:
        return Plan("rollback", text)
    if head == "ROLLBACK":  # ROLLBACK TO SAVEPOINT
        return Plan("noop", text, name="ROLLBACK")
    if head in _NOOPS:
        return Plan("noop", text, name=_NOOPS[head])
    if head == "SET":
        return _set(body)
    if head == "SHOW":
        spelled = re.sub(r"(?i)^\s*SHOW\s+TRANSACTION\s+ISOLATION\s+LEVEL\s*$",
                         "SHOW transaction_isolation", body)
        spelled = re.sub(r"(?i)^\s*SHOW\s+TIME\s+ZONE\s*$", "SHOW timezone", spelled)
        match = st.SHOW.match(spelled)
        if match and match.group(1).upper() != "TABLES":
            return Plan("show", text, name=match.group(1).lower())
    if head == "RESET":
        match = st.RESET.match(body)
        if not match:
            raise SqlError("42601", f"syntax error in RESET: {text.strip()[:80]!r}")
        return Plan("reset", text, name=match.group(1))
    if head == "DECLARE":
        return _declare(body, con)
    if head in ("FETCH", "MOVE"):
        match = st.FETCH.match(body)
        if not match:
            raise SqlError("42601", f"syntax error in {head}: {text.strip()[:80]!r}")
        return Plan("fetch", text, name=st.identifier(match.group(3)),
                    count=st.fetch_count(match.group(2)), value=head)
    if head == "CLOSE":
        match = st.CLOSE.match(body)
        if not match:
            raise SqlError("42601", f"syntax error in CLOSE: {text.strip()[:80]!r}")
        name = match.group(1)
        return Plan("close", text, name="*" if name.upper() == "ALL" else st.identifier(name))
    return _query(text, con)


def _set(body: str) -> Plan:
    if re.match(r"^\s*SET\s+(SESSION\s+CHARACTERISTICS\s+AS\s+)?TRANSACTION\b", body,
                re.IGNORECASE):
        if re.search(r"READ\s+WRITE", body, re.IGNORECASE):
            raise SqlError("25006", "lakeml sql-server is read-only: transactions cannot be "
                           "READ WRITE")
        return Plan("noop", body, name="SET")
    setting = st.parse_set(body)
    if setting is None:
        raise SqlError("42601", f"syntax error in SET: {body.strip()[:80]!r}")
    return Plan("set", body, name=setting.name, value=setting.value)


def _declare(body: str, con: duckdb.DuckDBPyConnection) -> Plan:
    match = st.DECLARE.match(body)
    if not match:
        raise SqlError("42601", f"syntax error in DECLARE: {body.strip()[:80]!r}")
    inner = _query(match.group(4), con)
    return Plan("declare", body, name=st.identifier(match.group(1)), inner=inner,
                params=inner.params, hold=(match.group(3) or "").upper() == "WITH")


def _query(text: str, con: duckdb.DuckDBPyConnection) -> Plan:
    import duckdb

    sql = catalog.rewrite(text)
    try:
        parsed = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlError.from_duckdb(exc) from None
    if len(parsed) != 1:
        raise SqlError("42601", f"expected one statement, got {len(parsed)}: "
                       f"{text.strip()[:80]!r}")
    kind = parsed[0].type.name
    if kind == "EXPLAIN":  # EXPLAIN of a query is a query
        try:
            explained = con.extract_statements(_EXPLAIN.sub("", sql, count=1))
            kind = explained[0].type.name if len(explained) == 1 else kind
        except duckdb.Error:
            pass
    if kind in WRITES:
        raise SqlError("25006", f"cannot execute {kind} in a read-only transaction: "
                       "lakeml sql-server serves the store read-only",
                       hint="query the views (SELECT … FROM runs, metrics, params…)")
    if kind != "SELECT":
        raise SqlError("0A000", f"{kind} statements are not supported by lakeml sql-server: "
                       f"{text.strip()[:60]!r}", hint="run a query over the views")
    names = parsed[0].named_parameters
    if any(not n.isdigit() for n in names):
        raise SqlError("42601", f"parameters are written $1, $2…; got "
                       f"{sorted(names)} in {text.strip()[:60]!r}")
    return Plan("query", text, sql=sql, params=max((int(n) for n in names), default=0))
