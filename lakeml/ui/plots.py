"""The UI API of the scatter and parallel-coordinates plots: for a set of runs (an
experiment's runs matching a filter, or runs picked for comparison), the values of some
params and of one metric per run.

One wide search (``Client.search_runs_table``) reads them all, at most
:data:`MAX_RUNS` runs; the page draws the plots itself (static/js/plots.js). With no
``param`` asked, the first :data:`DEFAULT_PARAMS` params (by name) that some run has are
sent, and the names of all of them, for the page's chooser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument, NotFound
from lakeml.ui.runs_table import rows_of, view_type
from lakeml.validation import check_id

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_RUNS = 5000
DEFAULT_PARAMS = 6
MAX_PARAMS = 30


def points(client: Client, args: Args) -> dict[str, Any]:
    """Per run: its params ``param`` (repeated), its param ``x`` (the scatter's x axis;
    default: the first of them) and the latest value of ``metric``; the runs are either
    ``run_id`` (repeated) or those of ``experiment_id`` (repeated) matching ``filter``."""
    table = _runs(client, args)
    truncated = table.num_rows > MAX_RUNS  # _runs asks for one more, to tell
    table = table.slice(0, MAX_RUNS)
    params = sorted(n[len("params."):] for n in table.column_names
                    if n.startswith("params.") and table[n].null_count < table.num_rows)
    metrics = sorted(n[len("metrics."):] for n in table.column_names
                     if n.startswith("metrics.") and table[n].null_count < table.num_rows)
    chosen = args.all("param") or params[:DEFAULT_PARAMS]
    if len(chosen) > MAX_PARAMS:
        raise InvalidArgument(f"at most {MAX_PARAMS} param parameters, got {len(chosen)}")
    metric = args.get("metric") or (metrics[0] if metrics else None)
    x = args.get("x") or (chosen[0] if chosen else None)
    cells = list(dict.fromkeys([f"params.{p}" for p in chosen] + ([f"params.{x}"] if x else [])
                               + ([f"metrics.{metric}"] if metric else [])))
    rows = rows_of(table, cells)
    return {"params": params, "metrics": metrics, "chosen_params": chosen, "metric": metric,
            "x": x,
            "truncated": truncated,
            "runs": [{"run_id": r["run_id"], "run_name": r["run_name"],
                      "params": [r["cells"][f"params.{p}"] for p in chosen],
                      "x": r["cells"][f"params.{x}"] if x else None,
                      "metric": r["cells"].get(f"metrics.{metric}") if metric else None}
                     for r in rows]}


def _runs(client: Client, args: Args) -> pa.Table:
    ids = list(dict.fromkeys(check_id(r, "run_id") for r in args.all("run_id")))
    experiments = args.all("experiment_id")
    if bool(ids) == bool(experiments):
        raise InvalidArgument("points needs either run_id or experiment_id parameters "
                              "(one kind, at least one)")
    if experiments:
        return client.search_runs_table(experiments, args.get("filter") or "",
                                        run_view_type=view_type(args),
                                        max_results=MAX_RUNS + 1)
    if len(ids) > MAX_RUNS:
        raise InvalidArgument(f"at most {MAX_RUNS} run_id parameters, got {len(ids)}")
    everywhere, token = [], None
    while True:
        page = client.search_experiments(view_type="ALL", max_results=1000, page_token=token)
        everywhere += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    # the ids as the grammar's quoted strings (a quote doubled): values, never syntax
    wanted = "attributes.run_id IN (" + ", ".join(
        "'" + i.replace("'", "''") + "'" for i in ids) + ")"
    table = client.search_runs_table(everywhere, wanted, run_view_type="ALL",
                                     max_results=len(ids))
    if table.num_rows < len(ids):
        found = set(table["run_id"].to_pylist())
        missing = [r for r in ids if r not in found]
        raise NotFound(f"no run with id {missing[0]!r}")
    return table


ROUTES = {"/points": points}
