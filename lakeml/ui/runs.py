"""The UI API of experiments and runs: the experiments list, one experiment, the keys
for the runs table's column chooser, and one run (the runs table's pages are in
runs_table.py, the comparison in compare.py).

Whole-store aggregates (run counts, keys) are SQL files in sql/queries/ run through the
Client's read-only SQL, and kept until their tables change (cache.py).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lakeml.errors import NotFound
from lakeml.query.sqlfiles import query
from lakeml.system_tags import PARENT_RUN_ID
from lakeml.ui.cache import cached
from lakeml.ui.runs_table import experiment_ids, rows_of, runs_page, view_type

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.entities import Run
    from lakeml.ui.args import Args

MAX_KEYS = 20_000  # of each kind, for the column chooser
MAX_RUN_KEYS = 1000  # of each kind, on a run's page


def experiments(client: Client, args: Args) -> dict[str, Any]:
    """Experiments (``view``: active, deleted or all) whose name holds ``q`` (any case),
    with their count of active runs and the time of their last activity (ms)."""
    view = view_type(args)
    q = (args.get("q") or "").lower()
    found, token = [], None
    while True:
        page = client.search_experiments(view_type=view, max_results=1000, page_token=token)
        found += [e for e in page if q in e.name.lower()]
        token = page.token
        if not token:
            break
    counts = cached(client, "run counts", ("runs",), lambda: {
        eid: (n, last) for eid, n, last in client.sql(query("ui_run_counts")).fetchall()})
    rows = []
    for e in found:
        n, last = counts.get(e.experiment_id, (0, None))
        rows.append({"experiment_id": e.experiment_id, "name": e.name,
                     "lifecycle_stage": e.lifecycle_stage, "runs": n,
                     "creation_time": e.creation_time,
                     "last_activity": max(x for x in (last, e.last_update_time,
                                                      e.creation_time) if x is not None),
                     "tags": e.tags})
    rows.sort(key=lambda r: -r["last_activity"])
    return {"experiments": rows}


def experiment(client: Client, args: Args) -> dict[str, Any]:
    """One experiment: id, name, lifecycle stage, times and tags."""
    e = client.get_experiment(args.need("experiment_id"))
    return {"experiment_id": e.experiment_id, "name": e.name,
            "lifecycle_stage": e.lifecycle_stage, "creation_time": e.creation_time,
            "last_update_time": e.last_update_time, "tags": e.tags}


def keys(client: Client, args: Args) -> dict[str, Any]:
    """Every metric, param and tag key logged in the experiments' runs, for the column
    chooser, with how many rows hold each, most common first
    (sql/queries/ui_experiment_keys.sql); kept until those tables change."""
    ids = experiment_ids(args)

    def compute() -> dict[str, Any]:
        out: dict[str, list[dict[str, Any]]] = {g: [] for g in ("metrics", "params", "tags")}
        for kind, key, n in client.sql(query("ui_experiment_keys"),
                                       {"experiment_ids": ids}).fetchall():
            if len(out[kind]) < MAX_KEYS:
                out[kind].append({"key": key, "runs": n})
        return out

    return cached(client, ("keys", tuple(sorted(ids))),
                  ("runs", "metric_latest", "params", "tags"), compute)


def run(client: Client, args: Args) -> dict[str, Any]:
    """One run: info, params, latest metrics (value, step, time), tags, dataset inputs,
    its parent and its children.

    A run may hold a million keys: each of params, metrics and tags sends at most
    :data:`MAX_RUN_KEYS` (by name) of those whose key holds ``q`` (any case), with their
    total (``counts``), so the page stays small and a search finds the others.
    """
    r = client.get_run(args.need("run_id"))
    q = (args.get("q") or "").lower()
    children = client.search_runs_table(
        [r.info.experiment_id], f"tags.`{PARENT_RUN_ID}` = '{_quoted(r.info.run_id)}'",
        max_results=1000)
    parent = None
    if r.info.parent_run_id:
        try:
            parent = _info(client.get_run(r.info.parent_run_id))
        except NotFound:
            parent = {"run_id": r.info.parent_run_id}
    experiment = client.get_experiment(r.info.experiment_id)
    params = _matching(r.data.params, q)
    tags = _matching(r.data.tags, q)
    metrics = _matching({m.key: m for m in r.data.latest_metrics}, q)
    return {
        "info": _info(r), "experiment_name": experiment.name, "q": q,
        "counts": {"params": len(r.data.params), "metrics": len(r.data.latest_metrics),
                   "tags": len(r.data.tags)},
        "params": params, "tags": tags,
        "metrics": [{"key": m.key, "value": _number(m.value), "step": m.step,
                     "timestamp": m.timestamp} for m in metrics.values()],
        "inputs": [{"name": d.dataset.name, "digest": d.dataset.digest,
                    "source_type": d.dataset.source_type, "source": d.dataset.source,
                    "context": d.context} for d in r.inputs.dataset_inputs],
        "parent": parent, "children": rows_of(children, []),
    }


def _matching(items: dict[str, Any], q: str) -> dict[str, Any]:
    """The first MAX_RUN_KEYS items (by key) whose key holds ``q``."""
    keys = sorted(k for k in items if q in k.lower()) if q else sorted(items)
    return {k: items[k] for k in keys[:MAX_RUN_KEYS]}


def _quoted(text: str) -> str:
    """``text`` inside a filter's single-quoted string (the grammar doubles a quote)."""
    return text.replace("'", "''")


def _info(r: Run) -> dict[str, Any]:
    i = r.info
    return {"run_id": i.run_id, "run_name": i.run_name, "experiment_id": i.experiment_id,
            "status": i.status, "user_id": i.user_id, "start_time": i.start_time,
            "end_time": i.end_time, "lifecycle_stage": i.lifecycle_stage,
            "parent_run_id": i.parent_run_id, "artifact_uri": i.artifact_uri}


def _number(value: float | None) -> float | str | None:
    """A metric value for JSON, which has no NaN or infinity: those go as text."""
    if value is None or math.isfinite(value):
        return value
    return str(value)


ROUTES = {"/experiments": experiments, "/experiment": experiment, "/runs": runs_page,
          "/keys": keys, "/run": run}
