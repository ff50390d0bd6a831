"""How a server worker answers requests when the store has a write-ahead journal.

- A *journaled* write (a route whose ``writes`` flag is :data:`JOURNAL`: the run calls
  MLflow's clients make per run) runs its handler under the worker's lock with the
  writer's rows diverted (``Writer.diverted``), checks them against the journal
  (journal_view.py) and appends them as one record, under the journal's append lock;
  then, without any lock, waits for the fsync that covers it (shared with every request
  that appended meanwhile) and is answered 200. The committer (journal_commit.py) puts
  the rows in Delta later. If the append (or its fsync) fails, the request fails and the
  worker forgets what its handler cached of the runs its rows named (_forget_runs).
- Every other request first waits until the journal is committed up to the end it had
  when the request arrived (nothing pending: no wait), so it reads, and validates
  against, every write acknowledged before it, on any worker. A write of another route
  is then handled as without a journal: buffered, and answered after its Delta commit
  (group_commit.py).
- A journaled write that must read a run this worker does not know (made or changed by
  another worker) waits the same way before reading it (``Backend.before_miss_read``).

The journal is opt-in (``--journal on|DIR``, ``LAKEML_SERVER_JOURNAL``): without it every
write is answered after its Delta commit, so a reader outside the server (the library,
DuckDB, Spark) sees a write as soon as it is acknowledged, which is what the issue's
durability rule asks. With it, such a reader sees the write one committer round later
(within about a second), while everything read through the server still sees it at once.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import StoreUnavailable

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.group_commit import GroupCommit
    from lakeml.server.journal import Journal
    from lakeml.server.journal_commit import Committer
    from lakeml.server.protocol import Fields

#: The ``writes`` flag of a route whose writes are journaled (truthy: it writes).
JOURNAL = "journal"

#: What a module that caches runs (runs.py, rules.py) drops of one, with the Client and
#: the run id, when a request's change to it was not journaled after all (they import
#: this module and register here, so that it need not import them).
RUN_FORGETTERS: list[Callable[[Client, str], None]] = []

#: Seconds a read waits for the committer before it is answered 503.
READ_WAIT = 120.0
#: Seconds between a waiting read's touches of the journal's urgent file (wait_committed).
REHURRY = 0.02
#: Seconds a stopping worker waits for the journal to be committed.
DRAIN_WAIT = 30.0

log = logging.getLogger("lakeml.server")


class WouldWait(Exception):
    """A handler running on the event loop would wait for the committer (see
    JournaledWorker.wait_committed)."""


def journal_folder(store_uri: str) -> str | None:
    """The journal folder of ``store_uri``, from ``LAKEML_SERVER_JOURNAL``: unset, empty or
    ``off``: None (no journal: every write answered after its Delta commit, the default);
    ``on``: ``~/.cache/lakeml/journal/<digest of the URI>``; anything else: that folder."""
    setting = os.environ.get("LAKEML_SERVER_JOURNAL", "").strip()
    if setting.lower() in ("", "off"):
        return None
    if setting.lower() != "on":
        return setting
    from lakeml.store.file_cache import cache_root

    digest = hashlib.sha256(store_uri.encode()).hexdigest()[:24]
    return str(cache_root().parent / "journal" / digest)


class JournaledWorker:
    """One worker's journal, view and committer for one Client's store."""

    def __init__(self, client: Client, folder: str) -> None:
        from lakeml.server.journal import Journal
        from lakeml.server.journal_commit import Committer
        from lakeml.server.journal_view import JournalView

        tracking = client.tracking
        backend = tracking.backend  # the lake service's per-store state (run cache)
        self.client = client
        self.store = tracking.store
        self.journal = Journal(folder, self.store.uri)
        origin = f"{os.getpid()}-{os.urandom(4).hex()}"
        self.view = JournalView(self.journal, backend, origin)
        self.committer = Committer(self.journal, self.store, self._audit)
        backend.before_miss_read = self.wait_committed
        from lakeml.server.group_commit import commits_of

        commits_of(client).before_read = self.wait_committed  # the UI's routes
        self.committer.start()
        # the rows of each appended request until its fsync is known (journal offset ->
        # rows), to forget what its handler cached if the fsync fails
        self._appended: dict[int, list[tuple[str, list[tuple[Any, ...]]]]] = {}
        self._loop_thread: int | None = None  # the thread running a non-blocking append
        atexit.register(self._drain)

    def _drain(self) -> None:
        """At exit (the server stopped): leave nothing pending in the journal if a
        committer can commit it, so that readers of the store see every acknowledged write
        without waiting for the server's next start."""
        try:
            self.wait_committed(timeout=DRAIN_WAIT)
        except Exception as exc:  # noqa: BLE001 - the next start commits them
            log.warning("journal not committed at exit (the next start commits it): %s", exc)

    def _audit(self, table: str, message: str) -> None:
        record = getattr(self.client.registry, "record_denied", None)
        if record is not None:
            record("journal_rejected", message, key=table)

    # ---- requests ---------------------------------------------------------------------
    def call(self, lock: threading.Lock, handler: Callable[[Client, Fields], dict[str, Any]],
             fields: Fields, writes: Any, commits: GroupCommit) -> dict[str, Any]:
        """Answer one request (see the module's docstring)."""
        if writes == JOURNAL:
            return self._journaled(lock, handler, fields)
        self.wait_committed()
        if not writes:
            with lock:
                self.view.catch_up()  # (keeps it close to the end: see JournalView)
                return handler(self.client, fields)
        from lakeml.server.group_commit import request_keys

        with lock:  # as without a journal: buffer, then wait for a commit holding the rows
            self.view.catch_up()
            mark = commits.mark()
            body = handler(self.client, fields)
            ticket = commits.ticket()
        commits.wait(ticket, mark, request_keys(fields, body))
        return body

    def _journaled(self, lock: threading.Lock,
                   handler: Callable[[Client, Fields], dict[str, Any]],
                   fields: Fields) -> dict[str, Any]:
        appended = self.append(lock, handler, fields)
        assert appended is not None  # (blocking)
        body, end = appended
        if end is None:
            return body
        try:
            self.journal.sync(end)
        except BaseException:
            self.sync_failed(lock, end)
            raise
        self.synced(end)
        return body

    def append(self, lock: threading.Lock, handler: Callable[[Client, Fields], dict[str, Any]],
               fields: Fields, *, blocking: bool = True
               ) -> tuple[dict[str, Any], int | None] | None:
        """Run a journaled write's handler and append its rows: its body and the journal
        offset to fsync up to before answering (None: it wrote nothing). With ``blocking``
        False (on the event loop), None if the worker's lock is taken or the handler would
        wait for the committer (it must read a run other workers changed): the caller
        then handles the request in a thread. The caller answers after the fsync,
        telling :meth:`synced` or :meth:`sync_failed`."""
        if not lock.acquire(blocking):
            return None
        self._loop_thread = None if blocking else threading.get_ident()
        try:
            body, end = self._append_locked(handler, fields)
        except WouldWait:
            return None
        finally:
            self._loop_thread = None
            lock.release()
        if end is not None:
            self.committer.wake.set()
        return body, end

    def _append_locked(self, handler: Callable[[Client, Fields], dict[str, Any]],
                       fields: Fields) -> tuple[dict[str, Any], int | None]:
        from lakeml.server.journal import frame

        writer = self.store.writer
        journal = self.journal
        self.view.catch_up()  # other workers' runs and params, before validating
        with writer.diverted() as tables:
            try:
                body = handler(self.client, fields)
            except WouldWait:  # its rows dropped: the request is handled again, in a thread
                self._unwrite_runs(tables)
                raise
            except BaseException:
                for table, rows in tables:  # as without a journal: buffered anyway
                    writer.extend(table, rows)
                raise
        if not tables:
            return body, None
        try:
            data = frame((self.view.origin, tables))
            with journal.locked():
                self.view.catch_up(repair=True)
                self.view.check(tables)
                end = journal.append_locked(data, self.view.tail())
                self.view.appended(end, len(data), tables)
        except BaseException:
            self._forget_runs(tables)
            raise
        self._appended[end] = tables
        return body, end

    def on_loop(self, fields: Fields) -> bool:
        """Whether a journaled write may run on the event loop's thread (no thread hop):
        its handler then does no waiting, as the store is a local folder (its checks for
        other writers' commits are a stat, not a listing over the network) and the run it
        names, if any, is one this worker knows (no read of it, which could wait for the
        committer). The others go through a thread, as every other request."""
        if not self.store.is_local:
            return False
        run_id = fields.get("run_id") or fields.get("run_uuid")
        if run_id is None:
            return True
        # (not a string: the thread's handler refuses it, naming it)
        return isinstance(run_id, str) and run_id in self.client.tracking.backend.runs

    def sync_failed(self, lock: threading.Lock, end: int) -> None:
        """The fsync up to ``end`` (of :meth:`append`) failed: the request fails, and what
        its handler cached is forgotten."""
        with lock:
            self._forget_runs(self._appended.pop(end, []))

    def synced(self, end: int) -> None:
        """The fsync up to ``end`` (of :meth:`append`) succeeded."""
        self._appended.pop(end, None)

    def _forget_runs(self, tables: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """The request's rows were not journaled (record too big, refused by the view's
        check, a full disk, an fsync failing), but its handler changed this worker's
        caches as if they had been: a run its ``runs`` rows made or changed is dropped from
        them (the run cache, and RUN_FORGETTERS: runs.py's kept infos, the rules' run ->
        experiment), and the run freshness stops looking for those rows; the next
        request about it reads it again. Of a run its other rows name, only the params
        can be wrong (RunState holds no tag or metric): they are read again, and the run
        stays cached (dropping it would make the next request on it wait for the
        committer). Call holding the worker's lock."""
        from lakeml.store.schemas import TABLES

        changed = {row[0] for table, rows in tables if table == "runs" for row in rows}
        named = {row[0] for table, rows in tables
                 if table in TABLES and TABLES[table].names[0] == "run_id" for row in rows}
        self._unwrite_runs(tables)
        runs = self.client.tracking.backend.runs
        for run_id in changed:
            runs.pop(run_id, None)
            for forget in RUN_FORGETTERS:
                forget(self.client, run_id)
        for run_id in named - changed:
            state = runs.get(run_id)
            if state is not None:
                state.params = None

    def _unwrite_runs(self, tables: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Rows of ``tables`` that will not be journaled: the run freshness stops looking
        for their ``runs`` rows (else it would keep them for the worker's life)."""
        from lakeml.store.schemas import TABLES

        freshness = self.client.tracking.backend.freshness
        seq = TABLES["runs"].names.index("seq")
        for table, rows in tables:
            if table == "runs":
                for row in rows:
                    freshness.unwrote(row[0], row[seq])

    def wait_committed(self, timeout: float | None = None) -> None:
        """Return once every record appended before this call is committed to Delta
        (StoreUnavailable after ``timeout``, default READ_WAIT, seconds). On the event
        loop's thread (a request :meth:`append` runs there) a wait would stall every
        connection of the worker: WouldWait instead, and the request goes to a thread."""
        if self._loop_thread == threading.get_ident():
            if self.journal.watermark() < self.journal.end():
                raise WouldWait()
            return
        wait_committed(self.journal, self.committer, timeout)


def wait_committed(journal: Journal, committer: Committer, timeout: float | None = None) -> None:
    """Return once ``journal`` is committed up to the end it had at the call (see
    JournaledWorker.wait_committed). The end then may count the bytes of a torn append,
    which the committer cuts off: the target is lowered to the end whenever the end is
    below it, or the watermark would never reach it."""
    target = journal.end()
    if journal.watermark() >= target:
        return
    committer.urgent.set()
    committer.wake.set()
    journal.hurry()  # (the committer may be another worker's)
    limit = READ_WAIT if timeout is None else timeout
    deadline = time.monotonic() + limit
    hurried = time.monotonic()
    pause = 0.0005
    while journal.watermark() < target:
        now = time.monotonic()
        if now > deadline:
            raise StoreUnavailable(
                f"the server's journal ({str(journal.folder)!r}) is not committed to the "
                f"store after {limit:.0f} s; see the server's log")
        if now - hurried > REHURRY:  # a touch in the same clock tick as another changes
            journal.hurry()          # nothing the committer sees: touch again
            hurried = now
        time.sleep(pause)
        pause = min(0.005, pause * 2)
        target = min(target, journal.end())


_workers: weakref.WeakKeyDictionary[Any, JournaledWorker | None] = weakref.WeakKeyDictionary()
_workers_lock = threading.Lock()


def journal_of(client: Client) -> JournaledWorker | None:
    """The journal of ``client``'s store in this worker (made on first use), or None:
    journal off, or not a lake store."""
    with _workers_lock:
        if client in _workers:
            return _workers[client]
        tracking = client.tracking
        store = getattr(tracking, "store", None)
        folder = journal_folder(store.uri) if store is not None and \
            hasattr(tracking, "backend") else None
        worker = _workers[client] = JournaledWorker(client, folder) if folder else None
        return worker
