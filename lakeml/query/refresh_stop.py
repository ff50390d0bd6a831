"""Stopping a refresh of the view tables early from another thread
(:mod:`lakeml.query.materialized`, :mod:`lakeml.query.materialized_upkeep`).

A writing process that exits while a refresh runs on another thread must not leave
that thread inside DuckDB's or delta-rs's native code: Python kills daemon threads
at exit, and one killed there aborts the process (SIGABRT). So refresh threads are
not daemons; they are told to stop with a :class:`Stop` and joined.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


class RefreshStopped(Exception):
    """A refresh given a :class:`Stop` that was set gave up between two steps; the
    tables hold what its finished commits wrote (whole commits only)."""


class Stop:
    """A request to end refreshes early, from another thread (a writing process's exit).

    :meth:`set` makes a refresh given this object stop before its next step or commit,
    and interrupts the DuckDB query it is running, so the thread running it ends soon
    and can be joined: a thread must never be left inside DuckDB (or delta-rs) at
    interpreter exit, which aborts the process (SIGABRT). A commit under way is not
    interrupted (it is one Delta write; it ends whole)."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._connections: set[duckdb.DuckDBPyConnection] = set()

    def set(self) -> None:
        self._event.set()
        with self._lock:
            for con in self._connections:
                con.interrupt()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise RefreshStopped("the refresh of the view tables was asked to stop")

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._connections.add(con)
        if self._event.is_set():
            con.interrupt()

    def detach(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            self._connections.discard(con)
