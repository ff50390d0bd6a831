"""A page of the runs table, read from the Client's wide search table.

``Client.search_runs_table`` gives the matching runs as one Arrow table (a column per
metric, param and tag) in a few milliseconds a page, where building ``Run`` objects
(``search_runs``) costs about a millisecond a run. It has no offset, so a page at offset
``k`` asks for ``k + size + 1`` rows and keeps the last ones: the cost grows with the
depth of the page, which is why the window stops at :data:`MAX_WINDOW` runs (the page
then says ``truncated``; a filter narrows it). The page token is lakeml's own (an
offset bound to this search by a fingerprint), refused by any other search.

The filter and order keys go to the search as the user typed them: a bad filter comes
back as the search's own InvalidArgument, whose message points at the bad column with a
caret. A page carries only the columns the table shows, so a store with 10,000 keys
sends a page of the same size as one with ten; and once the columns are known the search
reads only those (``search_runs_table(columns=...)``: one top-k query over the run state
in memory, ~0.15 s of CPU a page at a million runs, whatever the sort or filter).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.search.paging import decode_page_token, encode_page_token

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.client import Client
    from lakeml.ui.args import Args

PAGE_SIZE = 200
DEFAULT_METRICS, DEFAULT_PARAMS = 5, 4
MAX_WINDOW = 50_000  # MLflow's own bound on one search's results
GROUPS = ("metrics", "params", "tags")
VIEWS = {"active": "ACTIVE_ONLY", "deleted": "DELETED_ONLY", "all": "ALL"}
RUN_NAME, USER = "tags.mlflow.runName", "tags.mlflow.user"
INFO = ("run_id", "experiment_id", "status", "start_time", "end_time")


def runs_page(client: Client, args: Args) -> dict[str, Any]:
    """A page of the runs table: the runs of ``experiment_id`` (repeatable) matching
    ``filter``, in ``order`` (repeatable, e.g. ``metrics.loss ASC``), with the cells of
    ``column`` (repeatable: ``metrics.x``, ``params.y``, ``tags.z``) only; with no
    ``column`` and ``default_columns`` set, a few metrics and params of the page's runs
    (``columns`` in the answer says which)."""
    ids = experiment_ids(args)
    columns = [column(c) for c in args.all("column")]
    flt, view, order = args.get("filter") or "", view_type(args), args.all("order")
    size = args.int("max_results", PAGE_SIZE, low=1, high=5000)
    fingerprint = json.dumps(["ui-runs", sorted(ids), flt, view, order])
    token = args.get("page_token")
    offset = decode_page_token(token, fingerprint) if token else 0
    if offset >= MAX_WINDOW:
        raise InvalidArgument(f"the runs table shows the first {MAX_WINDOW:,} matching runs; "
                              f"narrow the filter to see others (asked offset {offset:,})")
    want = min(offset + size, MAX_WINDOW)
    cells = [f"{g}.{k}" for g, k in columns]
    # with the columns known, the search reads only those cells (and the run name and
    # user); the table's default columns depend on the page's keys, so need them all
    shown = [*dict.fromkeys([RUN_NAME, USER, *cells])] if cells else None
    table = client.search_runs_table(ids, flt, run_view_type=view, max_results=want + 1,
                                     order_by=order or None, columns=shown)
    more = table.num_rows > want
    page = table.slice(offset, want - offset)
    if not cells and args.get("default_columns"):
        cells = default_columns(page)
    return {"runs": rows_of(page, cells), "columns": cells,
            "next_page_token": encode_page_token(want, fingerprint)
            if more and want < MAX_WINDOW else None,
            "truncated": more and want >= MAX_WINDOW}


def default_columns(page: pa.Table) -> list[str]:
    """The columns a table shows before the user chose: the first metrics and params
    (by name) that some run of the page has."""
    chosen: list[str] = []
    for group, count in (("metrics.", DEFAULT_METRICS), ("params.", DEFAULT_PARAMS)):
        names = sorted(n for n in page.column_names if n.startswith(group)
                       and page[n].null_count < page.num_rows)
        chosen += names[:count]
    return chosen


def rows_of(page: pa.Table, cells: list[str]) -> list[dict[str, Any]]:
    """The page's runs as JSON rows: info, run name, user, and ``cells`` (null where a
    run lacks the key; NaN and infinities as text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = set(page.column_names)
    out: dict[str, list[Any]] = {}
    for name in (*INFO, RUN_NAME, USER, *cells):
        if name not in names:
            out[name] = [None] * page.num_rows
            continue
        col = page[name]
        if pa.types.is_timestamp(col.type):
            col = pc.cast(pc.cast(col, pa.timestamp("ms", col.type.tz)), pa.int64())
        out[name] = col.to_pylist()
    rows = []
    for i in range(page.num_rows):
        row = {name: out[name][i] for name in INFO}
        row["run_name"], row["user_id"] = out[RUN_NAME][i], out[USER][i]
        row["cells"] = {c: number(out[c][i]) for c in cells}
        rows.append(row)
    return rows


def number(value: Any) -> Any:
    """A value for JSON, which has no NaN or infinity: those go as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def view_type(args: Args) -> str:
    """The ``view`` parameter (active, deleted or all) as a lakeml view type."""
    view = args.get("view") or "active"
    if view not in VIEWS:
        raise InvalidArgument(f"view must be active, deleted or all, got {view!r:.40}")
    return VIEWS[view]


def experiment_ids(args: Args) -> list[str]:
    """The repeated ``experiment_id`` parameter: at least one."""
    ids = args.all("experiment_id")
    if not ids:
        raise InvalidArgument("the request needs at least one experiment_id parameter")
    return ids


def column(name: str) -> tuple[str, str]:
    """``metrics.x`` -> (``metrics``, ``x``); InvalidArgument naming a bad column."""
    group, dot, key = name.partition(".")
    if group not in GROUPS or not dot or not key:
        raise InvalidArgument(f"column {name!r:.200} must be metrics.<key>, params.<key> "
                              f"or tags.<key>")
    return group, key
