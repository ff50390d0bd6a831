"""A bad row never costs the others: the writer isolates it, commits the rest, reports it."""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa
import pytest

from lakeml.errors import InvalidArgument
from lakeml.store import Store
from lakeml.store.table import DeltaTableHandle

US = 1_700_000_000_000_000
SURROGATE = os.fsdecode(b"data_\xff.csv")


def rows_of(store: Store, table: str, columns: str = "*") -> list[tuple]:
    _, files = store.snapshot_files(table)
    if not files:
        return []
    return duckdb.sql(f"SELECT {columns} FROM read_parquet({files!r}) ORDER BY ALL").fetchall()


def good_metric(i: int, run: str = "good") -> tuple:
    return (run, "m", float(i), i, US + i)


def test_a_bad_row_is_rejected_and_every_other_row_committed(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture
                                                              ) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    writer = store.writer
    writer.append("runs", ("good", "0", "g", "u", "RUNNING", US, None, "a", "active", None, 1))
    writer.append("params", ("good", "lr", "0.1", US))
    writer.extend("metrics", [good_metric(i) for i in range(500)])
    writer.append("metrics", ("bad", "m", 1.0, 10**19, US))  # step beyond int64
    writer.extend("metrics", [good_metric(i) for i in range(500, 1000)])
    writer.append("params", ("good", "path", SURROGATE, US))  # no UTF-8 form
    with caplog.at_level(logging.WARNING, logger="lakeml.store.writer"):
        with pytest.raises(InvalidArgument) as err:
            store.flush()
    message = str(err.value)
    assert "2 logged row(s)" in message and "10000000000000000000" in message
    assert repr(SURROGATE) in message
    assert sum("rejected" in r.getMessage() for r in caplog.records) == 2
    assert len(rows_of(store, "metrics")) == 1000
    assert rows_of(store, "params", "key, value") == [("lr", "0.1")]
    assert len(rows_of(store, "runs")) == 1
    assert rows_of(store, "metric_latest", "run_id, step") == [("good", 999)]
    store.flush()  # reported once; nothing is pending
    assert not store.has_unflushed()
    store.close()


def test_background_flusher_keeps_good_rows_and_close_reports(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=0.05).open()
    writer = store.writer
    writer.append("metrics", ("bad", "m", 1.0, 10**19, US))
    writer.extend("metrics", [good_metric(i, "other") for i in range(1000)])
    for _ in range(200):  # the flusher commits; nobody calls flush()
        if len(rows_of(store, "metrics")) == 1000:
            break
        time.sleep(0.05)
    assert len(rows_of(store, "metrics")) == 1000
    with pytest.raises(InvalidArgument, match="10000000000000000000"):
        store.close()  # end_run / exit: the process that logged it hears of it


def test_a_null_in_a_required_column_is_rejected_at_conversion(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    store.writer.extend("params", [("r", "a", "1", US), ("r", "b", None, US),
                                   ("r", "c", "3", US)])
    with pytest.raises(InvalidArgument, match="must not be null"):
        store.flush()
    assert rows_of(store, "params", "key") == [("a",), ("c",)]
    store.close()


def test_rows_the_table_refuses_at_commit_are_isolated(tmp_path: Path) -> None:
    """Defence in depth past conversion: rows that delta-rs refuses at commit (here a
    real CHECK constraint on the table) are found by bisecting commits, and only they
    are set aside; the batches around them are committed once."""
    from deltalake import DeltaTable

    store = Store(tmp_path / "s", flush_interval=60).open()
    DeltaTable(store.table_uri("params")).alter.add_constraint(
        {"no_forbidden": "value <> 'forbidden'"})
    data = pa.table({"run_id": ["r"] * 100, "key": [f"k{i}" for i in range(100)],
                     "value": [f"v{i}" if i not in (37, 80) else "forbidden"
                               for i in range(100)],
                     "timestamp": pa.array([US] * 100, pa.timestamp("us", tz="UTC"))})
    store.writer.append_table("params", data)
    store.writer.extend("params", [("r", "later", "x", US)])  # another batch after it
    with pytest.raises(InvalidArgument, match="2 logged row.*k37.*k80"):
        store.flush()
    keys = {k for (k,) in rows_of(store, "params", "key")}
    assert keys == {f"k{i}" for i in range(100) if i not in (37, 80)} | {"later"}
    store.flush()
    assert len(rows_of(store, "params")) == 99  # nothing committed twice
    store.close()


def test_the_bulk_path_refuses_a_table_that_does_not_fit(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    data = pa.table({"run_id": ["r", "r"], "key": ["a", "b"], "value": ["1", None],
                     "timestamp": pa.array([US, US], pa.timestamp("us", tz="UTC"))})
    with pytest.raises(InvalidArgument, match="params"):
        store.writer.append_table("params", data)
    assert not store.has_unflushed()
    store.close()


BAD_VALUES = {
    "metrics": [(1, 10**19), (3, 2**63), (4, US * 10**6), (2, SURROGATE), (0, None),
                (2, "not a float")],
    "params": [(2, SURROGATE), (1, SURROGATE + "x"), (3, 2**64), (2, None)],
    "tags": [(2, SURROGATE), (4, -(2**64)), (5, "x"), (3, None)],
}


def good_row(table: str, rng: random.Random, i: int) -> tuple:
    run = f"run{rng.randrange(5)}"
    if table == "metrics":
        return (run, f"m{i}", rng.random(), rng.randrange(-(2**63), 2**63), US + i)
    if table == "params":
        return (run, f"p{i}", f"v{rng.random()}é", US + i)
    return (run, f"t{i}", f"v{i}", False, US + i, i)


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_every_good_row_lands(tmp_path: Path, seed: int) -> None:
    """Random bad values among good rows, in random batches, some committed by the
    background flusher: exactly the good rows land, and the bad ones are all named."""
    rng = random.Random(seed)
    store = Store(tmp_path / "s", flush_interval=rng.choice([0.01, 60])).open()
    expected: dict[str, set[str]] = {t: set() for t in BAD_VALUES}
    bad = reported = 0
    for i in range(600):
        table = rng.choice(list(BAD_VALUES))
        row = good_row(table, rng, i)
        if rng.random() < 0.05:
            position, value = rng.choice(BAD_VALUES[table])
            row = (*row[:position], value, *row[position + 1:])
            bad += 1
        else:
            expected[table].add(row[1])
        store.append(table, row)
        if rng.random() < 0.02:
            reported += rejected_by(store.flush)
    reported += rejected_by(store.close)
    for table, keys in expected.items():
        assert {k for (k,) in rows_of(store, table, "key")} == keys
    assert bad > 0 and reported == bad


def rejected_by(flush: Callable[[], None]) -> int:
    """How many rejected rows ``flush`` reported."""
    try:
        flush()
    except InvalidArgument as exc:
        return int(str(exc).split()[0])
    return 0


def test_a_retryable_failure_still_keeps_rows_pending(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A store error is not a refusal: the rows stay pending, nothing is rejected."""
    from lakeml.errors import StoreUnavailable

    store = Store(tmp_path / "s", flush_interval=60).open()
    real = DeltaTableHandle.append
    broken = {"on": True}

    def maybe(handle, data, **kw):  # noqa: ANN001
        if broken["on"]:
            raise StoreUnavailable("injected: store down")
        real(handle, data, **kw)

    monkeypatch.setattr(DeltaTableHandle, "append", maybe)
    monkeypatch.setattr("time.sleep", lambda s: None)
    store.writer.extend("metrics", [good_metric(i) for i in range(10)])
    with pytest.raises(StoreUnavailable):
        store.flush()
    broken["on"] = False
    store.flush()  # no InvalidArgument: nothing was rejected
    assert len(rows_of(store, "metrics")) == 10
    store.close()


def test_an_unexpected_error_mid_flush_puts_the_rows_back(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """Deriving metric_latest fails once (injected): the tables not yet queued keep their
    rows in the buffer, and the next flush commits everything exactly once."""
    from lakeml.store import writer as writer_module

    store = Store(tmp_path / "s", flush_interval=60).open()
    store.writer.extend("metrics", [good_metric(i) for i in range(10)])
    store.writer.append("logged_models", ("m1", "good", "model", ["sklearn"], None, None, 1,
                                          "runs:/good/model", "a", "0.1", US))
    real = dict(writer_module.DERIVE)

    def broken(data: pa.Table) -> pa.Table:
        raise RuntimeError("injected")

    monkeypatch.setitem(writer_module.DERIVE, "metric_latest", broken)
    with pytest.raises(RuntimeError, match="injected"):
        store.flush()
    assert store.has_unflushed(["logged_models"])
    monkeypatch.setitem(writer_module.DERIVE, "metric_latest", real["metric_latest"])
    store.flush()
    assert len(rows_of(store, "metrics")) == 10
    assert rows_of(store, "logged_models", "model_uuid") == [("m1",)]
    store.close()
