"""Rows a writer set aside instead of committing, until they are reported.

A row that cannot be converted to its table's schema, or that the table refuses, is
*rejected* (lakeml/store/writer.py and pending.py find it by bisecting its batch): logged
as a warning, handed to the listeners (the server's journal committer audits it), and
reported once, by the next explicit flush, as RowsRejected naming it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from lakeml.errors import RowsRejected

log = logging.getLogger("lakeml.store.writer")

# How many rejected rows an error message quotes.
QUOTED_REJECTS = 5


@dataclass(frozen=True)
class Rejected:
    """Rows of ``table`` that were not committed, and why (``error``)."""

    table: str
    rows: list[Any]
    error: BaseException

    def describe(self) -> str:
        row = self.rows[0]
        more = f" (and {len(self.rows) - 1} more like it)" if len(self.rows) > 1 else ""
        reason = (str(self.error).splitlines() or [""])[0]  # delta-rs appends a table
        return f"{self.table} row {row!r}{more}: {type(self.error).__name__}: {reason}"


class Rejections:
    """The rejections of one writer not yet reported; ``listeners`` are told of each."""

    def __init__(self, listeners: list[Callable[[Rejected], None]] | None = None) -> None:
        self.listeners = listeners if listeners is not None else []
        self._lock = threading.Lock()
        self._unreported: list[Rejected] = []

    def add(self, table: str, rows: list[Any], error: BaseException) -> None:
        """Set ``rows`` aside: never committed, reported by the next :meth:`report`."""
        rejected = Rejected(table, rows, error)
        with self._lock:
            self._unreported.append(rejected)
        log.warning("lakeml rejected %d row(s); every other row is committed: %s",
                    len(rows), rejected.describe())
        for listener in self.listeners:
            listener(rejected)

    def report(self) -> None:
        """Raise RowsRejected (an InvalidArgument) naming the rows rejected since the last
        report, if any."""
        with self._lock:
            rejected, self._unreported = self._unreported, []
        if not rejected:
            return
        count = sum(len(r.rows) for r in rejected)
        quoted = "; ".join(r.describe() for r in rejected[:QUOTED_REJECTS])
        more = f"; and {len(rejected) - QUOTED_REJECTS} more" if len(rejected) > QUOTED_REJECTS \
            else ""
        raise RowsRejected(f"{count} logged row(s) could not be stored and were not "
                           f"committed (every other row was): {quoted}{more}",
                           frozenset(_first_column(row) for r in rejected for row in r.rows))

    def forget(self) -> None:
        """Drop what is unreported (a forked child: the parent reports its own)."""
        self._lock = threading.Lock()
        self._unreported = []


def _first_column(row: Any) -> str:
    """The first column of a buffered row (a tuple) or of a bulk one (a dict), as text."""
    value = row[0] if isinstance(row, tuple) else next(iter(row.values()), None)
    return str(value)
