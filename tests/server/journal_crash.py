"""A journal committer that kills itself (SIGKILL) right after its commit to one table.

``python -m tests.server.journal_crash STORE JOURNAL TABLE``: commits the journal of
STORE as a server worker's committer does, and dies with ``kill -9`` the moment its
commit to TABLE has landed: the other tables of that round are committed or not, the
watermark is not moved. tests/server/test_journal.py then checks that the next committer
adds nothing twice and loses nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def main(store_uri: str, folder: str, table: str) -> None:
    from lakeml.server.journal import Journal
    from lakeml.server.journal_commit import Committer
    from lakeml.store import Store, normalize_uri

    store = Store(normalize_uri(store_uri)).open()
    committer = Committer(Journal(folder, store.uri), store)
    noted = committer.writer._after_commit

    def after_commit(name: str) -> None:
        if noted is not None:
            noted(name)
        if name == table:
            os.kill(os.getpid(), signal.SIGKILL)

    committer.writer._after_commit = after_commit
    committer.start()
    time.sleep(300)
    sys.exit(f"no commit to {table!r} in 300 s")


if __name__ == "__main__":
    main(*sys.argv[1:4])
