"""The sandbox that user SQL (``lakeml.sql``, ``lakeml sql``) runs in.

User SQL is a read API: it reads the store's tables and changes nothing. Two
guards make it so, each enough for what it covers:

* the statement: exactly one, and a query (``SELECT``, ``WITH``, ``FROM``,
  ``VALUES``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``: what DuckDB parses as a
  SELECT). ``CREATE``, ``COPY``, ``ATTACH``, ``SET``, ``INSTALL``, ``LOAD``,
  ``PRAGMA``, ``CALL``, ``EXPORT``… are refused before they run, so no call can
  change the views, settings or catalog that later calls see.
* the database: a DuckDB database of its own, apart from the one lakeml's
  searches use, with external access off except for the folders of the store's
  tables (``allowed_directories``), extensions neither installed nor loaded,
  and its configuration locked. A query can call ``read_csv``, ``read_text``
  or ``glob`` only on the tables' own files, and no query can reach the
  network or give any of that back with ``SET``.

Each call runs on a fresh cursor of that database.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from typing import TYPE_CHECKING, Iterable

from lakeml.arguments import utf8_text
from lakeml.errors import InvalidArgument
from lakeml.sqltext import sql_string

if TYPE_CHECKING:
    import duckdb

# What DuckDB calls the statements user SQL may run (DESCRIBE, SHOW, SUMMARIZE,
# VALUES and FROM-first queries parse as SELECT too).
READ_STATEMENTS = frozenset({"SELECT"})
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(ANALY[SZ]E\s+)?", re.IGNORECASE)


def lock_down(con: duckdb.DuckDBPyConnection, allowed_directories: Iterable[str]) -> None:
    """Limit the whole database of ``con`` to reading files under ``allowed_directories``
    (folders; each should end with a separator), with no extensions, and lock that.

    Settings made before (sqltext.configure) stay; none can be changed after.
    """
    listed = ", ".join(sql_string(d) for d in allowed_directories)
    # DuckDB allows its spill folder too (by default ./.tmp, which may hold anything):
    # one of its own, which DuckDB makes only when it spills and removes on close
    spill = os.path.join(tempfile.gettempdir(), f"lakeml-sql-{os.getpid()}-{uuid.uuid4().hex}")
    for statement in (f"SET temp_directory = {sql_string(spill)}",
                      f"SET allowed_directories = [{listed}]",
                      "SET autoinstall_known_extensions = false",
                      "SET autoload_known_extensions = false",
                      "SET allow_community_extensions = false",
                      "SET enable_external_access = false",
                      "SET lock_configuration = true"):
        con.execute(statement)


def check_read_only(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise InvalidArgument unless ``query`` is one read-only statement.

    The message names the refused statement and says what is allowed.
    """
    import duckdb

    if not isinstance(query, str):
        raise InvalidArgument(f"SQL must be a string, got {type(query).__name__}")
    utf8_text(query, "SQL")
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise InvalidArgument(f"SQL failed: {exc}\n  query: {query}") from exc
    if len(statements) != 1:
        what = "no statement" if not statements else f"{len(statements)} statements"
        raise InvalidArgument(f"lakeml.sql runs one query at a time; got {what}: {query!r}")
    kind = statements[0].type.name
    if kind == "EXPLAIN":  # EXPLAIN [ANALYZE] of a query is a query; of anything else, not
        try:
            explained = con.extract_statements(_EXPLAIN.sub("", query, count=1))
        except duckdb.Error:  # EXPLAIN (FORMAT …) and the like: judged as written
            explained = []
        kind = explained[0].type.name if len(explained) == 1 else kind
    if kind not in READ_STATEMENTS:
        raise InvalidArgument(
            f"lakeml.sql is read-only and refuses {kind} statements: {_head(query)!r}; "
            "run a query (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE) over the views")


def _head(query: str, size: int = 60) -> str:
    text = " ".join(query.split())
    return text if len(text) <= size else text[:size] + "…"
