"""What one process holds per store: the store, its query engine, and run state.

Every ``Client`` of the same store URI in a process shares one backend, so all
of them feed one batched writer and see each other's writes at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from lakeml.query import QueryEngine
from lakeml.store import Store, normalize_uri


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


class Backend:
    """The store, query engine and run-state cache of one store URI."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = QueryEngine(store)
        self.runs: dict[str, RunState] = {}
        self.lock = threading.RLock()


_backends: dict[str, Backend] = {}
_backends_lock = threading.Lock()


def backend_for(uri: str, storage_options: dict[str, str] | None = None) -> Backend:
    """The process-wide backend of store ``uri`` (created and opened on first use)."""
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
