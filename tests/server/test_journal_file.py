"""The journal's files (lakeml/server/journal.py) on a real folder: frames, torn appends,
rotation, the watermark, and a journal that refuses another store."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from lakeml.errors import InvalidArgument, InvalidState
from lakeml.server.journal import HEADER, Journal, Reader, frame, wait_settled


def record(i: int) -> tuple[str, list]:
    return ("test", [("metrics", [("run", "m", float(i), i, 1000 + i)])])


def append(journal: Journal, i: int) -> int:
    with journal.locked():
        end = journal.append_locked(frame(record(i)))
    journal.sync(end)
    return end


def test_records_read_back_in_order_with_their_end_offsets(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "/store")
    ends = [append(journal, i) for i in range(5)]
    got = Reader(journal, 0).read()
    assert [end for end, _ in got] == ends == sorted(ends)
    assert [rec for _, rec in got] == [record(i) for i in range(5)]
    assert journal.end() == ends[-1] and journal.pending()
    journal.close()


def test_a_torn_append_is_cut_off_under_the_lock_and_not_read_before(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "/store")
    good = append(journal, 1)
    torn = frame(record(2))[:-3]  # what a writer killed mid-write leaves
    with open(journal.segment_path(journal.segments()[-1]), "ab") as fh:
        fh.write(torn)
    reader = Reader(journal, 0)
    assert [end for end, _ in reader.read()] == [good]  # the partial frame is not a record
    assert journal.end() == good + len(torn)
    with journal.locked():
        assert reader.read(repair=True) == []
    assert journal.end() == good  # cut off
    after = append(journal, 3)
    assert [rec for _, rec in reader.read()] == [record(3)]
    assert reader.offset == after
    journal.close()


def test_rotation_keeps_offsets_and_readers_follow_it(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "/store")
    first = append(journal, 1)
    follower = Reader(journal, 0)
    assert len(follower.read()) == 1
    assert not journal.rotate_if_committed(0)  # not committed: kept
    journal.set_watermark(first)
    assert journal.rotate_if_committed(first)
    assert journal.segments() == [first]
    assert not journal.pending()
    wait_settled(journal.folder, timeout=5)
    second = append(journal, 2)  # offsets go on from the rotation
    assert second > first
    assert [end for end, _ in follower.read()] == [second]
    late = Reader(journal, 0)  # its offset was rotated away: it is told
    assert [end for end, _ in late.read()] == [second] and late.lost
    journal.close()


def test_a_journal_refuses_another_store(tmp_path: Path) -> None:
    Journal(tmp_path / "j", "/store-a").close()
    with pytest.raises(InvalidArgument, match="belongs to store '/store-a'"):
        Journal(tmp_path / "j", "/store-b")


def test_a_journal_folder_others_may_write_to_is_refused(tmp_path: Path) -> None:
    """Records are unpickled when committed: a folder another user can write to would let
    them run code in the server."""
    from lakeml.errors import InvalidState

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(InvalidState, match="not be writable by group or others"):
        Journal(shared, "file:///store")
    made = tmp_path / "made" / "journal"
    Journal(made, "file:///store")  # created private
    assert made.stat().st_mode & 0o777 == 0o700


def test_after_a_rotation_killed_half_way_appends_go_to_the_new_segment(tmp_path: Path) -> None:
    # a worker's cached segment stays linked when the rotating process is killed between
    # creating the new segment and deleting the old one: its next append must still go to
    # the new segment, where the committer reads from the watermark on
    worker, rotator = Journal(tmp_path / "j", "/store"), Journal(tmp_path / "j", "/store")
    first = append(worker, 1)
    rotator.set_watermark(first)
    with rotator.locked():
        rotator._create_segment(first)  # ... killed here, before the unlink
    acked = append(worker, 2)
    got = Reader(rotator, rotator.watermark()).read()
    assert got == [(acked, record(2))] and rotator.end() == acked
    rotator.set_watermark(acked)
    assert rotator.rotate_if_committed(acked) and rotator.segments() == [acked]
    worker.close()
    rotator.close()


def test_records_appended_past_a_newer_segment_are_kept_at_open(tmp_path: Path) -> None:
    # what an older server left: records in the old segment past the new, empty one's start
    journal = Journal(tmp_path / "j", "/store")
    first = append(journal, 1)
    journal.set_watermark(first)
    with journal.locked():
        journal._create_segment(first)
    late = frame(record(2))
    with open(journal.segment_path(0), "ab") as fh:
        fh.write(late)
    with pytest.raises(InvalidState, match="past a newer segment"):
        journal.rotate_if_committed(first)  # never deletes them
    journal.close()
    reopened = Journal(tmp_path / "j", "/store")
    assert reopened.segments() == [0]  # the empty newer segment went, the records stay
    assert Reader(reopened, first).read() == [(first + len(late), record(2))]
    assert reopened.end() == first + len(late)
    with reopened.locked():
        reopened._create_segment(reopened.end())
    with open(reopened.segment_path(0), "ab") as fh:
        fh.write(late)
    with open(reopened.segment_path(reopened.segments()[-1]), "ab") as fh:
        fh.write(late)  # the newer segment holds records too: no order exists
    reopened.close()
    with pytest.raises(InvalidState, match="cannot be committed in order"):
        Journal(tmp_path / "j", "/store")


@pytest.mark.parametrize("tail", [b"\0" * 64, b"\0" * 8, "bad pickle"],
                         ids=["zeros-64", "zeros-8", "bad-pickle"])
def test_zeros_or_a_bad_pickle_at_the_tail_are_torn_not_fatal(tmp_path: Path,
                                                                 tail: bytes | str) -> None:
    # a power loss may leave the tail of a segment zero-filled: 8 zero bytes are a frame of
    # length 0 whose CRC-32 matches, and an empty body does not unpickle
    journal = Journal(tmp_path / "j", "/store")
    good = append(journal, 1)
    if tail == "bad pickle":
        body = b"\x80\x05not a pickle"
        tail = HEADER.pack(len(body), zlib.crc32(body)) + body
    assert isinstance(tail, bytes)
    with open(journal.segment_path(journal.segments()[-1]), "ab") as fh:
        fh.write(tail)
    reader = Reader(journal, 0)
    assert reader.read() == [(good, record(1))]  # what was read before is kept
    with journal.locked():
        assert reader.read(repair=True) == []
    assert journal.end() == good  # cut off
    after = append(journal, 2)
    assert reader.read() == [(after, record(2))]
    journal.close()


def test_a_journal_emptied_of_its_state_gets_a_new_id(tmp_path: Path) -> None:
    # segments and watermark deleted by hand, id kept: offsets start at 0 again, and under
    # the old app id the tables' transaction versions would skip the new records
    journal = Journal(tmp_path / "j", "/store")
    old = journal.app_id
    journal.set_watermark(append(journal, 1))
    journal.close()
    for path in (tmp_path / "j").iterdir():
        if path.name.endswith(".seg") or path.name == "committed":
            path.unlink()
    again = Journal(tmp_path / "j", "/store")
    assert again.app_id != old and again.end() == 0
    kept = Journal(tmp_path / "j", "/store")
    assert kept.app_id == again.app_id  # kept from now on
    kept.close()
    again.close()


def test_sync_then_answers_from_one_sync_thread_after_the_fsync(tmp_path: Path,
                                                                monkeypatch) -> None:
    """What the server's event loop waits on (no thread of its own per request): each
    callback runs once the journal is fsync'd up to its end, from the journal's sync
    thread, or at once when it already is; a failing fsync is handed to every waiter."""
    import os
    import threading

    journal = Journal(tmp_path / "j", "/store")
    ends = []
    for i in range(3):
        with journal.locked():
            ends.append(journal.append_locked(frame(record(i))))
    calls: list[tuple[int, object, str]] = []
    all_done = threading.Event()
    fsyncs: list[int] = []
    real_sync = os.fdatasync

    def counted(fd: int) -> None:
        fsyncs.append(fd)
        real_sync(fd)

    monkeypatch.setattr(os, "fdatasync", counted)

    def waiter(end: int):
        def done(error: object) -> None:
            calls.append((end, error, threading.current_thread().name))
            if len(calls) == 3:
                all_done.set()
        return done

    for end in ends:
        journal.sync_then(end, waiter(end))
    assert all_done.wait(10)
    assert sorted(e for e, _, _ in calls) == ends and all(e is None for _, e, _ in calls)
    # the first waits for the sync thread; the others too, or (if its fsync already
    # covered them when they asked) are called at once, here
    names = {end: name for end, _, name in calls}
    assert names[ends[0]] == "lakeml-journal-sync"
    assert set(names.values()) <= {"lakeml-journal-sync", threading.current_thread().name}
    assert 1 <= len(fsyncs) <= 3
    now: list[object] = []
    journal.sync_then(ends[-1], now.append)  # already fsync'd: called at once, here
    assert now == [None]

    def failing(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    with journal.locked():
        later = journal.append_locked(frame(record(9)))
    failed = threading.Event()
    errors: list[object] = []
    journal.sync_then(later, lambda error: (errors.append(error), failed.set()))
    assert failed.wait(10)
    assert isinstance(errors[0], OSError) and "Input/output" in str(errors[0])
    monkeypatch.setattr(os, "fdatasync", real_sync)
    journal.sync(later)  # a later fsync that works still covers it
    journal.close()


def test_a_view_takes_in_its_own_record_without_reading_it_back(tmp_path: Path,
                                                                monkeypatch) -> None:
    from types import SimpleNamespace

    from lakeml.server import journal as journal_module
    from lakeml.server.journal_view import JournalView

    backend = SimpleNamespace(runs={"r2": object()})
    mine, other = Journal(tmp_path / "j", "/store"), Journal(tmp_path / "j", "/store")
    view = JournalView(mine, backend, origin="me")
    params = [("params", [("r1", "lr", "0.1", 1, 1)])]
    with mine.locked():
        view.catch_up(repair=True)
        data = frame(("me", params))
        end = mine.append_locked(data)
        view.appended(end, len(data), params)
    loads, unpickle = [], journal_module.pickle.loads
    monkeypatch.setattr(journal_module.pickle, "loads",
                        lambda body: loads.append(body) or unpickle(body))
    view.catch_up()
    assert loads == []  # its own record is not read back ...
    assert view.params[("r1", "lr")] == ("0.1", end)  # ... but taken in as if it were
    # another worker's record after it is read, and drops the run it changed
    append_other = frame(("them", [("runs", [("r2",)])]))
    with other.locked():
        other.append_locked(append_other)
    view.catch_up()
    assert len(loads) == 1 and "r2" not in backend.runs
    # a record of its own that did not go where its reader stands is read back as usual
    with mine.locked():
        data = frame(("me", [("params", [("r1", "bs", "32", 2, 2)])]))
        end = mine.append_locked(data)
        view.appended(end + 1, len(data), [])  # (not where the reader stands)
    view.catch_up()
    assert len(loads) == 2 and view.params[("r1", "bs")] == ("32", end)
    mine.close()
    other.close()
    view.close()


def test_the_sync_threads_calls_wake_the_event_loop_once_for_many() -> None:
    import asyncio
    import threading

    from lakeml.server.app import LoopWakeups

    async def main() -> tuple[list[int], set[int], int]:
        loop = asyncio.get_running_loop()
        wakeups, got, threads, scheduled = LoopWakeups(loop), [], set(), []
        through = loop.call_soon_threadsafe
        loop.call_soon_threadsafe = lambda *a: scheduled.append(a) or through(*a)

        def settle(i: int) -> None:
            got.append(i)
            threads.add(threading.get_ident())

        def sync_thread() -> None:
            for i in range(200):
                wakeups.call(settle, i)
            wakeups.call(lambda _: 1 / 0, None)  # a failing call does not stop the others
            wakeups.call(settle, 200)

        other = threading.Thread(target=sync_thread)
        other.start()
        other.join()  # (the loop is held meanwhile: every call is due at its next turn)
        while len(got) < 201:
            await asyncio.sleep(0.001)
        wakeups.call(settle, 201)  # after a wake-up, the next call wakes it again
        while len(got) < 202:
            await asyncio.sleep(0.001)
        return got, threads, len(scheduled)

    got, threads, scheduled = asyncio.run(main())
    assert got == list(range(202))
    assert threads == {threading.get_ident()}  # called on the loop's thread
    assert scheduled == 2


def test_readers_and_the_end_move_past_a_rotation_killed_half_way(tmp_path: Path) -> None:
    # a reader standing at the end of a segment that a killed rotation left linked, and
    # the cached end, move on to the new segment: else a worker's view (and the
    # committer) would miss every record appended after the rotation
    worker, rotator = Journal(tmp_path / "j", "/store"), Journal(tmp_path / "j", "/store")
    first = append(worker, 1)
    reader = Reader(worker, 0)
    assert [end for end, _ in reader.read()] == [first] and worker.end() == first
    rotator.set_watermark(first)
    with rotator.locked():
        rotator._create_segment(first)  # ... killed here, before the unlink
    second = append(rotator, 2)  # (into the new segment)
    assert reader.read() == [(second, record(2))]
    assert worker.end() == second and worker.pending()
    worker.close()
    rotator.close()
    reader.close()


def test_loop_wakeups_keep_no_loop_alive() -> None:
    import asyncio
    import gc
    import weakref

    from lakeml.server.app import LoopWakeups

    loop = asyncio.new_event_loop()
    wakeups, gone = LoopWakeups(loop), weakref.ref(loop)
    loop.close()
    del loop
    gc.collect()
    assert gone() is None
    for _ in range(2):  # refused each time: nothing is left queued for a wake-up
        with pytest.raises(RuntimeError):
            wakeups.call(print, "never")


def test_an_append_right_after_a_read_under_the_lock_looks_at_the_segment_no_more(
        tmp_path: Path, monkeypatch) -> None:
    import os

    from lakeml.server import journal as journal_module

    mine, other = Journal(tmp_path / "j", "/store"), Journal(tmp_path / "j", "/store")
    first = append(mine, 1)
    second = append(other, 2)  # this process's idea of the segment's size is stale now
    reader = Reader(mine, 0)
    calls: list[str] = []
    for name in ("fstat", "stat", "pread"):
        real = getattr(os, name)
        monkeypatch.setattr(journal_module.os, name,
                            lambda *a, _n=name, _f=real, **k: calls.append(_n) or _f(*a, **k))
    with mine.locked():
        assert [end for end, _ in reader.read(repair=True)] == [first, second]
        assert reader.tail is not None and reader.tail[:2] == (0, second)
        calls.clear()
        third = mine.append_locked(frame(record(3)), reader.tail)
        assert calls == []  # the read told where the newest segment ends
        # a tail of another file is not taken: the segment is looked at again
        start, size, inode, holds = reader.tail
        fourth = mine.append_locked(frame(record(4)), (start, size, inode + 1, holds))
        assert "fstat" in calls
    with mine.locked():  # nor a tail read in an earlier hold of the lock
        calls.clear()
        fifth = mine.append_locked(frame(record(5)), (start, fourth, inode, holds))
        assert "fstat" in calls
    assert [end for end, _ in reader.read()] == [third, fourth, fifth]
    calls.clear()
    assert reader.read() == [] and "pread" not in calls  # nothing new: nothing read
    got = Reader(other, 0).read()
    assert [rec for _, rec in got] == [record(i) for i in (1, 2, 3, 4, 5)]
    assert [end for end, _ in got] == [first, second, third, fourth, fifth]
    mine.close()
    other.close()
