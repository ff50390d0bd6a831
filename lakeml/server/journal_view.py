"""A server worker's view of the journal: what other workers wrote and is not yet in Delta.

A journaled write is acknowledged before its rows reach Delta, so a worker validating a
request must know of rows that other workers journaled (docs/server-durability.md):

- **runs**: a ``runs`` row another worker journaled (a run created, ended, deleted,
  restored, renamed) drops that run from this worker's cache of run states
  (``Backend.runs``); the next request about it reads the run again, and that read first
  waits until the journal is committed up to its end (journal_writes.py), so it sees
  every write acknowledged before it.
- **params**: every params row journaled (by any worker) since this worker began reading
  the journal is kept as ``(run_id, key) -> value``. A request's params are checked
  against it *while holding the append lock*, after reading the journal to its end, so of
  two workers racing to give a key two values the second is refused at request time
  (400), never after its acknowledgement. Committed params are checked by the tracking
  service against what it read of the run (``RunState.params``); together the two cover
  every param a server acknowledged.

When what the worker had not read yet was rotated away (committed and deleted), it
cannot know which runs changed: it drops its whole run cache and its params view (every
row they held is in Delta by then).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.server.journal import Reader

if TYPE_CHECKING:
    from lakeml.server.journal import Journal, Record
    from lakeml.tracking.backend import Backend

log = logging.getLogger("lakeml.server")

#: Params kept in the view before the committed ones are dropped from it.
MAX_VIEWED_PARAMS = 200_000


class JournalView:
    """What this worker knows of the journal (see the module's docstring)."""

    def __init__(self, journal: Journal, backend: Backend, origin: str) -> None:
        self.journal = journal
        self.origin = origin  # this worker's records carry it
        self._backend = backend
        self._reader = Reader(journal, journal.watermark())
        self.params: dict[tuple[str, str], tuple[str, int]] = {}  # -> (value, record end)

    def catch_up(self, *, repair: bool = False) -> None:
        """Read the records appended since the last call (``repair``: holding the append
        lock, cut off a torn frame; see Reader.read)."""
        for end, record in self._reader.read(repair=repair):
            self._apply(end, record)
        if self._reader.lost:
            self._reader.lost = False
            self._forget_all()
        if len(self.params) > MAX_VIEWED_PARAMS:
            self._drop_committed_params()

    def tail(self) -> tuple[int, int, int, int] | None:
        """Where the last :meth:`catch_up` found the journal's end (Reader.tail)."""
        return self._reader.tail

    def appended(self, end: int, size: int, tables: list[tuple[str, list[tuple[Any, ...]]]]
                 ) -> None:
        """This worker appended a record of ``size`` bytes ending at ``end`` (holding the
        append lock, right after :meth:`catch_up`): take it in as read, without reading
        it back, if the reader stands where it begins, in the segment it was written to."""
        if self._reader.at(end - size, self.journal.appending_segment()):
            self._apply(end, (self.origin, tables))
            self._reader.offset = end

    def _apply(self, end: int, record: Record) -> None:
        origin, tables = record
        for table, rows in tables:
            if table == "params":
                for row in rows:
                    self.params.setdefault((row[0], row[1]), (row[2], end))
            elif table == "runs" and origin != self.origin:
                runs = self._backend.runs
                for row in rows:
                    runs.pop(row[0], None)

    def check(self, tables: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Raise InvalidArgument if a params row of ``tables`` gives a key of a run another
        value than one journaled (call after :meth:`catch_up` under the append lock)."""
        for table, rows in tables:
            if table != "params":
                continue
            for row in rows:
                found = self.params.get((row[0], row[1]))
                if found is not None and found[0] != row[2]:
                    state = self._backend.runs.get(row[0])
                    if state is not None:
                        state.params = None  # it holds the refused value: read again
                    raise InvalidArgument(
                        f"param {row[1]!r} of run {row[0]!r} was logged as {found[0]!r}; it "
                        f"cannot be changed to {row[2]!r} (params are immutable: log a new "
                        f"run or a tag)")

    def _drop_committed_params(self) -> None:
        """Keep the view small: drop the params that are committed, and make every cached
        run read its params from Delta again (where those are now)."""
        committed = self.journal.watermark()
        self.params = {k: v for k, v in self.params.items() if v[1] > committed}
        for state in self._backend.runs.values():
            state.params = None

    def _forget_all(self) -> None:
        log.info("journal records were committed and rotated before this worker read them: "
                 "dropping its cache of runs")
        self._backend.runs.clear()
        self.params.clear()

    def close(self) -> None:
        self._reader.close()
