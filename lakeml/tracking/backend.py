"""What one process holds per store: the store, its query engine, and run state.

Every tracking service (and so every ``Client``) of the same store URI in a
process shares one backend, so all of them feed one batched writer and see each
other's writes at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from lakeml.tracking.run_freshness import RunFreshness

if TYPE_CHECKING:
    from lakeml.entities import Experiment
    from lakeml.query import QueryEngine
    from lakeml.store import Store
    from lakeml.store.rejects import Rejected

# How long this process trusts what it read about an experiment before reading
# it again. Its own changes apply at once; another process's deletion of an
# experiment is noticed by create_run within this many seconds.
EXPERIMENT_CACHE_SECONDS = 2.0


@dataclass
class RunState:
    """What this process knows of a run: enough to validate a log call cheaply.

    ``params`` is None until the run's logged params have been read (runs
    created in this process start with an empty, complete dict).
    """

    experiment_id: str
    status: str
    lifecycle_stage: str
    artifact_uri: str
    params: dict[str, str] | None = field(default=None)


def run_row(store: Store, run_id: str, **cols: Any) -> tuple[Any, ...]:
    """A row of the ``runs`` table: the columns given, None for the others (a row that
    changes some of a run's columns), and the next sequence number of ``store``."""
    return store.rows.runs(run_id=run_id, seq=store.clock.next(), **cols)


class Backend:
    """The store, query engine and run-state cache of one store URI."""

    def __init__(self, store: Store) -> None:
        from lakeml import config
        from lakeml.query import (
            QueryEngine,  # pyarrow and DuckDB load on first use
            run_snapshot,
        )

        self.store = store
        self.engine = QueryEngine(store)
        store.on_reject.append(self._forget_rejected_params)
        if config.get("auto_maintenance"):
            # writers keep the run snapshot that new readers start from fresh, and
            # leave it fresh when they close (at exit)
            store.maintenance.add_hook(partial(run_snapshot.refresh_soon, store),
                                       at_close=partial(run_snapshot.finish, store))
        if config.get("materialize_views"):  # the Delta tables under <store>/views/
            from lakeml.query import materialized_upkeep

            store.maintenance.add_hook(partial(materialized_upkeep.refresh_soon, store),
                                       at_close=partial(materialized_upkeep.finish, store))
        self.runs: dict[str, RunState] = {}
        self.freshness = RunFreshness(self)  # a server worker's check of self.runs
        # called before a run this process has no state of is read to validate a write (a
        # server with a journal waits there until acknowledged writes are in Delta)
        self.before_miss_read: Callable[[], None] | None = None
        self.past_engines: dict[str, QueryEngine] = {}  # as_of engines, see sql_access
        # per-store objects of the lake's other parts, made on first use (the registry's
        # mirror of its log), see LakeTrackingService.shared
        self.shared: dict[str, Any] = {}
        self.lock = threading.RLock()
        self.default_experiment_exists = False
        self._experiments: dict[str, tuple[float, Experiment]] = {}
        # ((experiments version, experiment_tags version), every experiment), see
        # ExperimentCalls._all_experiments
        self.all_experiments: tuple[tuple[int, int], list[Experiment]] | None = None
        self.experiments_by_id: tuple[tuple[int, int], dict[str, Experiment]] | None = None

    def _forget_rejected_params(self, rejected: Rejected) -> None:
        """A param row the writer rejected (another process committed the key first) was
        in this process's cache of the run's params: read them again when next needed."""
        if rejected.table != "params":
            return
        for row in rejected.rows:
            state = self.runs.get(row["run_id"] if isinstance(row, dict) else row[0])
            if state is not None:
                state.params = None

    def cached_experiment(self, experiment_id: str) -> Experiment | None:
        """The experiment as read less than EXPERIMENT_CACHE_SECONDS ago, or None."""
        entry = self._experiments.get(experiment_id)
        if entry is None or time.monotonic() - entry[0] > EXPERIMENT_CACHE_SECONDS:
            return None
        if self.engine.commits_only:
            # a server worker: a create_run after another worker acknowledged the
            # experiment's deletion must see it; get_experiment re-reads the experiments
            # only when their table has a new version (one stat on a local store)
            return None
        return entry[1]

    def cache_experiment(self, experiment: Experiment) -> None:
        self._experiments[experiment.experiment_id] = (time.monotonic(), experiment)

    def forget_experiment(self, experiment_id: str) -> None:
        """Drop the cached copy after this process changed the experiment."""
        self._experiments.pop(experiment_id, None)


_backends: dict[str, Backend] = {}
_backends_lock = threading.Lock()


def backend_for(uri: str, storage_options: dict[str, str] | None = None) -> Backend:
    """The process-wide backend of store ``uri`` (created and opened on first use)."""
    from lakeml.store import Store, normalize_uri

    key = normalize_uri(uri)
    with _backends_lock:
        backend = _backends.get(key)
        if backend is None:
            backend = Backend(Store(key, storage_options=storage_options).open())
            _backends[key] = backend
        return backend


def close_all() -> None:
    """Flush and forget every backend (tests use this to start from scratch)."""
    with _backends_lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        backend.store.close()
