"""Group commit: the write requests one server worker answers share its commits.

A write request's handler buffers its rows in the Client (under the worker's handler
lock, which serialises calls into the Client: microseconds to a few milliseconds),
then waits, without that lock, for a commit that holds them. One thread commits at a
time: the first waiter that finds no commit running starts one, which takes every row
buffered so far (one Delta commit per table, in the writer's waves); requests that
arrive meanwhile wait for the next one. So N concurrent writes cost about two commits,
not N, and a request is answered 200 only after a commit that holds its rows succeeded.

When the commit fails (the store unreachable, conflicts beyond the writer's retries),
every request that waited on it gets the error (503 or 409). Its rows stay pending in
the writer, which retries them with the next commit, so they may still land: the
client's retry must then add nothing twice, and it does not (docs/server-durability.md,
"Retries": identical metric points read as one, a param's same value is dropped, a
tag set to the same value changes nothing).

When some rows are *rejected* (:class:`~lakeml.errors.RowsRejected`: a param that
another worker committed first with another value), every other row is committed; only
the requests whose rows they are (by run or experiment id) get the 400, the others 200.

Reads in the worker see committed rows only (:func:`commits_of` switches the store's
query engine to that): a read never commits other requests' buffered rows inside the
handler lock, and never shows a write that is not acknowledged yet.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lakeml.errors import RowsRejected

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.protocol import Fields

#: How many recent rejections a worker keeps for requests still waiting on a commit.
KEPT_REJECTIONS = 10_000


class GroupCommit:
    """Commits that concurrent writers share; ``flush`` commits everything buffered.

    A writer calls :meth:`mark` before buffering its rows, :meth:`ticket` after (both
    under the lock that serialises buffering), then :meth:`wait` without that lock.

    Example:
        >>> commits = GroupCommit(client.flush)                      # doctest: +SKIP
        >>> with lock:                                               # doctest: +SKIP
        ...     mark = commits.mark(); client.log_metric(...); ticket = commits.ticket()
        >>> commits.wait(ticket, mark, {run_id})                     # doctest: +SKIP
    """

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._cond = threading.Condition()
        self._started = 0  # the last commit begun (commits are numbered from 1)
        self._done = 0  # the last commit ended
        self._committing = False
        self._failed: dict[int, BaseException] = {}  # commit number -> its error
        self._rejections: list[RowsRejected] = []  # the last KEPT_REJECTIONS reported
        self._rejections_seen = 0  # rejections reported since the start
        #: called before a read or write that does not go through the journal, when the
        #: server has one (journal_writes.py sets it; the UI's routes call it)
        self.before_read: Callable[[], None] | None = None

    @property
    def commits(self) -> int:
        """How many commits have ended (a test counts them to see writes share them)."""
        return self._done

    def mark(self) -> int:
        """Where the log of rejections stands: call before buffering a request's rows (any
        rejection of them is reported after this)."""
        with self._cond:
            return self._rejections_seen

    def ticket(self) -> int:
        """The commit that will hold the rows buffered so far: the next one to start (a
        commit running now may have taken its rows before they were buffered)."""
        with self._cond:
            return self._started + 1

    def wait(self, ticket: int, mark: int, keys: Iterable[str]) -> None:
        """Return once commit ``ticket`` has ended (running it if no commit is running);
        raise its error, or a rejection since ``mark`` of rows under one of ``keys``."""
        with self._cond:
            while self._done < ticket:
                if self._committing:
                    self._cond.wait()
                else:
                    self._commit()
            error = self._failed.get(ticket)
            if error is None:
                error = self._rejection_of(mark, set(keys))
        if error is not None:
            raise error

    def _commit(self) -> None:
        """Run one commit (called with the condition held; released while committing)."""
        self._committing = True
        number = self._started = self._started + 1
        error: BaseException | None = None
        rejected: RowsRejected | None = None
        self._cond.release()
        try:
            self._flush()
        except RowsRejected as exc:  # every other row is committed
            rejected = exc
        except BaseException as exc:  # every waiter gets it, as its answer
            error = exc
        finally:
            self._cond.acquire()
            if rejected is not None:
                self._rejections.append(rejected)
                self._rejections_seen += 1
                del self._rejections[:-KEPT_REJECTIONS]
            if error is not None:
                self._failed[number] = error
                for old in [n for n in self._failed if n < number - KEPT_REJECTIONS]:
                    del self._failed[old]
            self._done = number
            self._committing = False
            self._cond.notify_all()

    def _rejection_of(self, mark: int, keys: set[str]) -> RowsRejected | None:
        kept_from = self._rejections_seen - len(self._rejections)
        for rejected in self._rejections[max(0, mark - kept_from):]:
            if rejected.keys & keys:
                return rejected
        return None


def request_keys(fields: Fields, body: dict[str, Any] | None) -> set[str]:
    """The ids a write request's rows are filed under: its run or experiment id (given,
    or made by the request, as a new run's)."""
    keys = {str(fields.get(name)) for name in ("run_id", "run_uuid", "experiment_id")
            if fields.get(name) is not None}
    if body:
        run = body.get("run")
        info = run.get("info") if isinstance(run, dict) else None
        if isinstance(info, dict) and info.get("run_id"):
            keys.add(str(info["run_id"]))
        if body.get("experiment_id"):
            keys.add(str(body["experiment_id"]))
    return keys


_commits: weakref.WeakKeyDictionary[Any, GroupCommit] = weakref.WeakKeyDictionary()
_commits_lock = threading.Lock()


def commits_of(client: Client) -> GroupCommit:
    """The group commit of ``client`` (one per Client, made on first use). Its store's
    reads then see committed rows only (see the module's docstring)."""
    with _commits_lock:
        found = _commits.get(client)
        if found is None:
            engine = getattr(client.tracking, "engine", None)  # a lake service's
            if engine is not None:
                engine.read_commits_only()
            found = _commits[client] = GroupCommit(client.flush)
        return found
