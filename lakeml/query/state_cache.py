"""Current state materialised in the engine's DuckDB, so repeated searches stay fast.

The views of sql/views/ fold an append-only log into current state on every
query: at a million runs that costs a few hundred milliseconds per view. A
search touches few keys (``metrics.m0``, ``params.p1``), so this cache keeps

* ``state_runs``: the ``runs`` view; only the columns every search needs
  (run_id, experiment_id, lifecycle_stage, start_time) unless a search
  filters or sorts on another attribute, which costs four times as much;
* ``state_metrics`` / ``state_params`` / ``state_tags``: (run_id, key, value)
  rows of the keys searched so far, loaded key by key on first use.

Each is tied to the Delta version of the table it came from and dropped when
that version moves, so answers are never stale; a store that is being written
to pays the fold again after each commit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from lakeml.query.engine import QueryEngine

# state table -> (source view, the lake table whose version it follows)
_KEYED = {
    "state_metrics": ("latest_metrics", "metric_latest"),
    "state_params": ("params", "params"),
    "state_tags": ("tags", "tags"),
}

# The runs view's fold, for just the columns every search reads.
_NARROW_RUNS = """(
    SELECT run_id,
           max_by(experiment_id, seq) FILTER (WHERE experiment_id IS NOT NULL) AS experiment_id,
           max_by(lifecycle_stage, seq) FILTER (WHERE lifecycle_stage IS NOT NULL)
               AS lifecycle_stage,
           min(start_time) AS start_time
    FROM lake_runs GROUP BY run_id)"""
NARROW_RUN_COLUMNS = frozenset({"run_id", "experiment_id", "lifecycle_stage", "start_time"})


@dataclass
class _Entry:
    version: int
    keys: set[str] = field(default_factory=set)


class StateCache:
    """Materialised current state of one engine; see the module docstring."""

    def __init__(self, engine: QueryEngine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def prepare(self, metric_keys: Iterable[str] = (), param_keys: Iterable[str] = (),
                tag_keys: Iterable[str] = (), *, all_run_columns: bool = False) -> None:
        """Refresh the engine and make sure the state tables hold these keys and columns."""
        engine = self._engine
        engine.refresh(["runs", "metric_latest", "params", "tags", "inputs"])
        versions = engine.versions()
        wanted = {"state_metrics": set(metric_keys), "state_params": set(param_keys),
                  "state_tags": set(tag_keys)}
        with self._lock:
            con = engine.connection()
            runs = self._entries.get("state_runs")
            if (runs is None or runs.version != versions["runs"]
                    or (all_run_columns and "*" not in runs.keys)):
                source = "runs" if all_run_columns else _NARROW_RUNS
                con.execute(f"CREATE OR REPLACE TABLE state_runs AS SELECT * FROM {source}")
                self._entries["state_runs"] = _Entry(versions["runs"],
                                                     {"*"} if all_run_columns else set())
            for table, (view, lake) in _KEYED.items():
                entry = self._entries.get(table)
                if entry is None or entry.version != versions[lake]:
                    con.execute(f"CREATE OR REPLACE TABLE {table} "
                                "(run_id VARCHAR, key VARCHAR, value "
                                f"{'DOUBLE' if view == 'latest_metrics' else 'VARCHAR'})")
                    entry = self._entries[table] = _Entry(versions[lake])
                missing = sorted(wanted[table] - entry.keys)
                if missing:
                    con.execute(f"INSERT INTO {table} SELECT run_id, key, value FROM {view} "
                                "WHERE key IN (SELECT unnest(?::VARCHAR[]))", [missing])
                    entry.keys.update(missing)
