"""The wall clock in the units lakeml stores: one definition of "now".

Every table timestamp is microseconds since the epoch, UTC (store/schemas.py);
run start and end times are whole milliseconds, MLflow's unit. A base module:
it imports nothing of lakeml, so every layer may use it.

Example:
    >>> from lakeml.times import now_us
    >>> now_us() > 1_700_000_000_000_000
    True
"""

from __future__ import annotations

import threading
import time


def now_us() -> int:
    """Microseconds since the epoch, UTC (the unit of every table timestamp).

    On the log_metric hot path: import the function itself
    (``from lakeml.times import now_us``), so a call costs one global lookup.
    """
    return time.time_ns() // 1000


def now_ms() -> int:
    """Milliseconds since the epoch, UTC (run times, MLflow's unit)."""
    return time.time_ns() // 1_000_000


class SequenceClock:
    """Strictly increasing microsecond stamps: orders state-change rows.

    Each value is at least the wall clock in microseconds and greater than the
    previous one from this clock, so rows written later by one process win, and
    rows from different processes order by time.
    """

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            now = now_us()
            self._last = now if now > self._last else self._last + 1
            return self._last
