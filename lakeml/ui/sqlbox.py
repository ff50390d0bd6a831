"""The UI API of the SQL box: one read-only query over the store's views.

The query runs in the Client's SQL sandbox (one SELECT-like statement, a database of
its own, no file or network access outside the store's tables); the page gets the
first :data:`MAX_ROWS` rows, values as JSON-safe text where JSON has no type for them;
``/sql-download`` gives the whole result (up to :data:`MAX_EXPORT` rows) as CSV or Parquet.
Both answer POST only (routes.py), and a query running longer than the ``ui_sql_timeout``
setting (LAKEML_UI_SQL_TIMEOUT, default 30 s) is interrupted: it runs under the server's
lock, so an endless one would stall every other request.
"""

from __future__ import annotations

import datetime
import decimal
import math
import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from lakeml import config
from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    import duckdb
    from starlette.responses import Response

    from lakeml.client import Client
    from lakeml.ui.args import Args

T = TypeVar("T")
MAX_ROWS = 1000
MAX_EXPORT = 1_000_000  # rows of a download
EXPORTS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def query(client: Client, args: Args) -> dict[str, Any]:
    """The columns and first rows of the query ``q``, and whether more rows were cut."""
    rel = client.sql(args.need("q"))
    columns = list(rel.columns)
    rows = _timed(rel, lambda: rel.limit(MAX_ROWS + 1).fetchall())
    return {"columns": columns, "rows": [[_cell(v) for v in r] for r in rows[:MAX_ROWS]],
            "truncated": len(rows) > MAX_ROWS}


def _timed(rel: duckdb.DuckDBPyRelation, fetch: Callable[[], T]) -> T:
    """``fetch()`` (which runs ``rel``'s query), interrupted by a watchdog thread once it
    has run ``ui_sql_timeout`` seconds; InvalidArgument naming the limit then."""
    import duckdb

    seconds = config.get("ui_sql_timeout")
    # the cursor the relation runs on (DuckDB's Python relation keeps it as _con): its
    # interrupt() stops this query only
    cursor = getattr(rel, "_con", None)
    if cursor is None or not hasattr(cursor, "interrupt"):
        raise RuntimeError(f"cannot bound the query's time: DuckDB {duckdb.__version__}'s "
                           f"relation has no cursor to interrupt")
    watchdog = threading.Timer(seconds, cursor.interrupt)
    watchdog.daemon = True
    watchdog.start()
    try:
        return fetch()
    except duckdb.InterruptException:
        raise InvalidArgument(f"the query ran longer than the SQL box's limit of {seconds:g} s "
                              f"and was stopped (setting ui_sql_timeout, "
                              f"LAKEML_UI_SQL_TIMEOUT)") from None
    finally:
        watchdog.cancel()


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def download(client: Client, args: Args) -> Response:
    """The result of ``q`` (its first :data:`MAX_EXPORT` rows) as a file: ``format`` csv
    (default) or parquet."""
    import io

    import pyarrow as pa
    from starlette.responses import Response

    kind = args.get("format") or "csv"
    if kind not in EXPORTS:
        raise InvalidArgument(f"format must be csv or parquet, got {kind!r:.40}")
    rel = client.sql(args.need("q"))
    table = _timed(rel, lambda: rel.limit(MAX_EXPORT).arrow())
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    buffer = io.BytesIO()
    if kind == "csv":
        import pyarrow.csv as csv

        csv.write_csv(table, buffer)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, buffer)
    return Response(buffer.getvalue(), media_type=EXPORTS[kind], headers={
        "Content-Disposition": f'attachment; filename="lakeml-query.{kind}"',
        "X-Content-Type-Options": "nosniff"})


ROUTES = {"/sql": query, "/sql-download": download}
