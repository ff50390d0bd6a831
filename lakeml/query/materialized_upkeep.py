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

if TYPE_CHECKING:
    from lakeml.store import Store

log = logging.getLogger(__name__)

REFRESH_EVERY = 30.0  # seconds between background refreshes of one store by one process
_running: dict[str, threading.Thread] = {}
_started: dict[str, float] = {}
_running_lock = threading.Lock()


def refresh_soon(store: Store) -> None:
    """Refresh the view tables on a thread of their own, unless one is running for this
    store in this process or started less than REFRESH_EVERY seconds ago (the writer's
    maintenance hook calls this after its commits; :func:`finish` does the last one).
    The thread is a daemon: a process may exit while it runs (its commits are whole or
    not made, so the tables stay as they were)."""
    import time

    with _running_lock:
        thread = _running.get(store.uri)
        if thread is not None and thread.is_alive():
            return
        if time.monotonic() - _started.get(store.uri, -REFRESH_EVERY) < REFRESH_EVERY:
            return
        _started[store.uri] = time.monotonic()
        thread = threading.Thread(target=_refresh_logged, args=(store,),
                                  kwargs={"rebuild": False}, name="lakeml-view-tables",
                                  daemon=True)
        _running[store.uri] = thread
        thread.start()


def finish(store: Store) -> None:
    """At a writing process's close: wait for a running refresh, then refresh once more
    so the tables hold the last commits, all within LAKEML_MATERIALIZE_VIEWS_AT_EXIT
    seconds (0: return at once). The last refresh replaces changed runs only; a table
    that would have to be written whole is left to ``lakeml views materialize``. Past
    the time the process goes on exiting; the next refresh picks up what was missed."""
    import time

    from lakeml import config

    budget = config.get("materialize_views_at_exit")
    if budget <= 0:
        return
    deadline = time.monotonic() + budget
    with _running_lock:
        thread = _running.get(store.uri)
    if thread is not None:
        thread.join(budget)
    if thread is None or not thread.is_alive():
        thread = threading.Thread(target=_refresh_logged, args=(store,),
                                  kwargs={"rebuild": False}, daemon=True,
                                  name="lakeml-view-tables-exit")
        thread.start()
        thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        log.warning("the view tables of %s were not refreshed within %.0f s of the exit "
                    "(LAKEML_MATERIALIZE_VIEWS_AT_EXIT); the next refresh catches up",
                    store.uri, budget)


_warned: set[str] = set()


def _refresh_logged(store: Store, *, rebuild: bool = True) -> None:
    try:
        skipped = [d.table for d in materialize(store, rebuild=rebuild)
                   if d.mode == "skipped"]
        if skipped and store.uri not in _warned:
            _warned.add(store.uri)
            log.warning("view tables %s of %s need writing whole, which a writing process "
                        "leaves to `lakeml views materialize` on a store this large",
                        ", ".join(skipped), store.uri)
    except Exception:  # noqa: BLE001 - derived tables must never break the writer
        import sys

        if sys.is_finalizing():  # a background refresh the exit did not wait for
            log.info("the refresh of the view tables of %s stopped at exit", store.uri)
            return
        log.exception("refreshing the view tables of %s failed", store.uri)
