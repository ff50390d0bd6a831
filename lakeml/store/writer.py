"""The batched, idempotent writer behind every logging call.

A log call appends a tuple to an in-memory buffer (microseconds, no I/O). A
background thread commits the buffers every ``interval`` seconds, or sooner
once ``flush_rows`` rows wait; ``flush()``, ``close()`` and interpreter exit
commit the rest. A flush makes one Delta commit per table that has rows; the
tables are committed in the waves of ``schemas.COMMIT_WAVES``, those of one wave
at the same time, so a flush costs a few commits' time, not one per table.
metric_buckets rows are derived a bucket's worth of points at a time (a flush of a
point or two per key commits none; store/bucket_carry.py), and the rest at close().

Each commit carries a Delta app transaction ``(writer id, batch sequence)``: a
commit that landed although its acknowledgement was lost is never written twice
(lakeml/store/pending.py holds the batches waiting for their commit).

What a ``kill -9`` can lose: the rows logged since the last completed flush,
that is at most ``interval`` seconds of logging plus one commit's time.
Committed rows are never damaged: a Delta commit is atomic.

A bad row never costs the others. Rows taken from the buffers are either
committed, kept pending (a commit failed for a reason a retry can fix), or
*rejected*: a row that cannot be converted to its table's schema, or that the
table refuses, is found by bisecting its batch, set aside with its error and
logged as a warning; every other row is committed. The next explicit
``flush()`` (``end_run``, ``Client.flush``, close) in this process raises
InvalidArgument naming the rejected rows, once. Log calls validate their
values first (lakeml.validation), so a rejection means a path that
skipped validation.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from lakeml.errors import InvalidArgument, InvalidState, LakemlError
from lakeml.store import first_wins
from lakeml.store.bucket_carry import BucketCarry
from lakeml.store.derived import DERIVE
from lakeml.store.pending import Pending
from lakeml.store.rejects import Rejected, Rejections
from lakeml.store.rows import to_arrow
from lakeml.store.schemas import COMMIT_WAVES, DERIVED

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.store.table import DeltaTableHandle

log = logging.getLogger(__name__)

_live_writers: weakref.WeakSet[Writer] = weakref.WeakSet()

# Seconds at least between two maintenance passes (on_idle) of the flusher.
MAINTENANCE_SPACING = 1.0


class Writer:
    """Buffers rows per table and commits them in the background."""

    def __init__(self, tables: dict[str, DeltaTableHandle], *, interval: float,
                 flush_rows: int, max_buffered_rows: int,
                 after_commit: Callable[[str], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 on_reject: list[Callable[[Rejected], None]] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        self.writer_id = os.urandom(8).hex()
        self.interval = interval
        self.flush_rows = flush_rows
        self.max_buffered_rows = max_buffered_rows
        self._tables = tables
        self._after_commit = after_commit
        self._on_idle = on_idle
        self._on_close = on_close  # after close()'s last commit, if this writer committed
        self._committed = False
        self._buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tables}
        self._buffered = 0
        # batches waiting for their commit, numbered for exactly-once commits (pending.py)
        self._pending = Pending(tables, f"lakeml-writer-{self.writer_id}",
                                reject=self._reject, landed=self._landed)
        self._in_flight: frozenset[str] = frozenset()  # taken from buffers, not yet pending
        self._carry = BucketCarry()  # metrics not yet in metric_buckets (bucket_carry.py)
        self._buckets_failed = False  # deriving failed once: derive no more (see below)
        self._lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._maintenance_due = False  # a commit happened since on_idle last ran
        self._maintained_at = 0.0  # when on_idle last ran (monotonic)
        self._forked = False
        self._divert: list[tuple[str, list[tuple[Any, ...]]]] | None = None  # see diverted
        self._divert_thread = 0
        self.last_error: LakemlError | None = None
        self._rejections = Rejections(on_reject)  # not yet reported by an explicit flush
        _live_writers.add(self)

    @property
    def app_id(self) -> str:
        """The Delta app id this writer's commits carry (one per writer; the server's
        journal committers share their journal's)."""
        return self._pending.app_id

    @app_id.setter
    def app_id(self, value: str) -> None:
        self._pending.app_id = value

    @property
    def round_bits(self) -> int | None:
        """The journal committer's numbering (see queue_batch): batch numbers are
        ``round << round_bits``, so that a split's parts fit inside their round."""
        return self._pending.round_bits

    @round_bits.setter
    def round_bits(self, value: int | None) -> None:
        self._pending.round_bits = value

    # ---- the hot path ---------------------------------------------------------
    def append(self, table: str, row: tuple[Any, ...]) -> None:
        """Buffer one row (a tuple in the table's column order: see store/rows.py)."""
        if self._divert is not None and self._diverts_here(table, [row]):
            return
        if self._forked:
            self._refuse_forked()
        with self._lock:
            self._buffers[table].append(row)
            self._buffered += 1
            buffered = self._buffered
        if self._thread is None or buffered >= self.flush_rows:
            self._after_buffering(buffered)

    def append_metric(self, run_id: str, key: str, value: float, step: int,
                      timestamp: int) -> None:
        """Buffer one ``metrics`` row from its columns, given in the table's order.

        log_metric's fast path: the one row built without a row builder
        (store/rows.py), which would cost a call more per point. A test holds
        these parameters to the columns of schemas.METRICS.
        """
        if self._divert is not None and self._diverts_here(
                "metrics", [(run_id, key, value, step, timestamp)]):
            return
        if self._forked:
            self._refuse_forked()
        with self._lock:
            self._buffers["metrics"].append((run_id, key, value, step, timestamp))
            self._buffered += 1
            buffered = self._buffered
        if self._thread is None or buffered >= self.flush_rows:
            self._after_buffering(buffered)

    def extend(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Buffer many rows of one table at once."""
        if not rows:
            return
        if self._divert is not None and self._diverts_here(table, rows):
            return
        if self._forked:
            self._refuse_forked()
        with self._lock:
            self._buffers[table].extend(rows)
            self._buffered += len(rows)
            buffered = self._buffered
        if self._thread is None or buffered >= self.flush_rows:
            self._after_buffering(buffered)

    # ---- diverting one caller's rows (the server's write-ahead journal) --------------
    @contextmanager
    def diverted(self) -> Iterator[list[tuple[str, list[tuple[Any, ...]]]]]:
        """Within the block, rows that *this thread* appends (append, append_metric,
        extend) are not buffered but collected, as ``(table, rows)``, in the list yielded.

        A server worker hands them to its journal (lakeml.server.journal), which commits
        them later through a writer of its own. Other threads buffer as usual. One
        diversion at a time per writer (the server's handler lock serialises them).
        """
        if self._divert is not None:
            raise InvalidState("rows are already being diverted from this writer")
        collected: list[tuple[str, list[tuple[Any, ...]]]] = []
        self._divert_thread = threading.get_ident()
        self._divert = collected
        try:
            yield collected
        finally:
            self._divert = None
            self._divert_thread = 0

    def _diverts_here(self, table: str, rows: list[tuple[Any, ...]]) -> bool:
        divert = self._divert
        if divert is None or threading.get_ident() != self._divert_thread:
            return False
        if table not in self._tables:
            raise KeyError(table)
        divert.append((table, list(rows)))
        return True

    def queue_batch(self, table: str, rows: list[tuple[Any, ...]], seq: int, *,
                    derived_only: str | None = None) -> None:
        """Queue ``rows`` of ``table`` as one pending batch numbered ``seq`` (and its derived
        tables' batches, numbered the same), for the next :meth:`flush`.

        For a writer whose batch numbers mean something outside it: the server's journal
        committer numbers each batch by the journal offset it ends at, so that after a
        crash a new committer (a new writer, same ``app_id``) skips what landed. ``seq``
        must exceed every number queued before for these tables; with ``round_bits``
        set, a refused batch is split inside its round (pending.py). ``derived_only``:
        queue only the batch of that table derived from ``table`` (the source's batch
        landed, this one did not). No background flusher is started: the caller flushes.
        """
        if not rows:
            return
        data = self._convert(table, rows)
        if data is None:
            return
        with self._flush_lock:
            derived = {d: DERIVE[d](data) for d, source in DERIVED.items()
                       if source == table and d in self._tables
                       and derived_only in (None, d)}
            if derived_only is not None and derived_only not in derived:
                raise ValueError(f"{derived_only!r} is not a table derived from {table!r}")
            self._pending.add_numbered({**({} if derived_only else {table: data}),
                                        **derived}, seq)

    def drop_pending(self) -> None:
        """Forget every pending batch and its numbering, uncommitted (a journal committer
        starting over from its journal, which skips by offset what landed)."""
        with self._flush_lock:
            self._pending.drop()

    def _after_buffering(self, buffered: int) -> None:
        """Start the flusher on first use; wake it once ``flush_rows`` rows wait, and
        flush in the caller once ``max_buffered_rows`` do (back-pressure: the flusher
        is not keeping up)."""
        if self._thread is None:
            self._start()
        if buffered >= self.flush_rows:
            self._wake.set()
            if buffered >= self.max_buffered_rows:
                self.flush(report=False)

    def has_unflushed(self, tables: Iterable[str] | None = None) -> bool:
        """Whether any row (of ``tables``, default any) is buffered or pending a commit."""
        if tables is None:
            return self._buffered > 0 or bool(self._in_flight) or \
                any(self._pending.batches.values())
        return any(self._buffers[t] or t in self._in_flight or self._pending.batches[t]
                   for t in tables)

    def unflushed_rows(self) -> int:
        """Rows logged but not yet committed."""
        return self._buffered + self._pending.rows(set(self._tables) - set(DERIVED))

    # ---- committing -----------------------------------------------------------
    def flush(self, *, report: bool = True) -> None:
        """Commit every buffered row now; raise if a table cannot be written.

        Rows that could not be committed stay pending and are retried by the
        next flush, so an error here loses nothing. With ``report`` (the
        default; the background flusher and reads pass False), raise
        InvalidArgument for the rows rejected since the last report.
        """
        with self._flush_lock:
            with self._lock:
                taken = {n: b for n, b in self._buffers.items() if b}
                for name in taken:
                    self._buffers[name] = []
                self._buffered = 0
                self._in_flight = frozenset(taken)
            try:
                while taken:
                    name = next(iter(taken))
                    data = self._convert(name, taken[name])
                    if data is not None:  # queues it and its derived batches, or nothing
                        self._add_pending(name, data)
                    del taken[name]  # queued: not put back below
            finally:
                with self._lock:  # an unexpected error: rows not yet queued go back
                    for name, rows in taken.items():
                        self._buffers[name][:0] = rows
                        self._buffered += len(rows)
                    self._in_flight = frozenset()
            first_error: LakemlError | None = None
            for wave in self._waves():
                # a derived table waits while its source still has batches (a failed
                # commit): latest points never show a point the history does not hold
                pending = self._pending.batches
                ready = [n for n in wave if pending[n]
                         and not (n in DERIVED and pending[DERIVED[n]])]
                for error in self._pending.commit_all(ready):
                    first_error = first_error or error
            self.last_error = first_error
            if first_error is not None:
                raise first_error
            if report:
                self.raise_rejected()

    def _waves(self) -> list[list[str]]:
        """This writer's tables in COMMIT_WAVES order (a table of no wave: alone, last)."""
        waves = [[n for n in wave if n in self._tables] for wave in COMMIT_WAVES]
        placed = {n for wave in waves for n in wave}
        waves += [[n] for n in self._tables if n not in placed]
        return [wave for wave in waves if wave]

    def raise_rejected(self) -> None:
        """Raise RowsRejected naming the rows rejected since the last report, if any."""
        self._rejections.report()

    def _reject(self, name: str, rows: list[Any], error: BaseException) -> None:
        self._rejections.add(name, rows, error)

    def append_table(self, table: str, data: pa.Table, *, fresh_keys: bool = False) -> None:
        """Queue an Arrow table of rows for the next commit (the bulk path).

        The rows skip the tuple buffer and are committed, idempotently like
        any batch, by the next flush. ``fresh_keys``: the rows' keys were made
        by the caller just now (new run ids), so a first-wins table (see
        first_wins) need not check them against committed rows.
        """
        if self._forked:
            self._refuse_forked()
        if self._divert is not None and threading.get_ident() == self._divert_thread:
            raise InvalidState(f"bulk rows of {table!r} cannot be diverted to the server's "
                               f"journal; this call must not be journaled")
        schema = self._tables[table].schema
        try:
            data = data.select(schema.names).cast(schema)
        except (ValueError, TypeError, KeyError) as exc:  # pyarrow's errors are ValueErrors
            raise InvalidArgument(f"rows for table {table!r} do not fit its schema: "
                                  f"{exc}") from None
        with self._flush_lock:
            seq = self._add_pending(table, data)
            if fresh_keys and table in first_wins.FIRST_WINS:
                self._pending.mark_fresh(table, seq)
        if self._thread is None:
            self._start()
        self._wake.set()

    def _add_pending(self, name: str, data: pa.Table) -> int:
        """Queue ``data`` as the next batch of ``name`` and of the tables derived from it
        (derived first: if deriving fails, nothing is queued; but metric_buckets only
        once a bucket's worth is carried, and a failure there is logged, see
        _bucket_rows). Returns the number of ``name``'s batch."""
        derived = {d: DERIVE[d](data) for d, source in DERIVED.items()
                   if source == name and d in self._tables and d != "metric_buckets"}
        if name == "metrics" and "metric_buckets" in self._tables:
            rows = self._bucket_rows(data)
            if rows is not None:
                derived["metric_buckets"] = rows
        seq = self._pending.add(name, data)
        for table, batch in derived.items():
            self._pending.add(table, batch)
        return seq

    def _bucket_rows(self, data: pa.Table | None) -> pa.Table | None:
        """metric_buckets rows of the points of ``data`` (None: of every carried one)
        now due (lakeml/store/bucket_carry.py), or None.

        A derivation that raises must not keep runs, params and tags from committing:
        it is logged, and this writer derives no more rows, so every later point of its
        runs stays after their rows' newest one, where charts read raw points
        (lakeml/ui/chart_buckets.py); ``rebuild-buckets`` derives them."""
        if self._buckets_failed:
            return None
        try:
            due = self._carry.drain() if data is None else self._carry.add(data)
            return DERIVE["metric_buckets"](due) if due is not None else None
        except Exception:  # noqa: BLE001 - any failure: the other tables still commit
            self._buckets_failed = True
            log.exception("lakeml could not derive metric_buckets rows; this writer "
                          "derives no more (charts read these runs' newer points raw; "
                          "`lakeml maintenance rebuild-buckets` derives them)")
            return None

    def _drain_carry(self) -> None:
        """Queue the bucket rows of every carried point (close())."""
        with self._flush_lock:
            if "metric_buckets" in self._tables:
                rows = self._bucket_rows(None)
                if rows is not None:
                    self._pending.add("metric_buckets", rows)

    def _convert(self, name: str, rows: list[tuple[Any, ...]]) -> pa.Table | None:
        """``rows`` as an Arrow table of ``name``'s schema, without the rows that have no
        such form (found by bisection, and rejected); None if no row is left."""
        try:
            return to_arrow(name, rows, self._tables[name].schema)
        except Exception as exc:  # a value the schema cannot hold: isolate its row
            if len(rows) == 1:
                self._reject(name, rows, exc)
                return None
        import pyarrow as pa

        mid = len(rows) // 2
        parts = [t for t in (self._convert(name, rows[:mid]), self._convert(name, rows[mid:]))
                 if t is not None]
        return pa.concat_tables(parts) if parts else None

    def _landed(self, name: str) -> None:
        """A commit of ``name`` landed (Pending.commit)."""
        self._committed = True
        if self._after_commit is not None:
            self._after_commit(name)
        # maintenance runs on the flusher thread, after explicit flushes too, at most
        # once per MAINTENANCE_SPACING: a pass after every commit would hold the
        # flush lock between a busy server's group commits
        if not self._maintenance_due:
            self._maintenance_due = True
            self._wake.set()

    # ---- the background flusher -------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="lakeml-flusher",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._closed:
            timeout = self.interval if failures == 0 else min(30.0, 2.0 ** failures)
            if self._maintenance_due and failures == 0:  # back when the pass may run
                timeout = min(timeout, max(0.0, self._maintained_at + MAINTENANCE_SPACING
                                           - time.monotonic()))
            self._wake.wait(timeout)
            self._wake.clear()
            if self._closed:
                break
            if not self.has_unflushed() and not self._maintenance_due:
                continue
            try:
                if self.has_unflushed():
                    self.flush(report=False)  # rejections are reported to the logging code
                failures = 0
                if self._maintenance_due and (time.monotonic() - self._maintained_at
                                              >= MAINTENANCE_SPACING):
                    self._maintenance_due = False
                    self._maintained_at = time.monotonic()
                    if self._on_idle is not None:
                        with self._flush_lock:
                            self._on_idle()
            except LakemlError as exc:
                failures += 1
                if failures == 1:
                    log.warning("lakeml could not commit logged rows (kept in memory, "
                                "will retry): %s", exc)
            except Exception:  # never let the flusher die silently
                failures += 1
                log.exception("lakeml flusher failed; rows kept in memory")

    def close(self) -> None:
        """Stop the flusher and commit what is left; raise if that fails. Then, if this
        writer ever committed, call ``on_close`` (once)."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=60)
        try:
            if self.has_unflushed():  # then the carried points, after their history
                self.flush(report=False)
            self._drain_carry()
            if self.has_unflushed():
                self.flush()
            else:
                self.raise_rejected()
        finally:  # rows refused or a store gone: what committed still gets its snapshot
            with self._flush_lock:  # not while a flush is submitting to the pool
                self._pending.shutdown()
            if self._committed and self._on_close is not None:
                on_close, self._on_close = self._on_close, None
                on_close()

    def _refuse_forked(self) -> None:
        raise InvalidState(
            "this process was forked from one that had already opened the lakeml store; "
            "deltalake's runtime does not survive fork(), so it cannot commit from here. "
            "Start worker processes with multiprocessing's 'spawn' or 'forkserver' method "
            "(multiprocessing.get_context('spawn')), or open the store only in the children.")

    def _forget_after_fork(self) -> None:
        # A forked child must not commit its parent's rows a second time, and
        # cannot commit at all (see _refuse_forked).
        self._forked = True
        self._committed = False
        self._lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._buffers = {name: [] for name in self._tables}
        self._buffered = 0
        self._rejections.forget()
        self._thread = None
        self.writer_id = os.urandom(8).hex()
        self._pending.after_fork(f"lakeml-writer-{self.writer_id}")
        self._carry = BucketCarry()  # the parent's points: its own close derives them


def _close_all_at_exit() -> None:
    for writer in list(_live_writers):
        try:
            writer.close()
        except InvalidArgument as exc:
            print(f"lakeml: at exit: {exc}", file=sys.stderr)
        except LakemlError as exc:
            print(f"lakeml: {writer.unflushed_rows()} logged rows could not be committed "
                  f"at exit: {exc}", file=sys.stderr)


def _after_fork_in_child() -> None:
    for writer in list(_live_writers):
        writer._forget_after_fork()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
