"""CPU an idle server worker's journal committer uses (docs/server-durability.md).

``python benchmarks/bench_journal_idle.py [SECONDS]``: starts one journal Committer on an
empty journal of a new store in this process, lets it go idle, and prints the share of a
core the process used over SECONDS (default 10). Run it on a quiet machine: the figure
is per look at the journal times the looks per second, and both grow with the load.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time


def main(seconds: float) -> None:
    import lakeml
    from lakeml.server.journal import Journal
    from lakeml.server.journal_commit import IDLE_RELEASE, Committer
    from lakeml.store import Store, normalize_uri

    base = tempfile.mkdtemp()
    client = lakeml.Client(f"{base}/store")
    client.create_experiment("e")
    client.flush()
    store = Store(normalize_uri(f"{base}/store")).open()
    os.mkdir(f"{base}/journal", 0o700)
    Committer(Journal(f"{base}/journal", store.uri), store).start()
    time.sleep(IDLE_RELEASE + 1)
    start, cpu = time.monotonic(), time.process_time()
    time.sleep(seconds)
    share = (time.process_time() - cpu) / (time.monotonic() - start)
    print(f"idle journal committer: {100 * share:.2f}% of a core over {seconds:.0f} s "
          f"(load average {os.getloadavg()[0]:.2f})", flush=True)
    threading.excepthook = lambda _args: None  # the committer thread finds its folder gone
    shutil.rmtree(base, ignore_errors=True)
    os._exit(0)  # (the committer is a thread that never returns)

if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
