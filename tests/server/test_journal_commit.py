"""The journal's committer (lakeml/server/journal_commit.py) in this process, on a real
store and a real journal folder: what a read waits for, and how the committer idles."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

import lakeml
from lakeml.server.journal import Journal, frame
from lakeml.server.journal_commit import Committer
from lakeml.server.journal_writes import wait_committed
from lakeml.store import Store, normalize_uri


@pytest.fixture()
def committed(tmp_path: Path) -> Iterator[tuple[Journal, Committer]]:
    client = lakeml.Client(str(tmp_path / "store"))
    client.create_experiment("e")
    client.flush()
    store = Store(normalize_uri(str(tmp_path / "store"))).open()
    folder = tmp_path / "journal"
    folder.mkdir(mode=0o700)
    journal = Journal(folder, store.uri)
    committer = Committer(journal, store)
    committer.start()
    yield journal, committer
    journal.close()


def test_a_read_does_not_wait_for_the_bytes_of_a_torn_append(
        committed: tuple[Journal, Committer]) -> None:
    journal, committer = committed
    data = frame(("test", [("tags", [])]))
    with journal.locked():  # what a worker killed mid-append leaves
        with open(journal.segment_path(journal.segments()[-1]), "ab") as fh:
            fh.write(data[:len(data) // 2])
    torn_end = journal.end()
    assert torn_end > journal.watermark()
    # the committer cuts the torn bytes off (after TORN_AFTER); the read then has nothing
    # to wait for, instead of waiting for a watermark that never reaches the torn end
    wait_committed(journal, committer, timeout=20)
    assert journal.end() == journal.watermark() < torn_end
