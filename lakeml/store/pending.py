"""A writer's batches waiting for their Delta commit, and how each table's commit lands
exactly once (lakeml/store/writer.py buffers the rows and decides when to flush).

Every batch of a table has a number, growing in the order the batches were queued, and
its commit carries the Delta app transaction ``(app_id, number)``. A commit whose outcome
is unknown (a conflict, the store unreachable) leaves the table *uncertain*: before it is
tried again the table is asked which number it last committed under the app id, and the
batches up to it are dropped, so a commit that landed although its answer was lost is
never written twice.

A batch the table refuses (InvalidArgument: a CHECK constraint) is bisected, and its
parts committed one by one, down to the refused rows, which are rejected; every other row
is committed. First-wins tables (store/first_wins.py) are checked against their committed
rows first, and commit with guards a racer's commit of the same keys conflicts with.

With ``round_bits`` set (the server's journal committer), batch numbers are
``round << round_bits``, and a split round's parts are numbered inside it, its last part
carrying all the low bits (see lakeml/server/journal_commit.py's landed_through).
"""

from __future__ import annotations

import logging
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import (
    CommitConflict,
    InvalidArgument,
    InvalidState,
    LakemlError,
    StoreUnavailable,
)
from lakeml.store import first_wins
from lakeml.store.schemas import COMMIT_WAVES

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.store.table import DeltaTableHandle

log = logging.getLogger(__name__)

Batches = list[tuple[int, "pa.Table"]]


class Pending:
    """The numbered batches of each table not yet committed, and their commits.

    ``reject(table, rows, error)`` sets refused rows aside; ``landed(table)`` is told of
    each commit that landed. The caller serialises the calls (the writer's flush lock),
    but for commits of different tables, which may run at the same time.
    """

    def __init__(self, tables: dict[str, DeltaTableHandle], app_id: str, *,
                 reject: Callable[[str, list[Any], BaseException], None],
                 landed: Callable[[str], None]) -> None:
        self._tables = tables
        self.app_id = app_id
        #: The journal committer's numbering: batch numbers are ``round << round_bits``.
        self.round_bits: int | None = None
        self._reject = reject
        self._landed = landed
        self.batches: dict[str, Batches] = {name: [] for name in tables}
        self.seq = dict.fromkeys(tables, 0)  # each table's last batch number queued
        self.uncertain: set[str] = set()
        # first-wins batches of fresh keys: batch number -> the table version by which
        # no other writer could have their keys (see mark_fresh)
        self.fresh: dict[str, dict[int, int]] = {name: {} for name in tables}
        self._pool: ThreadPoolExecutor | None = None  # commits a wave's tables at once

    def add(self, table: str, batch: pa.Table) -> int:
        """Queue ``batch`` as the next batch of ``table``; its number."""
        self.seq[table] += 1
        self.batches[table].append((self.seq[table], batch))
        return self.seq[table]

    def mark_fresh(self, table: str, seq: int) -> None:
        """Batch ``seq`` of first-wins ``table`` holds keys no other writer can know yet
        (new runs): its commit reads no committed rows for them. It still carries their
        guards, conflict-checked from the table's version now, so a racer that learns
        a key and commits it before this batch makes the commit fail and check."""
        self.fresh[table][seq] = self._tables[table].writer_version()

    def add_numbered(self, queued: dict[str, pa.Table], seq: int) -> None:
        """Queue each table's batch of ``queued`` as number ``seq``, which must exceed
        every number queued before for these tables (checked first: all or none)."""
        for name in queued:
            if seq <= self.seq[name]:
                raise ValueError(f"batch {seq} of {name!r} is not after batch "
                                 f"{self.seq[name]}, queued before")
        for name, batch in queued.items():
            self.seq[name] = seq
            self.batches[name].append((seq, batch))

    def drop(self) -> None:
        """Forget every batch and the numbering, uncommitted: the next commit of each
        table first asks it what landed."""
        self.clear()
        self.uncertain = set(self._tables)

    def clear(self) -> None:
        """Forget every batch and the numbering (a forked child, with a new app id)."""
        self.batches = {name: [] for name in self._tables}
        self.seq = dict.fromkeys(self._tables, 0)
        self.fresh = {name: {} for name in self._tables}

    def rows(self, tables: set[str] | None = None) -> int:
        """Rows pending, of ``tables`` (default: all)."""
        return sum(t.num_rows for name, batches in self.batches.items()
                   if tables is None or name in tables for _, t in batches)

    def commit_all(self, names: list[str]) -> list[LakemlError]:
        """Commit the batches of ``names`` at the same time (each commit changes its own
        table's batches; what they share, the writer's rejections and flags, is changed
        under the GIL or the writer's lock); every commit ends before this returns.
        The errors of the tables that failed, in ``names`` order."""
        def commit(name: str) -> LakemlError | None:
            try:
                self.commit(name)
            except LakemlError as exc:
                return exc
            return None

        if len(names) <= 1:
            outcomes = [commit(name) for name in names]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=max(len(wave) for wave in COMMIT_WAVES),
                    thread_name_prefix="lakeml-commit")
            pool = self._pool
            futures: list[Future[LakemlError | None]] = []
            unexpected: BaseException | None = None
            for name in names:
                try:
                    futures.append(pool.submit(commit, name))
                except RuntimeError as exc:
                    if "cannot schedule new futures" not in str(exc):
                        unexpected = exc  # the others are still waited for below
                        break
                    # the interpreter is exiting (close() at exit): commit here
                    done: Future[LakemlError | None] = Future()
                    try:
                        done.set_result(commit(name))
                    except BaseException as error:  # noqa: BLE001 - handed on below
                        done.set_exception(error)
                    futures.append(done)
            outcomes = []
            for future in futures:  # wait for every one before raising anything
                try:
                    outcomes.append(future.result())
                except BaseException as exc:  # noqa: BLE001 - raised once all have ended
                    unexpected = unexpected or exc
            if unexpected is not None:
                raise unexpected
        return [error for error in outcomes if error is not None]

    def shutdown(self) -> None:
        """Let the commit threads go (the writer's close)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def after_fork(self, app_id: str) -> None:
        """In a forked child: nothing of the parent's, and a new app id (its commit
        threads did not survive the fork)."""
        self.clear()
        self.app_id = app_id
        self._pool = None

    def commit(self, name: str) -> None:
        """Commit the batches of ``name``: all at once, or one by one after the table
        refused a row (InvalidArgument), splitting refused batches down to the row."""
        import pyarrow as pa

        handle = self._tables[name]
        failures = lost_guards = 0
        one_by_one = False
        while self.batches[name]:
            if name in self.uncertain:  # an earlier attempt may have landed
                done = handle.committed_version(self.app_id)
                self.batches[name] = [(s, t) for s, t in self.batches[name]
                                      if s > done or self._replays_part(s, done)]
                self.uncertain.discard(name)
                if not self.batches[name]:
                    return
            count = 1 if one_by_one else len(self.batches[name])
            read_version, guards = None, None
            if name in first_wins.FIRST_WINS:
                claimed = self._claim(name, count)
                if claimed is None:
                    continue  # every row was already there, or rejected
                read_version, guards = claimed
                count = 1
            batches = self.batches[name][:count]
            data = batches[0][1] if len(batches) == 1 else pa.concat_tables(
                [t for _, t in batches])
            version = self._commit_number(name, batches[-1][0], len(batches))
            try:
                handle.append(data, app_id=self.app_id, version=version,
                              read_version=read_version, guards=guards)
            except (CommitConflict, StoreUnavailable) as exc:
                self.uncertain.add(name)
                if guards and isinstance(exc, CommitConflict) and lost_guards < 50:
                    lost_guards += 1  # a racer committed rows of the same guard: look again
                    time.sleep(random.uniform(0, 0.01 * lost_guards))
                    continue
                failures += 1
                if failures == 5:
                    raise
                log.debug("commit to %s failed (%s); retrying", name, exc)
                time.sleep(0.05 * 2 ** (failures - 1))
                continue
            except InvalidArgument as exc:  # no retry can fix it: isolate the refused rows
                one_by_one = True
                self._split_refused(name, data, len(batches), exc)
                continue
            del self.batches[name][:len(batches)]
            self._landed(name)

    def _claim(self, name: str, count: int) -> tuple[int | None, list[str]] | None:
        """Check the first ``count`` batches of first-wins table ``name`` against its
        committed rows (see first_wins): reject rows whose key holds another value, drop
        rows already there, and leave the rest as one batch. Returns (the table version
        the check stands on, the guards its commit must carry), or None if no row is
        left to commit. Fresh batches (mark_fresh) read nothing: their keys were nobody
        else's at the version they were marked at, which the commit is checked from."""
        import pyarrow as pa

        batches = self.batches[name][:count]
        marks = self.fresh[name]
        fresh = {s for s, _ in batches if s in marks}
        fresh_since = [marks.pop(s) for s in fresh]
        checked = [t for s, t in batches if s not in fresh]
        first_key = first_wins.FIRST_WINS[name][0][0]
        data = batches[0][1] if len(batches) == 1 else pa.concat_tables(
            [t for _, t in batches])
        version = min(fresh_since) if fresh_since else None
        if checked:  # (the fresh rows take part too: a key twice in the batches)
            firsts = pa.concat_tables(checked)[first_key].unique().to_pylist()
            read, committed = self._tables[name].read_where_in(
                first_key, firsts, self._tables[name].schema.names)
            version = read if version is None else min(version, read)
            keep, reject = first_wins.claim(name, data, committed)
            for i, error in reject:
                self._reject(name, data.slice(i, 1).to_pylist(), error)
            data = data.take(pa.array(keep, pa.int64()))
        if data.num_rows:
            guards = first_wins.guards(name, data[first_key].unique().to_pylist())
            self.batches[name][:count] = [(batches[-1][0], data)]
            return version, guards
        del self.batches[name][:count]
        return None

    def _replays_part(self, seq: int, done: int) -> bool:
        """Whether batch ``seq`` is a whole journal round (``round_bits``) of which only
        some split parts landed (``done``): it is committed again, not skipped."""
        if self.round_bits is None:
            return False
        mask = (1 << self.round_bits) - 1
        return (not seq & mask and done & mask not in (0, mask)
                and seq >> self.round_bits == done >> self.round_bits)

    def _commit_number(self, name: str, seq: int, count: int) -> int:
        """The number to commit batch ``seq`` under: itself, but the last part of a split
        journal round (``round_bits``) carries the round's full marker."""
        if self.round_bits is None:
            return seq
        mask = (1 << self.round_bits) - 1
        later = self.batches[name][count:]
        if seq & mask and not any(s >> self.round_bits == seq >> self.round_bits
                                  for s, _ in later):
            return seq | mask
        return seq

    def _split_refused(self, name: str, data: pa.Table, batches: int,
                       error: InvalidArgument) -> None:
        """Replace the first ``batches`` batches of ``name`` (refused as ``data``) by its
        two halves, or reject it if it is one row. Every batch gets a new number, in
        order: none of them was committed, and the numbers of an app id's commits must
        grow in the order they are made."""
        rest = [t for _, t in self.batches[name][batches:]]
        if data.num_rows == 1:
            self._reject(name, data.to_pylist(), error)
            parts = rest
        else:
            mid = data.num_rows // 2
            parts = [data.slice(0, mid), data.slice(mid), *rest]
        last = self.seq[name]
        seqs = range(last + 1, last + 1 + len(parts))
        bits = self.round_bits
        if bits is not None and parts and (seqs[-1] >> bits != last >> bits
                                           or seqs[-1] & ((1 << bits) - 1) == (1 << bits) - 1):
            raise InvalidState(f"table {name!r}: more than {(1 << bits) - 2} parts split "
                               f"from journal round {last >> bits}")
        self.batches[name] = list(zip(seqs, parts))
        self.seq[name] = last + len(parts)
