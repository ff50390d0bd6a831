"""Threads that refresh a store's caches (run snapshots, saved run states) behind reads.

Their work is best effort: a snapshot is a cache of the tables, never a record. But it
includes network I/O (fetching, publishing beside a remote store's tables) whose retries
may take minutes against a failing store, and a process must not hang at exit waiting
for them. So they are daemon threads, and at exit the process waits for them at most
EXIT_WAIT_SECONDS in all (long enough to finish a local fold and one upload), then logs
the ones left unfinished and exits. A daemon thread must not be inside a DuckDB query
when the interpreter finalizes (DuckDB aborts the process then): their DuckDB work is a
local fold, which ends well within the wait; what outlasts it is network I/O.

New threads are refused once the exit has begun (nothing would wait for them).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

EXIT_WAIT_SECONDS = 30.0

_threads: list[threading.Thread] = []
_lock = threading.Lock()
_exiting = False


def start(target: Callable[..., Any], args: tuple[Any, ...], name: str
          ) -> threading.Thread | None:
    """Run ``target(*args)`` on a new daemon thread, waited for (within bounds) at exit;
    None once the exit has begun."""
    with _lock:
        if _exiting:
            return None
        _threads[:] = [t for t in _threads if t.is_alive()]
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        _threads.append(thread)
        return thread


def wait_all(timeout: float) -> list[str]:
    """Wait for every running thread, ``timeout`` seconds in all; the names of those
    still running."""
    deadline = time.monotonic() + timeout
    with _lock:
        running = [t for t in _threads if t.is_alive()]
    for thread in running:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in running if t.is_alive()]


def _wait_at_exit() -> None:
    global _exiting
    with _lock:
        _exiting = True
    left = wait_all(EXIT_WAIT_SECONDS)
    if left:
        log.warning("exiting without waiting longer than %.0f s for %s (a cache of the "
                    "tables: the next reader folds them)", EXIT_WAIT_SECONDS, ", ".join(left))


atexit.register(_wait_at_exit)
