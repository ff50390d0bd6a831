"""Keeping the Delta tables under ``<store>/views/`` fresh from a writing process
(LAKEML_MATERIALIZE_VIEWS): a background refresh after the writer's commits, at most
every REFRESH_EVERY seconds, and a last one at exit bounded by
LAKEML_MATERIALIZE_VIEWS_AT_EXIT seconds. Neither builds the tables of a large store
whole (past materialized.WRITERS_REBUILD_ROWS run rows; on 1 M runs that takes
minutes, and an exiting script would wait for it or throw it away): that is for
``lakeml views materialize`` or ``jobs/maintain.py --views``, once; writers then
replace the runs they changed.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from lakeml.query.materialized import materialize
from lakeml.query.refresh_stop import RefreshStopped, Stop

if TYPE_CHECKING:
    from lakeml.store import Store

log = logging.getLogger(__name__)

REFRESH_EVERY = 30.0  # seconds between background refreshes of one store by one process
_running: dict[str, tuple[threading.Thread, Stop]] = {}
_started: dict[str, float] = {}
_running_lock = threading.Lock()
_closing = False  # the interpreter is exiting: no new background refresh


def refresh_soon(store: Store) -> None:
    """Refresh the view tables on a thread of their own, unless one is running for this
    store in this process or started less than REFRESH_EVERY seconds ago (the writer's
    maintenance hook calls this after its commits; :func:`finish` does the last one).

    The thread is not a daemon: Python would kill a daemon thread inside DuckDB's or
    delta-rs's native code at exit, and the process aborts (SIGABRT). Instead, as the
    interpreter starts exiting (before it joins its threads), :func:`_stop_all` tells
    every running refresh to stop at its next step and interrupts its query."""
    import time

    with _running_lock:
        if _closing:
            return
        running = _running.get(store.uri)
        if running is not None and running[0].is_alive():
            return
        if time.monotonic() - _started.get(store.uri, -REFRESH_EVERY) < REFRESH_EVERY:
            return
        _started[store.uri] = time.monotonic()
        stop = Stop()
        thread = threading.Thread(target=_refresh_logged, args=(store, stop),
                                  kwargs={"rebuild": False}, name="lakeml-view-tables")
        _running[store.uri] = (thread, stop)
        thread.start()


def finish(store: Store) -> None:
    """At a writing process's close: wait for a running refresh, then refresh once more
    so the tables hold the last commits, all within LAKEML_MATERIALIZE_VIEWS_AT_EXIT
    seconds (0: stop a running one at once). The last refresh replaces changed runs
    only; a table that would have to be written whole is left to ``lakeml views
    materialize``. When the time is up the refresh is told to stop (its DuckDB query
    interrupted, no further commit) and joined: it ends within one Delta commit, and
    the next refresh picks up what was missed."""
    import time

    from lakeml import config

    budget = max(0.0, float(config.get("materialize_views_at_exit")))
    deadline = time.monotonic() + budget
    with _running_lock:
        running = _running.pop(store.uri, None)
    if running is not None:
        thread, stop = running
        thread.join(budget)
        if thread.is_alive():
            stop.set()
            thread.join()
            _warn_late(store, budget)
            return
    if budget <= 0:
        return
    stop = Stop()
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), stop.set)
    timer.start()
    try:  # in this thread: nothing is left running when the process goes on exiting
        _refresh_logged(store, stop, rebuild=False)
    finally:
        timer.cancel()
        timer.join()
    if stop.is_set():
        _warn_late(store, budget)


def _warn_late(store: Store, budget: float) -> None:
    log.warning("the view tables of %s were not refreshed within %.2f s of the exit "
                "(LAKEML_MATERIALIZE_VIEWS_AT_EXIT); the next refresh catches up",
                store.uri, budget)


def _stop_all() -> None:
    """Called as the interpreter starts exiting, before it joins non-daemon threads:
    stop every background refresh (they end within one commit) so the exit does not
    wait for a whole refresh; :func:`finish` then runs the last one within its time."""
    global _closing
    with _running_lock:
        _closing = True
        stops = [stop for _, stop in _running.values()]
    for stop in stops:
        stop.set()


try:  # runs before threading joins non-daemon threads at exit
    threading._register_atexit(_stop_all)
except RuntimeError:  # first imported while the interpreter exits: no background refresh
    _closing = True


_warned: set[str] = set()


def _refresh_logged(store: Store, stop: Stop, *, rebuild: bool = True) -> None:
    try:
        skipped = [d.table for d in materialize(store, rebuild=rebuild, stop=stop)
                   if d.mode == "skipped"]
        if skipped and store.uri not in _warned:
            _warned.add(store.uri)
            log.warning("view tables %s of %s need writing whole, which a writing process "
                        "leaves to `lakeml views materialize` on a store this large",
                        ", ".join(skipped), store.uri)
    except RefreshStopped:
        log.info("the refresh of the view tables of %s stopped at exit", store.uri)
    except Exception:  # noqa: BLE001 - derived tables must never break the writer
        log.exception("refreshing the view tables of %s failed", store.uri)
