"""Params are final per key across writers: the first committed value wins, others are
rejected and reported to the writer that logged them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from lakeml.errors import InvalidArgument
from lakeml.store import Store, first_wins

US = 1_700_000_000_000_000


def params(store: Store) -> list[tuple]:
    _, files = store.snapshot_files("params")
    if not files:
        return []
    return duckdb.sql(f"SELECT run_id, key, value FROM read_parquet({files!r}) "
                      "ORDER BY ALL").fetchall()


@pytest.fixture
def two(tmp_path: Path):
    """Two stores on one folder: two writers, as two processes would have."""
    a = Store(tmp_path / "s", flush_interval=60).open()
    b = Store(tmp_path / "s", flush_interval=60).open()
    yield a, b
    for store in (a, b):
        try:
            store.close()
        except InvalidArgument:
            pass


def test_a_second_writer_cannot_change_a_committed_param(two) -> None:
    a, b = two
    a.writer.extend("params", [("r", "lr", "0.1", US), ("r", "bs", "32", US)])
    b.writer.extend("params", [("r", "lr", "0.2", US - 1), ("r", "bs", "32", US),
                               ("r", "seed", "7", US)])
    a.flush()
    with pytest.raises(InvalidArgument, match=r"key='lr'\) already holds '0.1'.*'0.2'"):
        b.flush()
    # lr keeps a's value although b's row is older; bs was the same value: no second row
    assert params(a) == [("r", "bs", "32"), ("r", "lr", "0.1"), ("r", "seed", "7")]
    b.flush()  # reported once


def test_the_loser_of_a_guard_race_looks_again(two, monkeypatch: pytest.MonkeyPatch) -> None:
    """b reads the committed params, then a commits before b does: b's commit carries
    the same guard, so it fails the conflict check, reads again and sees a's value."""
    a, b = two
    a.writer.extend("params", [("r", "lr", "0.1", US), ("r", "a_only", "x", US)])
    b.writer.extend("params", [("r", "lr", "0.2", US), ("r", "b_only", "y", US)])
    handle = b.tables["params"]
    real = handle.read_where_in
    reads = []

    def read_then_let_a_commit(*args, **kwargs):  # noqa: ANN002, ANN003
        result = real(*args, **kwargs)
        reads.append(result[0])
        if len(reads) == 1:
            a.flush()  # a commits after b read: b's decision is stale
        return result

    monkeypatch.setattr(handle, "read_where_in", read_then_let_a_commit)
    with pytest.raises(InvalidArgument, match="'0.2' was not stored"):
        b.flush()
    assert len(reads) == 2 and reads[1] > reads[0]
    assert params(a) == [("r", "a_only", "x"), ("r", "b_only", "y"), ("r", "lr", "0.1")]


def test_fresh_keys_skip_the_check(tmp_path: Path) -> None:
    import pyarrow as pa

    store = Store(tmp_path / "s", flush_interval=60).open()
    handle = store.tables["params"]
    data = pa.table({"run_id": ["new1", "new2"], "key": ["p", "p"], "value": ["1", "2"],
                     "timestamp": pa.array([US, US], pa.timestamp("us", tz="UTC"))})
    reads = []
    real = handle.read_where_in
    handle.read_where_in = lambda *a, **k: reads.append(1) or real(*a, **k)  # type: ignore
    store.writer.append_table("params", data, fresh_keys=True)
    store.flush()
    assert reads == [] and len(params(store)) == 2
    store.close()


def test_a_racer_that_commits_a_fresh_key_first_wins_over_the_unread_batch(
        two, monkeypatch: pytest.MonkeyPatch) -> None:
    # the bulk path's new run ids reach another process (the caller passed them on) and
    # that process commits a param of one between this writer queuing its fresh batch
    # and committing it: the unread batch carries the run's guard, so its commit
    # conflicts, and the retry reads and rejects the value that lost
    import pyarrow as pa

    a, b = two
    handle = a.tables["params"]
    real = handle.append
    appends = []

    def racer_commits_first(*args, **kwargs):  # noqa: ANN002, ANN003
        appends.append(kwargs.get("read_version"))
        if len(appends) == 1:
            b.writer.extend("params", [("new", "lr", "0.2", US)])
            b.flush()
        return real(*args, **kwargs)

    monkeypatch.setattr(handle, "append", racer_commits_first)
    data = pa.table({"run_id": ["new", "new"], "key": ["lr", "seed"], "value": ["0.1", "7"],
                     "timestamp": pa.array([US, US], pa.timestamp("us", tz="UTC"))})
    a.writer.append_table("params", data, fresh_keys=True)
    with pytest.raises(InvalidArgument, match=r"key='lr'\) already holds '0.2'.*'0.1'"):
        a.flush()
    assert len(appends) == 2 and appends[0] is not None  # checked from the queued version
    assert params(a) == [("new", "lr", "0.2"), ("new", "seed", "7")]


def test_rows_of_older_stores_with_two_values_resolve_by_time() -> None:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    committed = pa.table({"run_id": ["r", "r"], "key": ["k", "k"], "value": ["late", "early"],
                          "timestamp": pa.array([US + 5, US], ts)})
    data = pa.table({"run_id": ["r", "r", "r"], "key": ["k", "k", "j"],
                     "value": ["early", "late", "1"], "timestamp": pa.array([US] * 3, ts)})
    keep, reject = first_wins.claim("params", data, committed)
    assert keep == [2] and [i for i, _ in reject] == [1]


def test_guards_are_bounded() -> None:
    ids = first_wins.guards("params", (f"run{i}" for i in range(100_000)))
    assert len(ids) == first_wins.GUARD_BUCKETS
    assert first_wins.guards("params", ["r"]) == first_wins.guards("params", ["r", "r"])
