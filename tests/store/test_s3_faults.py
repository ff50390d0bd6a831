"""Writers on S3 through a fault-injecting proxy (tests/fault_proxy.py): with 10% of
requests dropped, refused (503 SlowDown, 500), or answered into the void after the
write landed, nothing a flush acknowledged is lost and nothing is written twice; and a
writer killed with SIGKILL mid-commit leaves a readable store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import lakeml
from lakeml.tracking import backend
from tests.fault_proxy import FaultProxy, Faults
from tests.object_store import fresh_prefix

pytestmark = pytest.mark.slow

WRITER = r"""
import json, sys, time, lakeml
from lakeml.errors import LakemlError
store, worker, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
client = lakeml.Client(store)
exp = None
while exp is None:  # even the first read may meet a fault that outlasts the retries
    try:
        exp = client.get_experiment_by_name("faults").experiment_id
    except LakemlError:
        time.sleep(0.2)
acked, pending, errors = [], [], []
def flush():
    global pending
    try:
        client.flush()
    except LakemlError as exc:  # reported; the rows stay buffered for the next flush
        errors.append(type(exc).__name__)
        return
    acked.extend(pending)
    pending = []
for i in range(runs):
    while True:
        try:
            run_id = client.create_run(exp, run_name=f"w{worker}-{i}").info.run_id
            break
        except LakemlError as exc:
            errors.append(type(exc).__name__)
    client.log_batch(run_id, params={f"p{k}": f"{worker}-{i}-{k}" for k in range(3)},
                     metrics={"m": float(i)})
    client.set_terminated(run_id)
    pending.append(run_id)
    if i % 5 == 4:
        flush()
for _ in range(50):
    if not pending:
        break
    flush()
print(json.dumps({"acked": acked, "pending": pending, "errors": errors}))
"""


def test_faults_lose_and_duplicate_nothing(s3_env: dict[str, str]):
    uri = fresh_prefix()
    setup = lakeml.Client(uri)
    setup.create_experiment("faults")
    setup.flush()
    faults = Faults(drop=0.025, slow_down=0.025, internal=0.025, lost_response=0.025,
                    seed=7)
    proxy = FaultProxy(s3_env["AWS_ENDPOINT_URL"], faults).start()
    try:
        env = {**os.environ, "AWS_ENDPOINT_URL": proxy.url, "LAKEML_FLUSH_INTERVAL": "60"}
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, uri, str(w), "20"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env) for w in range(4)]
        outs = [p.communicate(timeout=900) for p in procs]
    finally:
        proxy.stop()
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    acked = [run for r in reports for run in r["acked"]]
    assert len(acked) == 80 and not any(r["pending"] for r in reports)
    injected = sum(n for k, n in faults.counts.items() if k != "pass")
    assert injected >= 0.05 * sum(faults.counts.values()), faults.counts
    assert faults.counts.get("lost_response", 0) > 0, faults.counts

    lakeml.fluent.reset()
    backend.close_all()
    reader = lakeml.Client(uri)  # straight to the endpoint, no proxy
    rows = reader.sql("SELECT run_id, count(*) FROM lake_params GROUP BY run_id").fetchall()
    assert dict(rows) == {run: 3 for run in acked}  # every param, exactly once
    assert reader.sql("SELECT count(*) FROM lake_metrics").fetchall() == [(80,)]
    finished = reader.sql("SELECT run_id FROM runs WHERE status = 'FINISHED'").fetchall()
    assert sorted(r for (r,) in finished) == sorted(acked)


KILLED = r"""
import sys, lakeml
client = lakeml.Client(sys.argv[1])
exp = client.get_experiment_by_name("killed").experiment_id
print("ready", flush=True)
i = 0
while True:
    run_id = client.create_run(exp).info.run_id
    client.log_batch(run_id, params={f"p{k}": str(k) for k in range(20)},
                     metrics={f"m{k}": float(k) for k in range(20)})
    client.set_terminated(run_id)
    i += 1
    if i % 3 == 0:
        client.flush()
"""


def test_kill_9_mid_commit_leaves_a_readable_store(s3_env: dict[str, str]):
    uri = fresh_prefix()
    setup = lakeml.Client(uri)
    setup.create_experiment("killed")
    setup.flush()
    proc = subprocess.Popen([sys.executable, "-c", KILLED, uri], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(4)  # commits in flight all the time
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # reap it and close its pipes
    lakeml.fluent.reset()
    backend.close_all()
    reader = lakeml.Client(uri)
    ((runs,),) = reader.sql("SELECT count(*) FROM runs").fetchall()
    assert runs > 0
    # whatever landed landed whole: every param and metric row of a run, or none
    partial = reader.sql(
        "SELECT run_id FROM lake_params GROUP BY run_id HAVING count(*) <> 20").fetchall()
    assert partial == []
    reader.create_run(reader.get_experiment_by_name("killed").experiment_id)
    reader.flush()  # and the store still takes commits
