"""Real processes: racing writers lose nothing, a killed writer loses little."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lakeml

pytestmark = pytest.mark.slow

RACER = r"""
import sys, lakeml
store, worker, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = lakeml.Client(store)
lakeml.set_store(store)
exp = lakeml.set_experiment("race")          # every racer creates it at once
for i in range(runs):
    run_id = client.create_run(exp.experiment_id, run_name=f"w{worker}-{i}").info.run_id
    client.log_batch(run_id, metrics={f"m{k}": worker * 1000 + i for k in range(10)},
                     params={f"p{k}": f"{worker}-{i}-{k}" for k in range(10)},
                     tags={"worker": str(worker)})
    for step in range(5):
        client.log_metric(run_id, "curve", step * 0.5, step=step)
    client.set_terminated(run_id)
client.flush()
print(exp.experiment_id)
"""


def test_racing_processes_lose_nothing(tmp_path: Path) -> None:
    store, workers, runs = str(tmp_path / "lake"), 4, 100
    # Tiny flush interval, compaction threshold and lease: many commits, and
    # automatic compactions by several processes at once.
    env = {**os.environ, "LAKEML_FLUSH_INTERVAL": "0.005", "LAKEML_COMPACT_EVERY": "4",
           "LAKEML_COMPACTION_LEASE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", RACER, store, str(w), str(runs)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for w in range(workers)]
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    exp_ids = {out.strip() for out, _ in outs}
    assert len(exp_ids) == 1, f"racers created several 'race' experiments: {exp_ids}"

    client = lakeml.Client(store)
    engine = client.tracking._b.engine
    (exp_id,) = exp_ids
    assert engine.rows("SELECT count(*) FROM experiments WHERE name = 'race'") == [(1,)]
    assert engine.rows(
        "SELECT count(*), count(DISTINCT run_id) FROM runs "
        "WHERE experiment_id = ? AND status = 'FINISHED'", [exp_id]) == [(400, 400)]
    assert engine.rows("SELECT count(*) FROM lake_params") == [(4000,)]
    assert engine.rows("SELECT count(*) FROM lake_metrics") == [(4000 + 2000,)]
    per_worker = engine.rows(
        "SELECT value, count(*) FROM tags WHERE key = 'worker' GROUP BY value ORDER BY value")
    assert per_worker == [(str(w), 100) for w in range(workers)]
    assert engine.rows("SELECT count(*) FROM (SELECT DISTINCT run_id, key, step FROM "
                       "lake_metrics)") == [(6000,)]  # no duplicated row
    from deltalake import DeltaTable

    operations = [h["operation"] for name in ("metrics", "params", "tags")
                  for h in DeltaTable(f"{store}/tables/{name}").history()]
    assert "OPTIMIZE" in operations, "the race never compacted: it proved less than it claims"


KILLED = r"""
import sys, time, lakeml
lakeml.set_store(sys.argv[1])
run = lakeml.start_run()
print("run", run.info.run_id, flush=True)
step = 0
while True:
    lakeml.log_metric("progress", float(step), step=step)
    if step % 100 == 0:
        print("logged", step, flush=True)
        time.sleep(0.005)
    step += 1
"""


def test_kill_9_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    store, interval = str(tmp_path / "lake"), 0.25
    env = {**os.environ, "LAKEML_FLUSH_INTERVAL": str(interval)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, store], stdout=subprocess.PIPE,
                            text=True, env=env)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().split()[1]
    seen: list[tuple[float, int]] = []
    start = time.monotonic()
    while time.monotonic() - start < 3.0:
        line = proc.stdout.readline()
        if line.startswith("logged"):
            seen.append((time.monotonic(), int(line.split()[1])))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    killed_at = time.monotonic()
    assert proc.returncode == -signal.SIGKILL

    # Everything logged before (kill - interval - time for one commit) must be there.
    slack = 1.0
    bound = max((s for t, s in seen if t <= killed_at - interval - slack), default=0)
    client = lakeml.Client(store)
    steps = [m.step for m in client.get_metric_history(run_id, "progress")]
    assert steps == list(range(len(steps))), "lost or duplicated rows in the middle"
    assert len(steps) > bound, f"only {len(steps)} points survived; {bound} were due"
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING"  # nobody ended it: the table says so honestly


def test_forked_child_refuses_to_log_and_never_recommits_parent_rows(tmp_path: Path) -> None:
    # deltalake's tokio runtime cannot run in a forked child, so the child must
    # get a clear error (not a Rust panic) and must not commit the buffered
    # rows it inherited; the parent commits them exactly once.
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    run_id = client.create_run().info.run_id
    client.log_metric(run_id, "m", 1.0)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child tries to log, reports what happened, exits through atexit
        message = "no error"
        try:
            client.log_metric(run_id, "child", 2.0)
        except lakeml.errors.InvalidState as exc:
            message = str(exc)
        finally:
            os.write(write_end, message.encode())
            os._exit(0)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        child_said = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0
    assert "forked" in child_said and "spawn" in child_said, child_said
    client.flush()
    run = client.get_run(run_id)
    assert run.data.metrics == {"m": 1.0}
    assert len(client.get_metric_history(run_id, "m")) == 1
