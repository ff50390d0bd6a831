"""A process exits even when a background snapshot writer is stuck (query/background.py):
it waits a bounded time, logs what it left unfinished, and exits cleanly."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_python


def test_a_stuck_snapshot_writer_does_not_hold_the_exit(tmp_path: Path):
    done = run_python(f"""
import threading
import lakeml
from lakeml.query import background, run_snapshot

background.EXIT_WAIT_SECONDS = 1.0
client = lakeml.Client({str(tmp_path / 'lake')!r})
client.create_experiment("stuck")
client.flush()
started = threading.Event()

def stuck(store, threads=None):  # a publish retrying against a dead endpoint, say
    started.set()
    threading.Event().wait()

run_snapshot.write = stuck
assert run_snapshot.write_soon(client.store) is not None
assert started.wait(30)
print("exiting")
""", timeout=90)
    assert "exiting" in done.stdout
    assert "exiting without waiting longer than 1 s for lakeml-run-snapshot" in done.stderr
