"""The writer's parts for the server's journal: diverting one thread's rows, and batches
numbered from outside (journal offsets) that a second writer of the same app id skips."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

from lakeml.errors import InvalidState
from lakeml.store import Store
from lakeml.store.writer import Writer
from tests.store.test_writer import US, count, metric_rows


def test_diverted_rows_of_this_thread_are_collected_not_buffered(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()
    writer = store.writer
    other: list[None] = []
    with writer.diverted() as tables:
        writer.append_metric("r", "m", 1.0, 0, US)
        writer.extend("params", [("r", "p", "1", US)])
        thread = threading.Thread(target=lambda: other.append(
            writer.append("metrics", ("other", "m", 2.0, 0, US))))
        thread.start()
        thread.join()  # another thread's row is buffered as usual
        with pytest.raises(InvalidState, match="cannot be diverted"):
            writer.append_table("metrics", pa.table({"run_id": ["r"]}))
    assert tables == [("metrics", [("r", "m", 1.0, 0, US)]), ("params", [("r", "p", "1", US)])]
    store.flush()
    assert count(store, "metrics") == 1 and count(store, "params") == 0
    store.close()


def test_batches_numbered_from_outside_land_once_across_writers(tmp_path: Path) -> None:
    store = Store(tmp_path / "s", flush_interval=60).open()

    def writer() -> Writer:
        made = Writer(store.tables, interval=3600, flush_rows=1 << 40,
                      max_buffered_rows=1 << 40)
        made.app_id = "lakeml-journal-test"  # the same for both, as for two committers
        return made

    first = writer()
    first.queue_batch("metrics", metric_rows(3), 100)
    with pytest.raises(ValueError, match="not after batch 100"):
        first.queue_batch("metrics", metric_rows(1), 100)
    first.flush()
    assert count(store, "metrics") == 3 and count(store, "metric_latest") == 1
    assert store.tables["metrics"].committed_version(first.app_id) == 100
    # a second writer (a committer after a crash) replays batch 100: the table says it
    # landed (drop_pending makes it ask), so it is skipped; batch 200 lands
    second = writer()
    second.drop_pending()
    second.queue_batch("metrics", metric_rows(3), 100)
    second.queue_batch("metrics", metric_rows(2, run="s"), 200)
    second.flush()
    assert count(store, "metrics") == 5
    # derived only: metric_latest of batch 200 again would be a repeat; a derived-only
    # batch numbered after the table's last lands on metric_latest alone
    buckets = count(store, "metric_buckets")
    second.queue_batch("metrics", metric_rows(1, run="t"), 300, derived_only="metric_latest")
    second.flush()
    assert count(store, "metrics") == 5 and count(store, "metric_latest") == 3
    assert count(store, "metric_buckets") == buckets  # that derived table alone
    with pytest.raises(ValueError, match="'runs' is not a table derived from 'metrics'"):
        second.queue_batch("metrics", metric_rows(1, run="u"), 400, derived_only="runs")
    for made in (first, second):
        made.close()
    store.close()
