"""The UI API of the SQL box: one read-only query over the store's views.

The query runs in the Client's SQL sandbox (one SELECT-like statement, a database of
its own, no file or network access outside the store's tables); the page gets the
first :data:`MAX_ROWS` rows, values as JSON-safe text where JSON has no type for them.
"""

from __future__ import annotations

import datetime
import decimal
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_ROWS = 1000


def query(client: Client, args: Args) -> dict[str, Any]:
    """The columns and first rows of the query ``q``, and whether more rows were cut."""
    rel = client.sql(args.need("q"))
    columns = list(rel.columns)
    rows = rel.limit(MAX_ROWS + 1).fetchall()
    return {"columns": columns, "rows": [[_cell(v) for v in r] for r in rows[:MAX_ROWS]],
            "truncated": len(rows) > MAX_ROWS}


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


ROUTES = {"/sql": query}
