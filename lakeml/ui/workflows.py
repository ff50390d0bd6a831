"""The UI API of workflows (lakeml/projects/workflow.py): the list of workflow runs, and
one run's steps as a DAG with each step's status, whether it was a cache hit (``reused``,
with the earlier run it reused) and its step run.

The steps and their lineage are the ``workflow_steps`` and ``workflow_lineage`` tables;
an edge is an input that names its upstream step. (A step ordered only by ``after``,
with no data between them, leaves no row that says so: it shows without that edge.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.errors import NotFound
from lakeml.query.sqlfiles import query

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.ui.args import Args

MAX_WORKFLOW_RUNS = 200


def workflow_runs(client: Client, args: Args) -> dict[str, Any]:
    """The latest workflow runs, newest first: workflow name, experiment, status, steps
    and cache hits."""
    if not _has_tables(client):
        return {"workflow_runs": []}
    rel = client.sql(query("ui_workflow_runs"), {"max_results": args.int(
        "max_results", MAX_WORKFLOW_RUNS, low=1, high=10_000)})
    return {"workflow_runs": [dict(zip(rel.columns, row)) for row in rel.fetchall()]}


def workflow_run(client: Client, args: Args) -> dict[str, Any]:
    """Workflow run ``run_id``: its parent run's info and each step (latest attempt) with
    the steps it takes inputs from (``after``)."""
    run_id = args.need("run_id")
    rel = client.sql(query("ui_workflow_steps"), {"workflow_run_id": run_id}
                     ) if _has_tables(client) else None
    steps = [dict(zip(rel.columns, row)) for row in rel.fetchall()] if rel is not None else []
    if not steps:
        raise NotFound(f"no workflow run with id {run_id!r} (no step of it is recorded)")
    parent = client.get_run(run_id).info
    return {"run_id": run_id, "workflow": steps[0]["workflow"], "run_name": parent.run_name,
            "status": parent.status, "experiment_id": parent.experiment_id,
            "steps": [{k: v for k, v in s.items() if k != "workflow"} for s in steps]}


def _has_tables(client: Client) -> bool:
    """Whether the store has workflow tables (a store that never ran one may not)."""
    try:
        client.sql("SELECT 1 FROM workflow_steps LIMIT 0").fetchall()
    except Exception:  # noqa: BLE001 - a missing table is a catalog error of the engine
        return False
    return True


ROUTES = {"/workflows": workflow_runs, "/workflow": workflow_run}
