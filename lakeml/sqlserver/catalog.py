"""What PostgreSQL clients ask of the catalog, answered over DuckDB's.

DuckDB has ``pg_catalog`` and ``information_schema`` built in; BI tools, psql and
the JDBC driver need a little more. Three pieces fill the gaps:

* a schema ``lakeml_pg`` in the server's database, first on every cursor's
  search path, holding what DuckDB lacks (``version()`` saying PostgreSQL,
  ``pg_get_userbyid``, ``pg_get_viewdef``…) and ``pg_class`` / ``pg_namespace``
  without the server's own plumbing (the empty tables the ``lake_*`` views start
  from, and ``lakeml_pg`` itself);
* :func:`rewrite`: PostgreSQL spellings DuckDB does not parse
  (``OPERATOR(pg_catalog.~)``, ``COLLATE pg_catalog.default``, ``pg_catalog.``
  qualified names, which must find ``lakeml_pg``'s objects first), and psql's
  ``\\dt``, which lists views too: lakeml's tables are views over Delta tables;
* :class:`Settings`: SET, SHOW and RESET of the run-time parameters clients
  touch, answered per connection without changing DuckDB (whose configuration
  is locked).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lakeml.sqlserver import pgtypes
from lakeml.sqltext import sql_string
from lakeml.version import __version__

if TYPE_CHECKING:
    import duckdb

SCHEMA = "lakeml_pg"
CACHE = "lakeml_cache"  # the folded views the server keeps (lakeml.sqlserver.server)
SERVER_VERSION = "16.0"
SEARCH_PATH = f"SET search_path = '{CACHE},main,{SCHEMA}'"


def version_text() -> str:
    import duckdb

    return (f"PostgreSQL {SERVER_VERSION} (lakeml {__version__} sql-server over "
            f"DuckDB {duckdb.__version__})")


def install(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ``lakeml_pg`` schema in the database of ``con`` (after the views)."""
    _objects(con)
    _types(con)


def _objects(con: duckdb.DuckDBPyConnection) -> None:
    """The schema, the functions DuckDB lacks, and the plumbing-free catalog views."""
    hidden = f"(relname LIKE 'empty\\_%' ESCAPE '\\' OR relnamespace IN " \
             f"(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ('{SCHEMA}', " \
             f"'{CACHE}')))"
    settings = " ".join(f"WHEN {sql_string(k)} THEN {sql_string(v)}"
                        for k, v in {**DEFAULTS, "default_table_access_method": "heap"}.items())
    for statement in (
        f"CREATE SCHEMA {SCHEMA}",
        f"CREATE MACRO {SCHEMA}.current_setting(name) AS CASE lower(name) {settings} END, "
        f"(name, missing_ok) AS CASE lower(name) {settings} END",
        f"CREATE TYPE {SCHEMA}.regtype AS VARCHAR",
        f"CREATE TYPE {SCHEMA}.regclass AS VARCHAR",
        f"CREATE TYPE {SCHEMA}.regproc AS VARCHAR",
        f"CREATE TYPE {SCHEMA}.oid AS BIGINT",
        f"CREATE TYPE {SCHEMA}.name AS VARCHAR",
        f"CREATE MACRO {SCHEMA}.version() AS {sql_string(version_text())}",
        f"CREATE MACRO {SCHEMA}.pg_get_userbyid(id) AS 'lakeml'",
        f"CREATE MACRO {SCHEMA}.current_schema() AS 'main'",
        f"CREATE MACRO {SCHEMA}.current_schemas(implicit) AS CASE WHEN implicit "
        "THEN ['pg_catalog', 'main'] ELSE ['main'] END",
        f"CREATE MACRO {SCHEMA}.pg_encoding_to_char(id) AS 'UTF8'",
        f"CREATE MACRO {SCHEMA}.pg_get_viewdef(id) AS (SELECT sql FROM duckdb_views() "
        "WHERE view_oid = id), (id, pretty) AS (SELECT sql FROM duckdb_views() "
        "WHERE view_oid = id)",
        f"CREATE MACRO {SCHEMA}.pg_get_expr(expr, rel) AS NULL, (expr, rel, pretty) AS NULL",
        f"CREATE MACRO {SCHEMA}.to_regtype(name) AS (SELECT max(oid) FROM pg_catalog.pg_type "
        "WHERE typname = name)",
        f"CREATE MACRO {SCHEMA}.to_regclass(name) AS (SELECT max(oid) FROM "
        "pg_catalog.pg_class WHERE relname = name)",
        f"CREATE MACRO {SCHEMA}.pg_get_serial_sequence(tab, col) AS NULL::VARCHAR",
        f"CREATE MACRO {SCHEMA}.pg_collation_is_visible(id) AS true",
        f"CREATE MACRO {SCHEMA}.pg_get_indexdef(id) AS NULL::VARCHAR, "
        "(id, col, pretty) AS NULL::VARCHAR",
        f"CREATE MACRO {SCHEMA}.pg_get_constraintdef(id) AS NULL::VARCHAR, "
        "(id, pretty) AS NULL::VARCHAR",
        f"CREATE MACRO {SCHEMA}.pg_table_is_visible(id) AS true",
        # views over Delta tables hold no storage of their own (\dt+, \dv+, BI tools)
        f"CREATE MACRO {SCHEMA}.pg_table_size(id) AS 0::BIGINT",
        f"CREATE MACRO {SCHEMA}.pg_relation_size(id) AS 0::BIGINT, (id, fork) AS 0::BIGINT",
        f"CREATE MACRO {SCHEMA}.pg_total_relation_size(id) AS 0::BIGINT",
        f"CREATE MACRO {SCHEMA}.pg_indexes_size(id) AS 0::BIGINT",
        f"CREATE MACRO {SCHEMA}.pg_type_is_visible(id) AS true",
        f"CREATE MACRO {SCHEMA}.pg_backend_pid() AS 0",
        f"CREATE MACRO {SCHEMA}.pg_postmaster_start_time() AS TIMESTAMPTZ '2000-01-01'",
        f"CREATE MACRO {SCHEMA}.obj_description(id) AS NULL, (id, catalog) AS NULL",
        f"CREATE MACRO {SCHEMA}.col_description(id, n) AS NULL",
        f"CREATE MACRO {SCHEMA}.shobj_description(id, catalog) AS NULL",
        f"CREATE MACRO {SCHEMA}.quote_ident(name) AS "
        "CASE WHEN regexp_matches(name, '^[a-z_][a-z0-9_$]*$') THEN name "
        "ELSE '\"' || replace(name, '\"', '\"\"') || '\"' END",
        # reloptions typed as a list (DuckDB's is a bare NULL): psql's \d+ unnests it;
        # a view has no access method (psql's \dt+ would say DuckDB's index's, art)
        f"CREATE VIEW {SCHEMA}.pg_class AS SELECT * REPLACE (NULL::VARCHAR[] AS reloptions, "
        "CASE WHEN relkind = 'v' THEN NULL ELSE relam END AS relam), "
        f"false AS relforcerowsecurity FROM pg_catalog.pg_class WHERE NOT {hidden}",
        f"CREATE VIEW {SCHEMA}.pg_collation AS SELECT oid, collname, NULL::BIGINT AS "
        "collnamespace, NULL::BIGINT AS collowner, 'c' AS collprovider, -1 AS collencoding, "
        "collname AS collcollate, collname AS collctype FROM pg_catalog.pg_collation",
        f"CREATE VIEW {SCHEMA}.pg_index AS SELECT *, false AS indnullsnotdistinct "
        "FROM pg_catalog.pg_index",
        f"CREATE TABLE {SCHEMA}.pg_opclass (oid BIGINT, opcmethod BIGINT, opcname VARCHAR, "
        "opcnamespace BIGINT, opcowner BIGINT, opcfamily BIGINT, opcintype BIGINT, "
        "opcdefault BOOLEAN, opckeytype BIGINT)",
        f"CREATE TABLE {SCHEMA}.pg_inherits (inhrelid BIGINT, inhparent BIGINT, "
        "inhseqno INTEGER, inhdetachpending BOOLEAN)",
        f"CREATE VIEW {SCHEMA}.pg_database AS SELECT oid, 'lakeml' AS datname, datallowconn, "
        "datistemplate, 10 AS datdba, 6 AS encoding, 'c' AS datlocprovider, "
        "'C' AS datcollate, 'C' AS datctype, NULL::VARCHAR AS daticulocale, "
        "NULL::VARCHAR AS daticurules, NULL::VARCHAR[] AS datacl, -1 AS datconnlimit "
        "FROM pg_catalog.pg_database WHERE datname = 'memory'",
        f"CREATE VIEW {SCHEMA}.pg_namespace AS SELECT * FROM pg_catalog.pg_namespace "
        f"WHERE nspname NOT IN ('{SCHEMA}', '{CACHE}')",
    ):
        con.execute(statement)


def _types(con: duckdb.DuckDBPyConnection) -> None:
    """``pg_type`` with every type the server sends, ``pg_attribute`` whose column types
    are the OIDs results carry (DuckDB's own say 'list', 'map'…), and ``format_type``
    with PostgreSQL's names (SQLAlchemy and JDBC map columns by them)."""
    namespace = con.execute("SELECT max(typnamespace) FROM pg_catalog.pg_type "
                            "WHERE oid = 20").fetchone()[0]
    rows = [(oid, name, pgtypes.SIZES.get(oid, -1), 0, "", "", f"{name}in")
            for oid, name in pgtypes.NAMES.items()]
    rows += [(array, "_" + pgtypes.NAMES.get(element, "text"), -1, element, "", "A",
              "array_in") for element, array in pgtypes.ARRAY_OF.items()]
    rows = [(oid, name, size, elem, pgtypes.ARRAY_OF.get(oid, 0), cat, inp)
            for oid, name, size, elem, _, cat, inp in rows]
    con.execute(f"CREATE TABLE {SCHEMA}.extra_types (oid BIGINT, typname VARCHAR, "
                "typlen BIGINT, typelem BIGINT, typarray BIGINT, typcategory VARCHAR, "
                "typinput VARCHAR)")
    con.executemany(f"INSERT INTO {SCHEMA}.extra_types VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute(
        f"CREATE VIEW {SCHEMA}.pg_type AS SELECT * FROM pg_catalog.pg_type WHERE oid NOT IN "
        f"(SELECT oid FROM {SCHEMA}.extra_types) UNION ALL BY NAME SELECT oid, typname, "
        f"{namespace}::BIGINT AS typnamespace, 10 AS typowner, typlen, typlen > 0 AS typbyval,"
        " 'b' AS typtype, CASE typcategory WHEN '' THEN 'U' ELSE typcategory END AS "
        "typcategory, false AS typispreferred, true AS typisdefined, ',' AS typdelim, "
        "0 AS typrelid, typelem, typarray, typinput, 0 AS typbasetype, -1 AS typtypmod, "
        f"false AS typnotnull, 0 AS typcollation FROM {SCHEMA}.extra_types")
    columns = []
    for (view,) in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = "
                               "'main' AND NOT internal").fetchall():
        types = con.sql(f'SELECT * FROM "{view}" LIMIT 0').types
        columns += [(view, i + 1, pgtypes.oid_of(t)) for i, t in enumerate(types)]
    con.execute(f"CREATE TABLE {SCHEMA}.column_types (relname VARCHAR, attnum INTEGER, "
                "atttypid BIGINT)")
    con.executemany(f"INSERT INTO {SCHEMA}.column_types VALUES (?, ?, ?)", columns)
    # attstorage as PostgreSQL's: p(lain) for fixed-size types, x (extended) for the others
    con.execute(
        f"CREATE VIEW {SCHEMA}.pg_attribute AS SELECT a.* REPLACE "
        "(coalesce(t.atttypid, a.atttypid) AS atttypid, CASE WHEN (SELECT max(typlen) FROM "
        f"{SCHEMA}.pg_type y WHERE y.oid = coalesce(t.atttypid, a.atttypid)) > 0 THEN 'p' "
        "ELSE 'x' END AS attstorage) FROM pg_catalog.pg_attribute a "
        "LEFT JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
        f"LEFT JOIN {SCHEMA}.column_types t ON t.relname = c.relname AND t.attnum = a.attnum")
    names = {**_SQL_NAMES, **{array: _SQL_NAMES.get(element, pgtypes.NAMES[element]) + "[]"
                              for element, array in pgtypes.ARRAY_OF.items()}}
    cases = " ".join(f"WHEN {oid} THEN {sql_string(name)}" for oid, name in names.items())
    con.execute(f"CREATE MACRO {SCHEMA}.format_type(id, typmod) AS CASE WHEN id = 1700 "
                f"THEN pg_catalog.format_type(id, typmod) ELSE CASE id {cases} ELSE "
                "pg_catalog.format_type(id, typmod) END END")


# PostgreSQL's format_type names (SQL-standard spellings)
_SQL_NAMES = {
    pgtypes.BOOL: "boolean", pgtypes.BYTEA: "bytea", pgtypes.INT8: "bigint",
    pgtypes.INT2: "smallint", pgtypes.INT4: "integer", pgtypes.TEXT: "text",
    pgtypes.JSON: "json", pgtypes.FLOAT4: "real", pgtypes.FLOAT8: "double precision",
    pgtypes.VARCHAR: "character varying", pgtypes.DATE: "date",
    pgtypes.TIME: "time without time zone", pgtypes.TIMESTAMP: "timestamp without time zone",
    pgtypes.TIMESTAMPTZ: "timestamp with time zone", pgtypes.INTERVAL: "interval",
    pgtypes.NUMERIC: "numeric", pgtypes.UUID: "uuid",
}


# ---- rewriting -----------------------------------------------------------------------

_OPERATOR = re.compile(r"OPERATOR\s*\(\s*pg_catalog\s*\.\s*([^\s)]+)\s*\)", re.IGNORECASE)
_COLLATE = re.compile(r"\s+COLLATE\s+(pg_catalog\s*\.\s*)?(\"default\"|default|\"C\")",
                      re.IGNORECASE)
_QUALIFIED = re.compile(r"\bpg_catalog\s*\.\s*(?=[A-Za-z_\"])", re.IGNORECASE)
_PSQL_DT = re.compile(r"c\.relkind IN \('r','p',''\)")
_REGCLASS = re.compile(r"'([^']*)'\s*::\s*(?:pg_catalog\s*\.\s*)?regclass", re.IGNORECASE)
_RENAMED = re.compile(r"\bjsonb?_build_object\s*\(", re.IGNORECASE)
_STRINGS = re.compile(r"('(?:[^']|'')*')")


def rewrite(sql: str) -> str:
    """``sql`` with the PostgreSQL-only spellings above turned into DuckDB's.

    Example:
        >>> rewrite("SELECT 1 FROM pg_catalog.pg_class c WHERE c.relname "
        ...         "OPERATOR(pg_catalog.~) '^(runs)$' COLLATE pg_catalog.default")
        "SELECT 1 FROM pg_class c WHERE c.relname ~ '^(runs)$'"
    """
    if not re.search(r"pg_catalog|collate|_build_object|regclass", sql, re.IGNORECASE):
        return sql
    sql = _PSQL_DT.sub("c.relkind IN ('r','p','v','')", sql)
    sql = _REGCLASS.sub(lambda found: "(SELECT max(oid) FROM pg_catalog.pg_class WHERE relname "
                        f"= {sql_string(found.group(1).split('.')[-1])})", sql)
    pieces = _STRINGS.split(sql)
    for i in range(0, len(pieces), 2):  # outside string literals only
        piece = _OPERATOR.sub(r"\1", pieces[i])
        piece = _COLLATE.sub("", piece)
        piece = _RENAMED.sub("json_object(", piece)
        pieces[i] = _QUALIFIED.sub("", piece)
    return "".join(pieces)


# ---- run-time parameters -------------------------------------------------------------

DEFAULTS = {
    "server_version": SERVER_VERSION, "server_version_num": "160000",
    "server_encoding": "UTF8", "client_encoding": "UTF8", "datestyle": "ISO, MDY",
    "intervalstyle": "postgres", "timezone": "UTC", "integer_datetimes": "on",
    "standard_conforming_strings": "on", "is_superuser": "off",
    "default_transaction_read_only": "on", "transaction_read_only": "on",
    "transaction_isolation": "read committed",
    "default_transaction_isolation": "read committed", "extra_float_digits": "1",
    "application_name": "", "search_path": "main", "max_identifier_length": "63",
    "lc_collate": "C", "lc_ctype": "C", "bytea_output": "hex", "statement_timeout": "0",
    "lock_timeout": "0", "idle_in_transaction_session_timeout": "0", "max_index_keys": "32",
    "block_size": "8192", "client_min_messages": "notice", "jit": "off",
    "default_with_oids": "off", "geqo": "on", "work_mem": "4MB", "search_path_": "",
}
# reported to the client at start-up and when changed (PostgreSQL's GUC_REPORT ones)
REPORTED = ("server_version", "server_encoding", "client_encoding", "datestyle",
            "intervalstyle", "timezone", "integer_datetimes", "standard_conforming_strings",
            "is_superuser", "application_name", "default_transaction_read_only")
DISPLAY = {"datestyle": "DateStyle", "intervalstyle": "IntervalStyle", "timezone": "TimeZone"}
# what SET may change: accepted and remembered, with no effect on results (times are UTC
# instants and floats are sent in full either way)
SETTABLE = frozenset({
    "application_name", "extra_float_digits", "datestyle", "client_encoding", "timezone",
    "search_path", "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
    "client_min_messages", "intervalstyle", "bytea_output", "jit", "geqo", "work_mem",
    "default_transaction_isolation", "transaction_isolation", "standard_conforming_strings",
    "session_characteristics", "default_transaction_read_only", "transaction_read_only",
    "join_collapse_limit", "from_collapse_limit", "enable_seqscan", "max_parallel_workers",
    "max_parallel_workers_per_gather", "row_security",
})


class SettingRefused(Exception):
    """A SET of a parameter this server does not let clients change."""


class Settings:
    """One connection's run-time parameters."""

    def __init__(self, startup: dict[str, str]) -> None:
        self.values = dict(DEFAULTS)
        self.values.pop("search_path_")
        for name, value in startup.items():
            if name.lower() in SETTABLE and name.lower() != "client_encoding":
                self.values[name.lower()] = value

    def show(self, name: str) -> str:
        key = name.lower()
        if key not in self.values:
            raise KeyError(f'unrecognized configuration parameter "{name}"')
        return self.values[key]

    def set(self, name: str, value: str) -> str | None:
        """Change a parameter; returns its display name if clients hear of the change."""
        key = name.lower()
        if key not in SETTABLE:
            raise SettingRefused(f'parameter "{name}" cannot be changed: lakeml sql-server '
                                 "runs read-only with a fixed configuration")
        if key == "client_encoding" and value.upper().replace("-", "") not in ("UTF8",
                                                                                "UNICODE"):
            raise SettingRefused(f"client_encoding {value!r} is not supported; use UTF8")
        if key == "client_encoding":
            value = "UTF8"
        self.values[key] = value or DEFAULTS.get(key, "")
        return DISPLAY.get(key, key) if key in REPORTED else None

    def reset(self, name: str) -> None:
        if name.upper() == "ALL":
            self.values.update({k: v for k, v in DEFAULTS.items() if k in self.values})
        elif name.lower() in DEFAULTS:
            self.values[name.lower()] = DEFAULTS[name.lower()]

    def reported(self) -> list[tuple[str, str]]:
        return [(DISPLAY.get(k, k), self.values[k]) for k in REPORTED]
