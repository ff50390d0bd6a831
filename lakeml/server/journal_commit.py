"""The journal's committer: moves journaled rows into Delta, exactly once.

Every server worker runs a committer thread; at most one of them commits at a time, the
one holding the fcntl lock ``<journal>/committer.lock``: a committer takes it when the
journal has records past the watermark and lets it go after IDLE_RELEASE seconds without
new ones (the kernel lets it go when the holder dies). The holder, in a loop:

1. reads the records from where it stands (at first: the watermark) to the end;
2. fsyncs the journal (the watermark must never pass what a power loss could undo);
3. queues each table's rows of those records as one batch of its own Writer, numbered
   by the offset the last record ends at (shifted left by ROUND_BITS), and flushes: one
   Delta commit per table, in the writer's waves, carrying the app transaction
   ``(lakeml-journal-<id>, offset << ROUND_BITS)``; a batch the table refuses is split
   (to set the refused rows aside) into parts numbered inside the round;
4. writes the watermark (the end offset, fsync'd); when everything is committed and
   nothing was appended for IDLE_RELEASE seconds (or the segment passed ROTATE_BYTES), it
   rotates the journal: a new empty segment, the old ones deleted.

A committer killed between 3 and 4 (``kill -9`` mid-commit) leaves some tables committed
up to an offset the watermark does not show. Its successor asks each table which offset
the journal's app id committed last (``committed_version``) and skips, per table, the
records ending at or before it; a derived table (``metric_latest``) whose source landed
without it gets its batch derived again from the source's rows. So a replay adds nothing
twice and drops nothing.

A commit that fails (the store unreachable) is retried, with the rows kept by the
writer, until it lands; reads wait meanwhile, journaled writes are still acknowledged.
A row the store *rejects* after its acknowledgement (a param another, non-server writer
committed first with another value: the server refuses such conflicts among its own
requests before acknowledging them) cannot be undone: it is logged as an error and
recorded in the registry's audit log (action ``journal_rejected``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import LakemlError
from lakeml.server.journal import Reader
from lakeml.store.schemas import DERIVED

if TYPE_CHECKING:
    from lakeml.server.journal import Journal, Record
    from lakeml.store import Store
    from lakeml.store.rejects import Rejected
    from lakeml.store.writer import Writer

log = logging.getLogger("lakeml.server")

# Seconds between looks at the journal's end while nothing is pending: IDLE_POLL after
# activity, doubling on every look that finds nothing up to IDLE_POLL_MAX (a 2 ms poll
# cost ~4% of a core per idle worker). This worker's appends and reads wake it at once;
# another worker's are seen within IDLE_POLL_MAX, or at once if a read there is waiting
# (it touches the journal's urgent file, looked at on every poll).
IDLE_POLL = 0.002
IDLE_POLL_MAX = 0.05
MAINTENANCE_SPACING = 1.0  # seconds at least between two maintenance passes
TORN_AFTER = 0.5  # seconds a partial frame may stay before it is taken for a torn append
# seconds at least from the start of one round to the next: each round's Delta commits
# cost the same whatever they carry (measured: every 0.25 s, the committer's threads took
# 0.65 ms of CPU per run under 16 clients, every 1 s 0.43 ms); a read waiting cuts it short
ROUND_SPACING = 1.0
HURRY_POLL = 0.005  # seconds between looks at the journal's urgent file in that pause
IDLE_RELEASE = 1.0  # seconds without records after which the committer lets the lock go
# Rotation: when everything is committed and the committer goes idle, or the segment has
# grown past this. Rarely: a worker whose unread records were rotated away twice drops
# its whole run cache (journal_view.py).
ROTATE_BYTES = 4 << 20
# A round ending at offset ``end`` is committed as batch ``end << ROUND_BITS``: a batch the
# store refuses (a row a CHECK constraint forbids) is bisected into parts numbered inside
# the round, the last one marked ``| ROUND_MASK`` (Writer.queue_batch). 2**43 bytes of
# journal offsets fit a Delta transaction version (an int64).
ROUND_BITS = 20
ROUND_MASK = (1 << ROUND_BITS) - 1


def landed_through(version: int) -> int:
    """The journal offset up to which a table's records landed, from the batch number
    its last commit under the journal's app id carries. A round split into parts whose
    last part did not land (a committer killed between them): what landed of it is not
    known row by row, so none of it counts (it is committed again: rows of the parts
    that had landed are then in the table twice, the first-wins tables excepted)."""
    low = version & ROUND_MASK
    return version >> ROUND_BITS if low in (0, ROUND_MASK) else 0


class Committer:
    """The committer thread of one worker (started by :meth:`start`)."""

    def __init__(self, journal: Journal, store: Store,
                 audit: Callable[[str, str], None] | None = None) -> None:
        from lakeml import config
        from lakeml.store.writer import Writer

        self.journal = journal
        self._store = store
        self._audit = audit
        auto = config.get("auto_maintenance")
        huge = 1 << 62  # never flushed by size: this committer flushes
        self.writer: Writer = Writer(store.tables, interval=3600.0, flush_rows=huge,
                                     max_buffered_rows=huge,
                                     after_commit=store.maintenance.note_commit if auto
                                     else None, on_reject=[self._rejected])
        self.writer.app_id = journal.app_id  # the same for every committer of the journal
        self.writer.round_bits = ROUND_BITS
        self._maintain = store.maintenance.auto if auto else None
        self.wake = threading.Event()  # set by this worker's appends
        self.urgent = threading.Event()  # set by this worker's reads waiting for a round
        self.rounds = 0  # rounds committed by this process (tests and logs)
        self._thread: threading.Thread | None = None
        self._poll = IDLE_POLL
        self._hurried = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="lakeml-journal-committer",
                                        daemon=True)
        self._thread.start()

    # ---- the loop ----------------------------------------------------------------------
    def _run(self) -> None:
        fd = os.open(self.journal.folder / "committer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one committer at a time, in any process
            try:
                self._commit_while_busy()
            except Exception:  # never let the committer die: reads would wait forever
                log.exception("the journal committer failed; starting it again")
                # start over from the watermark; what landed is skipped by offset
                self.writer.drop_pending()
                time.sleep(1.0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._wait_for_work()

    def _wait_for_work(self) -> None:
        """Idle until something is appended (any worker's committer may go next); an
        error looking (the folder gone, a disk error) is logged and looked again after a
        pause, never the end of the committer: reads would wait on it forever."""
        while True:
            try:
                if self.journal.pending():
                    return
                self._idle_wait()
            except OSError:
                log.exception("the journal committer cannot look at its journal; "
                              "looking again in 1 s")
                time.sleep(1.0)

    def _commit_while_busy(self) -> None:
        """Commit rounds until nothing was appended for IDLE_RELEASE seconds."""
        reader = Reader(self.journal, self.journal.watermark())
        done: dict[str, int] | None = None  # what a committer killed mid-commit left
        maintained = 0.0
        due = rotated = False
        stuck_since: float | None = None
        idle_since = time.monotonic()
        try:
            while True:
                # (noted before the read: a read hurrying for a record appended after it
                # then changes the time, and cuts the round's pause short)
                hurried = self.journal.hurried_at()
                records = reader.read()
                now = time.monotonic()
                if not records and reader.offset < self.journal.end():
                    # bytes that are no complete frame: an append in flight, or a torn one
                    stuck_since = stuck_since or now
                    if now - stuck_since > TORN_AFTER:
                        with self.journal.locked():
                            records = reader.read(repair=True)
                        stuck_since = None
                else:
                    stuck_since = None
                if not records:
                    committed = reader.offset == self.journal.end()
                    idle = now - idle_since > IDLE_RELEASE
                    if committed and not rotated and (
                            idle or reader.offset - self.journal.segments()[-1] > ROTATE_BYTES):
                        rotated = True  # (once per round: it takes the append lock)
                        self.journal.rotate_if_committed(reader.offset)
                    if due and self._maintain is not None and \
                            now - maintained >= MAINTENANCE_SPACING:
                        due, maintained = False, now
                        self._maintenance()
                    if idle and committed and rotated:
                        return
                    self._idle_wait()
                    continue
                self._poll = IDLE_POLL
                if done is None:
                    done = self._landed()
                started = now
                reader_sync(self.journal, reader.offset)
                end = records[-1][0]
                self._queue(records, end, done)
                self._flush()
                done = {}
                self.journal.set_watermark(end)
                self.rounds += 1
                due, rotated = True, False
                idle_since = time.monotonic()
                self._pause(started + ROUND_SPACING, hurried)
        finally:
            reader.close()

    def _idle_wait(self) -> None:
        """Wait before the next look at the journal, longer after each look that found
        nothing (see IDLE_POLL)."""
        woken = self.wake.wait(self._poll)
        self.wake.clear()
        hurried = self.journal.hurried_at()
        if woken or hurried != self._hurried:
            self._hurried, self._poll = hurried, IDLE_POLL
        else:
            self._poll = min(IDLE_POLL_MAX, self._poll * 2)

    def _pause(self, until: float, hurried: int) -> None:
        """Rounds start at most every ROUND_SPACING seconds: under load each then takes more
        records, and the Delta commits (a fixed cost per table) cost less per record. A
        read waiting for the journal cuts the pause short: in this process through
        ``urgent``, in another through the journal's ``urgent`` file (Journal.hurry), if
        touched since ``hurried`` (its time when the round began)."""
        while True:
            rest = until - time.monotonic()
            if rest <= 0:
                return
            if self.urgent.wait(min(rest, HURRY_POLL)):
                self.urgent.clear()
                return
            if self.journal.hurried_at() != hurried:
                return

    def _landed(self) -> dict[str, int]:
        """Per table, the last batch number committed under the journal's app id."""
        while True:
            try:
                return {name: handle.committed_version(self.journal.app_id)
                        for name, handle in self._store.tables.items()}
            except LakemlError as exc:
                log.warning("cannot read the tables' journal commits (%s); retrying", exc)
                time.sleep(1.0)

    def _queue(self, records: list[tuple[int, Record]], end: int, done: dict[str, int]) -> None:
        """Queue the records' rows as one batch per table numbered ``end << ROUND_BITS``,
        minus what ``done`` (batch numbers) says landed (see the module's docstring)."""
        rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        # (source, derived table): the source's rows whose derived rows did not land
        rederive: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        derived_of = {source: [d for d, s in DERIVED.items() if s == source]
                      for source in set(DERIVED.values())}
        for record_end, (_origin, tables) in records:
            for table, table_rows in tables:
                if table not in self._store.tables:
                    log.error("journal record ending at %d has rows of unknown table %r; "
                              "skipped", record_end, table)
                    continue
                landed = landed_through(done.get(table, 0))
                if record_end > landed:
                    rows[table].extend(table_rows)
                    continue
                for derived in derived_of.get(table, ()):  # only where they did not land
                    if landed_through(done.get(derived, 0)) < record_end:
                        rederive[table, derived].extend(table_rows)
        for (table, derived), table_rows in rederive.items():
            # numbered as a round ending one byte past the source's: after every number
            # of the source's round (a split part of it included), before the next
            # record's end (a record takes more than a byte), and with room for parts
            # if a derived table refuses a row
            seq = landed_through(done[table]) + 1 << ROUND_BITS
            self.writer.queue_batch(table, table_rows, seq, derived_only=derived)
        for table, table_rows in rows.items():
            self.writer.queue_batch(table, table_rows, end << ROUND_BITS)

    def _flush(self) -> None:
        """Commit what is queued, retrying until it lands (the writer keeps the rows and
        its app transaction ids make a retry after an unknown outcome exact)."""
        failures = 0
        while True:
            try:
                self.writer.flush(report=False)
                return
            except LakemlError as exc:
                failures += 1
                if failures == 1:
                    log.warning("journal commit failed (rows kept, retrying): %s", exc)
                time.sleep(min(5.0, 0.05 * 2 ** failures))

    def _maintenance(self) -> None:
        try:
            assert self._maintain is not None
            self._maintain()
        except Exception:  # noqa: BLE001 - maintenance is best effort
            log.exception("maintenance after journal commits failed")

    def _rejected(self, rejected: Rejected) -> None:
        message = (f"ACKNOWLEDGED rows were rejected by the store at commit and are not "
                   f"stored: {rejected.describe()}")
        log.error("%s (a writer outside this server committed a conflicting row first)",
                  message)
        if self._audit is not None:
            try:
                self._audit(rejected.table, message)
            except Exception:  # noqa: BLE001 - the error log above stays
                log.exception("could not audit the rejected journal rows")


def reader_sync(journal: Journal, offset: int) -> None:
    """fsync the segment holding ``offset`` (a record is durable before its commit)."""
    starts = [s for s in journal.segments() if s <= offset]
    if not starts:
        return
    try:
        fd = os.open(journal.segment_path(starts[-1]), os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)
