"""Processes that register versions of one model at the same moment: 1..N, no duplicate,
no gap, nothing lost; of several processes creating one name, exactly one wins."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import lakeml

pytestmark = pytest.mark.slow

RACER = r"""
import sys, time, lakeml
from lakeml.errors import AlreadyExists
store, source = sys.argv[1], sys.argv[4]
worker, count, start = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[5])
client = lakeml.Client(store)
client.get_registered_model  # warm imports before the start line
while time.time() < start:
    time.sleep(0.001)
won = 0
try:
    client.create_registered_model("contested", description=f"worker {worker}")
    won = 1
except AlreadyExists:
    pass
numbers = []
for i in range(count):
    mv = client.register_model(source, "shared", tags={"by": f"{worker}-{i}"})
    numbers.append(mv.version)
    client.register_model(source, f"own-{worker}")
print(won, *numbers)
"""


def test_racing_registrations(tmp_path: Path, folder_model: str) -> None:
    store, workers, count = str(tmp_path / "lake"), 4, 15
    lakeml.Client(store)  # create the tables before the race
    start = time.time() + 4
    procs = [subprocess.Popen([sys.executable, "-c", RACER, store, str(w), str(count),
                               folder_model, str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(workers)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    reported = [list(map(int, out.split())) for out, _ in outs]
    assert sum(r[0] for r in reported) == 1, "exactly one racer creates 'contested'"
    numbers = sorted(n for r in reported for n in r[1:])
    assert numbers == list(range(1, workers * count + 1)), "duplicate or gap among versions"
    for r in reported:  # each racer saw its own numbers increase
        assert r[1:] == sorted(r[1:])

    client = lakeml.Client(store)
    shared = client.search_model_versions("name = 'shared'")
    assert sorted(v.version for v in shared) == list(range(1, workers * count + 1))
    assert sorted(v.tags["by"] for v in shared) == sorted(
        f"{w}-{i}" for w in range(workers) for i in range(count))
    for w in range(workers):
        own = client.search_model_versions(f"name = 'own-{w}'")
        assert sorted(v.version for v in own) == list(range(1, count + 1))
    assert client.sql("SELECT count(*) FROM registered_models WHERE name = 'contested'"
                      ).fetchall() == [(1,)]
    # the log itself holds each number once: nothing was written twice
    assert client.sql("SELECT count(*), count(DISTINCT version) FROM registry_events "
                      "WHERE action = 'create_version' AND name = 'shared'").fetchall() == [
        (workers * count, workers * count)]
