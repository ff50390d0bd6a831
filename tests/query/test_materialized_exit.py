"""A writing process that keeps the view tables fresh (LAKEML_MATERIALIZE_VIEWS) must
exit cleanly even when its background refresh is inside DuckDB at that moment: a
daemon thread killed there aborts the process (SIGABRT, exit 134)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakeml.query import materialized
from lakeml.query.materialized import materialize
from lakeml.query.refresh_stop import RefreshStopped, Stop
from tests.query.test_materialized import assert_same_as_views, build

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
import lakeml
c = lakeml.Client(sys.argv[1])
e = c.create_experiment("x")
for i in range(300):
    r = c.create_run(e).info.run_id
    c.log_batch(r, metrics={f"m{j}": float(j) for j in range(5)},
                params={f"p{j}": "v" for j in range(5)})
c.flush()
"""


@pytest.mark.parametrize("budget", ["0.05", "0", "0.05", "0"])
def test_a_writer_exiting_during_a_background_refresh_exits_cleanly(tmp_path, budget):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LAKEML_MATERIALIZE_VIEWS": "1",
           "LAKEML_MATERIALIZE_VIEWS_AT_EXIT": budget}
    done = subprocess.run([sys.executable, "-c", WRITER, str(tmp_path / "lake")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exception not rethrown" not in done.stderr


def test_a_stopped_refresh_commits_nothing_and_the_next_one_catches_up(tmp_path):
    client, exps, runs = build(str(tmp_path / "lake"))
    materialize(client.store)
    tags = materialized.table_uri(client.store, "tags")
    before = DeltaTable(tags).version()
    client.set_tag(runs[1], "stage", "stopped")
    client.flush()
    stop = Stop()
    stop.set()
    with pytest.raises(RefreshStopped, match="asked to stop"):
        materialize(client.store, stop=stop)
    assert DeltaTable(tags).version() == before
    materialize(client.store)
    assert_same_as_views(client)
