"""The UI API of the runs table's group-by: the matching runs grouped by one param or tag,
with the count, mean, minimum and maximum of chosen metrics per group.

It takes the same experiments, filter and view as the table (one wide search, so the
filter grammar and its errors are the search's own) and groups the first
:data:`~lakeml.ui.runs_table.MAX_WINDOW` matching runs in Arrow; ``truncated`` says when
more runs matched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.ui.runs_table import MAX_WINDOW, column, experiment_ids, number, view_type

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args

STATS = ("mean", "min", "max")


def groups(client: Client, args: Args) -> dict[str, Any]:
    """Runs of ``experiment_id`` matching ``filter``, grouped by ``by`` (``params.x`` or
    ``tags.y``): per value, its run count and each ``metric``'s count, mean, min, max."""
    by = args.need("by")
    if column(by)[0] == "metrics":
        raise InvalidArgument(f"group by a param or a tag, not the metric {by!r:.200}")
    metrics = [m for m in args.all("metric") if column(m)[0] == "metrics"]
    table = client.search_runs_table(experiment_ids(args), args.get("filter") or "",
                                     run_view_type=view_type(args),
                                     max_results=MAX_WINDOW + 1)
    truncated = table.num_rows > MAX_WINDOW
    table = table.slice(0, MAX_WINDOW)
    import pyarrow as pa

    if by not in table.column_names:
        table = table.append_column(by, pa.nulls(table.num_rows, pa.string()))
    present = [m for m in metrics if m in table.column_names]
    aggregates = [(m, s) for m in present for s in (*STATS, "count")]
    grouped = table.group_by(by).aggregate([*aggregates, ([], "count_all")])
    rows = []
    for row in grouped.to_pylist():
        rows.append({"value": row[by], "runs": row["count_all"], "metrics": {
            m: {"count": row[f"{m}_count"], **{s: number(row[f"{m}_{s}"]) for s in STATS}}
            for m in present}})
    rows.sort(key=lambda r: (-r["runs"], str(r["value"])))
    return {"by": by, "metrics": present, "groups": rows, "truncated": truncated}


ROUTES = {"/groups": groups}
