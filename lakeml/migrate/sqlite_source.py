"""Reading an MLflow sqlite database (``sqlite:///mlflow.db``): the queries of
``sql_source`` over sqlite3, read-only, with Arrow straight from sqlite's C API
through ADBC's sqlite driver when it is installed (~10x faster than sqlite3).

A batch of runs is read as the id range it spans (an index range scan, two
bound parameters however many runs), less the rows of other runs: a first
import asks for runs that are next to each other, so nothing is filtered out.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from lakeml.errors import InvalidArgument, NotFound
from lakeml.migrate.sql_source import SqlSource, rows_to_arrow

# Pages read through a memory map rather than a pread() each: ~20% less wall time to
# read 10 M metric rows (benchmarks/bench_import.py). Read-only, so nothing is written
# through it; SQLite caps it at its compiled limit (2 GiB by default).
_MMAP = "PRAGMA mmap_size = 2147418112"


def sqlite_path(uri: str) -> str:
    """The file of ``sqlite:///relative`` or ``sqlite:////absolute``."""
    rest = uri.split("://", 1)[1]
    if not rest.startswith("/"):
        raise InvalidArgument(f"{uri!r} is not a sqlite URI: write sqlite:///path/mlflow.db")
    path = rest[1:] or rest
    return path.split("?", 1)[0]


class SqliteSource(SqlSource):
    """An MLflow sqlite database, read-only."""

    _total = "total({})"  # (as before the other databases came: fingerprints stay the same)

    def __init__(self, uri: str) -> None:
        path = os.path.abspath(sqlite_path(uri))
        self.uri = f"sqlite:///{path}"  # one name per database, wherever it is given from
        if not os.path.isfile(path):
            raise NotFound(f"no MLflow database at {path!r} (from {uri!r})")
        self._con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._con.execute(_MMAP)
        tables = {r[0] for r in self._con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"experiments", "runs"} <= tables:
            raise InvalidArgument(f"{path!r} is not an MLflow database: it has no experiments "
                                  "and runs tables")
        self._tables = tables
        self._path = path
        self._adbc: Any = None  # an ADBC connection once used; False: the driver is missing

    def close(self) -> None:
        self._con.close()
        if self._adbc:
            self._adbc.close()

    def _rows(self, sql: str, params: Any = (), *, table: str | None = None) -> list[tuple]:
        if table is not None and table not in self._tables:
            return []
        return self._con.execute(sql, params).fetchall()

    def _select_runs(self, column: str, wanted: list[str]) -> tuple[str, list[Any], bool]:
        span = [wanted[0], wanted[-1]]
        (in_span,), = self._rows("SELECT count(*) FROM runs WHERE run_uuid BETWEEN ? AND ?",
                                 span)
        return f"{column} BETWEEN ? AND ?", span, in_span != len(wanted)

    def _arrow(self, sql: str, params: list[Any]) -> Any:
        if self._adbc is None:
            try:
                import adbc_driver_sqlite.dbapi as adbc

                self._adbc = adbc.connect(f"file:{self._path}?mode=ro")
                cur = self._adbc.cursor()
                cur.execute(_MMAP)
                cur.fetchall()
                cur.close()
            except ImportError:
                self._adbc = False
        if self._adbc:
            cur = self._adbc.cursor()
            try:
                cur.execute(sql, params)
                return cur.fetch_arrow_table()
            finally:
                cur.close()
        cur = self._con.execute(sql, params)
        return rows_to_arrow([d[0] for d in cur.description], cur.fetchall())
