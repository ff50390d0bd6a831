"""The server's write-ahead journal: where a write request's rows are durable before Delta.

A journaled write request is answered 200 once its rows are appended to this journal and
fsync'd, not once they are committed to Delta (docs/server-durability.md). One journal
serves one store for every worker process of the server(s) pointed at its folder:

- ``<folder>/<start>.seg``: segments of records, each named by the logical offset of its
  first byte (20 digits); appends go to the newest. A record is a frame: its length and
  CRC-32 (``<II``), then a pickle of ``(origin, [(table, rows), ...])``: the rows a
  request's handler buffered, exactly as the writer would have (server-made ids and
  times included), so committing them needs no validation again.
- ``<folder>/committed``: the watermark, the logical offset up to which every record is
  committed to Delta (written to a new file, fsync'd, renamed).
- ``<folder>/append.lock``: the fcntl lock appenders (and the rotation) hold;
  ``<folder>/committer.lock``: held by the one committer (journal_commit.py).
- ``<folder>/id``, ``<folder>/store``: the journal's id (its app transaction id in Delta
  is ``lakeml-journal-<id>``) and the store it belongs to (another store refuses it).

Appends hold the in-process mutex and the fcntl lock only to read what other workers
appended (the worker's view, journal_view.py, checks a request against it) and to write
one frame; the fsync is shared by every request that appended meanwhile (group fsync).

Offsets are logical and never reused: when everything is committed, the committer starts
a new segment at the end and deletes the old one ("rotation"), so the journal stays as
small as what is pending.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import struct
import threading
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from lakeml.errors import InvalidArgument, InvalidState

log = logging.getLogger("lakeml.server")

HEADER = struct.Struct("<II")
SUFFIX = ".seg"
#: Records larger than this are refused (a log-batch of MLflow's limits is ~100 KB).
MAX_RECORD = 64 << 20

Record = tuple[str, list[tuple[str, list[tuple[Any, ...]]]]]  # (origin, [(table, rows)])


def segment_name(start: int) -> str:
    return f"{start:020d}{SUFFIX}"


def frame(record: Record) -> bytes:
    payload = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > MAX_RECORD:
        raise InvalidArgument(f"the request's rows take {len(payload)} bytes; the server "
                              f"journals at most {MAX_RECORD} per request")
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _check_private(folder: Path) -> None:
    """Refuse a journal folder another user could write to: its records are unpickled
    when committed, so whoever writes a segment there runs code in the server."""
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise InvalidState(f"the journal folder {str(folder)!r} must belong to this user "
                           f"(uid {os.getuid()}) and not be writable by group or others "
                           f"(mode {oct(info.st_mode & 0o777)}): its records are loaded "
                           "as Python objects; use a private folder (chmod 700)")


class Journal:
    """One store's journal in ``folder`` (created if missing), shared by processes."""

    def __init__(self, folder: str | os.PathLike[str], store_uri: str) -> None:
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._prefix = os.path.join(str(self.folder), "")  # (superseded: no Path per call)
        _check_private(self.folder)
        self._mutex = threading.Lock()  # the fcntl lock does not exclude this process's threads
        self.holds = 0  # how many times this process took the lock (tells a Reader.tail's)
        self._lock_fd = os.open(self.folder / "append.lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._fd: int | None = None  # the segment this process appends to
        self._fd_start = 0
        self._fd_inode = -1
        self._sync = threading.Condition()
        self._written: tuple[int, int] = (0, -1)  # (logical end, fd) of the last append here
        self._synced = 0
        self._syncing = False
        self._waiters: list[tuple[int, Callable[[BaseException | None], None]]] = []
        self._wanted = threading.Event()  # set when _waiters has work for the sync thread
        self._syncer: threading.Thread | None = None
        self._end_fd: int | None = None  # for end(): the newest segment, reopened on rotation
        self._end_lock = threading.Lock()
        self._end_start = 0
        with self.locked():
            # no segment and no watermark: offsets start at 0 again, so the journal needs a
            # new app id, or its records would be skipped as committed under the old one
            fresh = not self.segments() and not (self.folder / "committed").exists()
            self.id = self._identity(store_uri, fresh)
            self._settle_rotation()
            if not self.segments():
                self._create_segment(self.watermark())
        self.app_id = f"lakeml-journal-{self.id}"

    def _identity(self, store_uri: str, fresh: bool) -> str:
        """The journal's id, checking the store it belongs to; a new one if ``fresh``."""
        store_file, id_file = self.folder / "store", self.folder / "id"
        if store_file.exists():
            owner = store_file.read_text().strip()
            if owner != store_uri:
                raise InvalidArgument(f"journal folder {str(self.folder)!r} belongs to store "
                                      f"{owner!r}, not {store_uri!r}: give each store its own "
                                      f"--journal folder")
            if not fresh and id_file.exists():
                return id_file.read_text().strip()
        ident = os.urandom(8).hex()
        _write_durably(id_file, ident)
        _write_durably(store_file, store_uri)
        return ident

    # ---- locking and layout -----------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the append lock (this process's threads and other processes)."""
        with self._mutex:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self.holds += 1
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def segments(self) -> list[int]:
        """The start offsets of the segments on disk, oldest first."""
        return sorted(int(name[:-len(SUFFIX)]) for name in os.listdir(self.folder)
                      if name.endswith(SUFFIX) and name[:-len(SUFFIX)].isdigit())

    def segment_path(self, start: int) -> Path:
        return self.folder / segment_name(start)

    def superseded(self, start: int, size: int) -> bool:
        """Whether a newer segment begins where the segment at ``start``, ``size`` bytes
        long, ends: a rotation created it (every rotation starts the next segment at the
        newest one's end, holding the append lock), even one killed before it deleted the
        old segment, which then is still linked. One stat, not a listing. (An empty
        segment is never rotated away: no newer one begins where it does.)"""
        return size > 0 and os.path.exists(self._prefix + segment_name(start + size))

    def _overrun(self, starts: list[int]) -> list[int]:
        """The segments (not the newest) that hold bytes past the next one's start: records
        appended to a segment a rotation had already replaced (by an older server's worker
        that kept appending to its cached segment after a rotation was killed half-way)."""
        return [start for start, after in zip(starts, starts[1:])
                if start + self.segment_path(start).stat().st_size > after]

    def _settle_rotation(self) -> None:
        """On open, under the lock: a rotation killed between creating the new segment and
        deleting the old ones leaves them; that is harmless unless records were appended to
        an old one past the new one's start (readers would never read them, the next
        rotation would delete them). If every newer segment is still empty, delete those:
        the old segment is the newest again and its records are read in order. Otherwise
        the journal cannot be read in order: refuse to open it."""
        starts = self.segments()
        overrun = self._overrun(starts)
        if not overrun:
            return
        later = [s for s in starts if s > overrun[0]]
        if any(self.segment_path(s).stat().st_size for s in later):
            raise InvalidState(
                f"journal {str(self.folder)!r}: segment {segment_name(overrun[0])} holds "
                f"records past the start of a newer segment that holds records too "
                f"({', '.join(segment_name(s) for s in later)}); they cannot be committed in "
                f"order. Stop every server using it and move the segments' records into "
                f"Delta by hand, or move the folder away to start an empty journal")
        for start in later:
            self.segment_path(start).unlink()
        _fsync_folder(self.folder)

    def _create_segment(self, start: int) -> None:
        """A new empty segment at ``start`` whose name is durable (call holding the lock)."""
        fd = os.open(self.segment_path(start), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        _fsync_folder(self.folder)

    # ---- the watermark ----------------------------------------------------------------
    def watermark(self) -> int:
        """The offset up to which every record is committed to Delta."""
        try:
            return int((self.folder / "committed").read_text() or 0)
        except FileNotFoundError:
            return 0

    def set_watermark(self, offset: int) -> None:
        _write_durably(self.folder / "committed", str(offset))

    def end(self) -> int:
        """The logical end of the journal now (complete records or not)."""
        with self._end_lock:  # (threads share the cached descriptor)
            return self._end()

    def _end(self) -> int:
        for _ in range(100):
            fd = self._end_fd
            if fd is not None:
                stat = os.fstat(fd)
                if stat.st_nlink and not self.superseded(self._end_start, stat.st_size):
                    return self._end_start + stat.st_size
                os.close(fd)
                self._end_fd = None
            starts = self.segments()
            if not starts:
                continue
            try:
                self._end_fd = os.open(self.segment_path(starts[-1]), os.O_RDONLY)
            except FileNotFoundError:  # rotated meanwhile: list again
                continue
            self._end_start = starts[-1]
        raise OSError(f"journal {str(self.folder)!r} has no segment")

    def hurry(self) -> None:
        """Ask the committer, in whichever process, to start its next round now (a read is
        waiting): touches ``<folder>/urgent``, whose change the committer watches."""
        path = self.folder / "urgent"
        try:
            os.utime(path)
        except FileNotFoundError:
            path.touch()

    def hurried_at(self) -> int:
        """When :meth:`hurry` was last called (ns; 0: never)."""
        try:
            return (self.folder / "urgent").stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def pending(self) -> bool:
        """Whether some appended record is not committed yet."""
        return self.end() > self.watermark()

    # ---- appending ------------------------------------------------------------------
    def append_locked(self, data: bytes, tail: tuple[int, int, int, int] | None = None
                      ) -> int:
        """Write one frame (call holding :meth:`locked`, after reading what others wrote);
        the logical end after it. Durable only after :meth:`sync` of that end. ``tail``:
        a reader's :attr:`Reader.tail`, which saves looking at the segment again when it
        was read in this hold of the lock and is the one this process appends to."""
        fd = self._fd
        size = 0
        if fd is not None and tail is not None and tail[3] == self.holds \
                and tail[0] == self._fd_start and tail[2] == self._fd_inode:
            size = tail[1]  # the newest segment, that long, as read under this lock
        elif fd is not None:
            # still the newest segment (see superseded)? Else append to the newest. (A
            # segment an older lakeml appended to past a killed rotation's new segment
            # goes unnoticed here until the next rotation; the next start repairs it.)
            stat = os.fstat(fd)
            size = stat.st_size
            if not stat.st_nlink or self.superseded(self._fd_start, size):
                os.close(fd)
                fd = self._fd = None
        if fd is None:
            self._fd_start = self.segments()[-1]
            fd = self._fd = os.open(self.segment_path(self._fd_start),
                                    os.O_WRONLY | os.O_APPEND)
            stat = os.fstat(fd)
            size, self._fd_inode = stat.st_size, stat.st_ino
        written = os.write(fd, data)
        if written != len(data):  # a full disk: take the partial frame back
            os.ftruncate(fd, size)
            raise OSError(f"journal {str(self.folder)!r}: only {written} of {len(data)} "
                          f"bytes written (disk full?)")
        end = self._fd_start + size + written
        with self._sync:
            self._written = (end, fd)
        return end

    def appending_segment(self) -> int | None:
        """The start of the segment this process appends to (None: none yet)."""
        return self._fd_start if self._fd is not None else None

    def sync(self, end: int) -> None:
        """Return once the journal is fsync'd up to ``end``: one fsync for every request of
        this process that appended meanwhile."""
        with self._sync:
            while self._synced < end:
                if self._syncing:
                    self._sync.wait()
                    continue
                self._syncing = True
                target, fd = self._written
                self._sync.release()
                try:
                    os.fdatasync(fd)
                finally:
                    self._sync.acquire()
                    self._syncing = False
                    self._sync.notify_all()
                # a segment's records are committed (durable) before it is rotated away, so
                # syncing the newest segment covers every record up to ``target``
                self._synced = max(self._synced, target)

    def sync_then(self, end: int, done: Callable[[BaseException | None], None]) -> None:
        """Call ``done(None)`` once the journal is fsync'd up to ``end`` (``done(error)`` if
        the fsync failed): at once if it is, else from this process's sync thread, which
        serves every waiter of a round with one fsync. For callers that must not block
        (the server's event loop)."""
        with self._sync:
            if self._synced < end:
                self._waiters.append((end, done))
                if self._syncer is None or not self._syncer.is_alive():
                    self._syncer = threading.Thread(target=self._sync_loop, daemon=True,
                                                    name="lakeml-journal-sync")
                    self._syncer.start()
                self._wanted.set()
                return
        done(None)

    def _sync_loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            with self._sync:
                waiters, self._waiters = self._waiters, []
            if not waiters:
                continue
            error: BaseException | None = None
            try:
                self.sync(max(end for end, _ in waiters))
            except BaseException as exc:  # noqa: BLE001 - each waiter is told
                error = exc
            for _, done in waiters:
                try:
                    done(error)
                except Exception:  # noqa: BLE001 - one waiter's failure is not the others'
                    log.exception("a journal sync waiter failed")

    def rotate_if_committed(self, watermark: int) -> bool:
        """Start a new segment and delete the others if everything up to the end is
        committed (``watermark`` is the end); whether it did."""
        with self.locked():
            starts = self.segments()
            newest = starts[-1]
            size = self.segment_path(newest).stat().st_size
            if newest + size != watermark or (size == 0 and len(starts) == 1):
                return False
            if self._overrun(starts):  # never delete records that were never read
                raise InvalidState(f"journal {str(self.folder)!r}: a segment holds records "
                                   f"past a newer segment's start; restart the server to "
                                   f"repair it")
            if size:
                self._create_segment(watermark)
            for start in starts:
                if start != watermark:
                    self.segment_path(start).unlink()
            _fsync_folder(self.folder)
            return True

    def close(self) -> None:
        for fd in (self._fd, self._end_fd):
            if fd is not None:
                os.close(fd)
        self._fd = self._end_fd = None


class Reader:
    """Reads a journal's records in order from a logical offset, across rotations."""

    def __init__(self, journal: Journal, offset: int) -> None:
        self.journal = journal
        self.offset = offset  # the logical offset of the next record to read
        self._fd: int | None = None
        self._start = 0
        self.lost = False  # the segment holding ``offset`` was gone (rotated): see reset
        #: after a read that ended at the end of the newest segment: (its start, size,
        #: inode, the journal's lock holds then), else None (see Journal.append_locked)
        self.tail: tuple[int, int, int, int] | None = None

    def _open(self) -> bool:
        starts = self.journal.segments()
        holding = [s for s in starts if s <= self.offset]
        if not holding or (holding[-1] != self.offset and self._past_end(holding[-1])):
            # what this reader had not read was committed and rotated away: go on from the
            # oldest segment, and tell the caller (it may have cached what it missed)
            if not starts:
                return False
            self.lost = True
            self.offset = starts[0] if not holding else starts[-1]
            holding = [self.offset]
        try:
            self._fd = os.open(self.journal.segment_path(holding[-1]), os.O_RDONLY)
        except FileNotFoundError:
            return False
        self._start = holding[-1]
        return True

    def at(self, offset: int, segment: int | None) -> bool:
        """Whether the next record to read starts at ``offset`` in the open segment that
        starts at ``segment``."""
        return self._fd is not None and self.offset == offset and self._start == segment

    def _past_end(self, start: int) -> bool:
        try:
            return start + self.journal.segment_path(start).stat().st_size < self.offset
        except FileNotFoundError:
            return True

    def read(self, *, repair: bool = False) -> list[tuple[int, Record]]:
        """The complete records from the offset on, as (logical end, record). ``repair``
        (only while holding the append lock, when no append is in flight): a trailing
        partial or corrupt frame (or zeros) is a torn append of a killed process or what
        a power loss left, and is cut off."""
        out: list[tuple[int, Record]] = []
        self.tail = None
        while True:
            if self._fd is None and not self._open():
                return out
            assert self._fd is not None
            stat = os.fstat(self._fd)
            position = self.offset - self._start
            data = (os.pread(self._fd, stat.st_size - position, position)
                    if stat.st_size > position else b"")
            used = 0
            while len(data) - used >= HEADER.size:
                length, crc = HEADER.unpack_from(data, used)
                body = data[used + HEADER.size:used + HEADER.size + length]
                # length 0 is never written (a pickle is not empty): zeros a power loss
                # left at the tail, whose CRC-32 is 0 too; like a record that does not
                # unpickle, it is torn: stop there, keep what was read before
                if not length or len(body) < length or zlib.crc32(body) != crc:
                    break
                try:
                    record = pickle.loads(body)
                except Exception:  # noqa: BLE001 - any failure: not a record we wrote
                    break
                used += HEADER.size + length
                out.append((self._start + position + used, record))
            self.offset += used
            if used < len(data):  # a frame not (yet) complete
                if repair:
                    with open(self.journal.segment_path(self._start), "r+b") as fh:
                        fh.truncate(self.offset - self._start)
                        os.fsync(fh.fileno())
                return out
            if stat.st_nlink and not self.journal.superseded(self._start, stat.st_size):
                self.tail = (self._start, stat.st_size, stat.st_ino, self.journal.holds)
                return out  # the newest segment: nothing more yet
            os.close(self._fd)  # rotated: the next segment starts where this one ended
            self._fd = None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _write_durably(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def wait_settled(folder: str | os.PathLike[str], timeout: float = 60.0) -> None:
    """Return once the journal in ``folder`` is committed up to its end (for a process that
    reads the store directly, outside the server, and must see every write the server
    acknowledged so far); TimeoutError after ``timeout`` seconds. No journal: at once."""
    import time

    path = Path(folder)
    deadline = time.monotonic() + timeout
    try:
        os.utime(path / "urgent")  # the committer starts its next round now (Journal.hurry)
    except FileNotFoundError:
        pass  # no committer has run here yet
    while True:
        try:
            starts = sorted(int(p.name[:-len(SUFFIX)]) for p in path.glob("*" + SUFFIX))
            end = starts[-1] + segment_path_size(path, starts[-1]) if starts else 0
            text = (path / "committed").read_text() if (path / "committed").exists() else ""
            if int(text or 0) >= end:
                return
        except (FileNotFoundError, ValueError):
            pass  # rotated or written meanwhile: look again
        if time.monotonic() > deadline:
            raise TimeoutError(f"journal {str(path)!r} is not committed after {timeout} s")
        time.sleep(0.01)


def segment_path_size(folder: Path, start: int) -> int:
    return (folder / segment_name(start)).stat().st_size
