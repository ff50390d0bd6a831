"""The UI API of the comparison of runs: 2 to 1,000 runs side by side.

The runs come from one wide search (``attributes.run_id IN (...)`` over every
experiment), not one ``get_run`` each: a thousand runs cost about what one page of the
runs table does. Each param and metric is a row holding every run's value, marked
``differs`` when they are not all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument, NotFound
from lakeml.ui.runs_table import number, rows_of
from lakeml.validation import check_id

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_COMPARE = 1000


def compare(client: Client, args: Args) -> dict[str, Any]:
    """Runs ``run_id`` (repeated, 2 to 1,000) side by side: their info, and a row per
    param and per latest metric with each run's value."""
    ids = list(dict.fromkeys(check_id(r, "run_id") for r in args.all("run_id")))
    if not 2 <= len(ids) <= MAX_COMPARE:
        raise InvalidArgument(f"compare needs 2 to {MAX_COMPARE} different run_id "
                              f"parameters, got {len(ids)}")
    experiments, token = [], None
    while True:
        page = client.search_experiments(view_type="ALL", max_results=1000, page_token=token)
        experiments += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    # the ids as the grammar's quoted strings (a quote doubled): values, never syntax
    quoted = ("'" + i.replace("'", "''") + "'" for i in ids)
    wanted = "attributes.run_id IN (" + ", ".join(quoted) + ")"
    table = client.search_runs_table(experiments, wanted, run_view_type="ALL",
                                     max_results=len(ids))
    found = {r: i for i, r in enumerate(table["run_id"].to_pylist())}
    missing = [r for r in ids if r not in found]
    if missing:
        raise NotFound(f"no run with id {missing[0]!r}"
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    table = table.take([found[r] for r in ids])
    out: dict[str, Any] = {"runs": rows_of(table, [])}
    for group in ("params", "metrics"):
        rows = []
        for name in sorted(n for n in table.column_names if n.startswith(group + ".")):
            values = [number(v) for v in table[name].to_pylist()]
            if all(v is None for v in values):
                continue
            rows.append({"key": name[len(group) + 1:], "values": values,
                         "differs": len({repr(v) for v in values}) > 1})
        out[group] = rows
    return out


ROUTES = {"/compare": compare}
