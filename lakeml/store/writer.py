"""The batched, idempotent writer behind every logging call.

A log call appends a tuple to an in-memory buffer (microseconds, no I/O). A
background thread commits the buffers every ``interval`` seconds, or sooner
once ``flush_rows`` rows wait; ``flush()``, ``close()`` and interpreter exit
commit the rest. A flush makes one Delta commit per table that has rows.

Each commit carries a Delta app transaction ``(writer id, batch sequence)``.
When a commit fails the batch stays pending; before it is retried the writer
asks the table which sequence it last committed under its id, so a commit
that landed although its acknowledgement was lost is never written twice.

What a ``kill -9`` can lose: the rows logged since the last completed flush,
that is at most ``interval`` seconds of logging plus one commit's time.
Committed rows are never damaged: a Delta commit is atomic.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lakeml.errors import CommitConflict, InvalidState, LakemlError, StoreUnavailable
from lakeml.store.derived import DERIVE
from lakeml.store.schemas import DERIVED

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.store.table import DeltaTableHandle

log = logging.getLogger(__name__)

_live_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


class Writer:
    """Buffers rows per table and commits them in the background."""

    def __init__(self, tables: dict[str, DeltaTableHandle], *, interval: float,
                 flush_rows: int, max_buffered_rows: int,
                 after_commit: Callable[[str], None] | None = None,
                 on_idle: Callable[[], None] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        self.writer_id = os.urandom(8).hex()
        self.app_id = f"lakeml-writer-{self.writer_id}"
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
        self._pending: dict[str, list[tuple[int, pa.Table]]] = {name: [] for name in tables}
        self._uncertain: set[str] = set()
        self._in_flight: frozenset[str] = frozenset()  # taken from buffers, not yet pending
        self._batch_seq = dict.fromkeys(tables, 0)
        self._lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._maintenance_due = False  # a commit happened since on_idle last ran
        self._forked = False
        self.last_error: LakemlError | None = None
        _live_writers.add(self)

    # ---- the hot path ---------------------------------------------------------
    def append(self, table: str, row: tuple[Any, ...]) -> None:
        """Buffer one row (a tuple in the table's column order)."""
        if self._forked:
            self._refuse_forked()
        with self._lock:
            self._buffers[table].append(row)
            self._buffered += 1
            buffered = self._buffered
        if self._thread is None:
            self._start()
        if buffered >= self.flush_rows:
            self._wake.set()
            if buffered >= self.max_buffered_rows:
                self.flush()  # back-pressure: the flusher is not keeping up

    def extend(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        """Buffer many rows of one table at once."""
        if not rows:
            return
        if self._forked:
            self._refuse_forked()
        with self._lock:
            self._buffers[table].extend(rows)
            self._buffered += len(rows)
            buffered = self._buffered
        if self._thread is None:
            self._start()
        if buffered >= self.flush_rows:
            self._wake.set()
            if buffered >= self.max_buffered_rows:
                self.flush()

    # ---- state --------------------------------------------------------------------
    def has_unflushed(self, tables: Iterable[str] | None = None) -> bool:
        """Whether any row (of ``tables``, default any) is buffered or pending a commit."""
        if tables is None:
            return self._buffered > 0 or bool(self._in_flight) or any(self._pending.values())
        return any(self._buffers[t] or t in self._in_flight or self._pending[t] for t in tables)

    def unflushed_rows(self) -> int:
        """Rows logged but not yet committed."""
        pending = sum(t.num_rows for name, batches in self._pending.items()
                      if name not in DERIVED for _, t in batches)
        return self._buffered + pending

    # ---- committing -----------------------------------------------------------
    def flush(self) -> None:
        """Commit every buffered row now; raise if a table cannot be written.

        Rows that could not be committed stay pending and are retried by the
        next flush, so an error here loses nothing.
        """
        with self._flush_lock:
            with self._lock:
                taken = {n: b for n, b in self._buffers.items() if b}
                for name in taken:
                    self._buffers[name] = []
                self._buffered = 0
                self._in_flight = frozenset(taken)
            try:
                for name, rows in taken.items():
                    self._add_pending(name, self._to_arrow(name, rows))
            finally:
                self._in_flight = frozenset()
            first_error: LakemlError | None = None
            for name in self._tables:  # schema order: runs before what refers to them
                if not self._pending[name]:
                    continue
                try:
                    self._commit_pending(name)
                except LakemlError as exc:
                    first_error = first_error or exc
            self.last_error = first_error
            if first_error is not None:
                raise first_error

    def append_table(self, table: str, data: pa.Table) -> None:
        """Queue an Arrow table of rows for the next commit (the bulk path).

        The rows skip the tuple buffer and are committed, idempotently like
        any batch, by the next flush.
        """
        if self._forked:
            self._refuse_forked()
        data = data.select(self._tables[table].schema.names).cast(self._tables[table].schema)
        with self._flush_lock:
            self._add_pending(table, data)
        if self._thread is None:
            self._start()
        self._wake.set()

    def _add_pending(self, name: str, data: pa.Table) -> None:
        """Queue ``data`` as the next batch of ``name`` and of the tables derived from it."""
        self._batch_seq[name] += 1
        self._pending[name].append((self._batch_seq[name], data))
        for derived, source in DERIVED.items():
            if source == name and derived in self._tables:
                self._batch_seq[derived] += 1
                self._pending[derived].append((self._batch_seq[derived],
                                               DERIVE[derived](data)))

    def _to_arrow(self, name: str, rows: list[tuple[Any, ...]]) -> pa.Table:
        import pyarrow as pa

        schema = self._tables[name].schema
        columns = list(zip(*rows))
        arrays = [pa.array(col, type=field.type) for col, field in zip(columns, schema)]
        return pa.Table.from_arrays(arrays, schema=schema)

    def _commit_pending(self, name: str) -> None:
        import pyarrow as pa

        handle = self._tables[name]
        for attempt in range(5):
            if name in self._uncertain:  # an earlier attempt may have landed
                done = handle.committed_version(self.app_id)
                self._pending[name] = [(s, t) for s, t in self._pending[name] if s > done]
                self._uncertain.discard(name)
                if not self._pending[name]:
                    return
            batches = self._pending[name]
            data = batches[0][1] if len(batches) == 1 else pa.concat_tables(
                [t for _, t in batches])
            try:
                handle.append(data, app_id=self.app_id, version=batches[-1][0])
            except (CommitConflict, StoreUnavailable) as exc:
                self._uncertain.add(name)
                if attempt == 4:
                    raise
                log.debug("commit to %s failed (%s); retrying", name, exc)
                time.sleep(0.05 * 2 ** attempt)
                continue
            self._pending[name] = []
            self._committed = True
            if self._after_commit is not None:
                self._after_commit(name)
            # maintenance runs on the flusher thread, after explicit flushes too
            self._maintenance_due = True
            self._wake.set()
            return

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
            self._wake.wait(self.interval if failures == 0 else min(30.0, 2.0 ** failures))
            self._wake.clear()
            if self._closed:
                break
            if not self.has_unflushed() and not self._maintenance_due:
                continue
            try:
                if self.has_unflushed():
                    self.flush()
                failures = 0
                self._maintenance_due = False
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
        if self.has_unflushed():
            self.flush()
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
        self._pending = {name: [] for name in self._tables}
        self._buffered = 0
        self._thread = None
        self.writer_id = os.urandom(8).hex()
        self.app_id = f"lakeml-writer-{self.writer_id}"
        self._batch_seq = dict.fromkeys(self._tables, 0)


def _close_all_at_exit() -> None:
    for writer in list(_live_writers):
        try:
            writer.close()
        except LakemlError as exc:
            print(f"lakeml: {writer.unflushed_rows()} logged rows could not be committed "
                  f"at exit: {exc}", file=sys.stderr)


def _after_fork_in_child() -> None:
    for writer in list(_live_writers):
        writer._forget_after_fork()


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
