"""`kill -9` of `lakeml workflow run`: its step commands die with it, and cleanup ends
the runs it left RUNNING and removes its step folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lakeml
from lakeml.tracking import owners

from .conftest import lakeml_cli

pytestmark = pytest.mark.slow

# The step starts a grandchild, writes both pids, and sleeps: it never ends by itself.
STEP = """
import os, subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(sys.argv[1] + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {grandchild.pid}")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
"""
PROJECT = """
entry_points:
  sleep:
    parameters: {pids: string}
    command: python step.py {pids}
workflows:
  main:
    steps:
      sleeper: {entry_point: sleep, outputs: {out: out.txt}}
"""


def wait_for(test, timeout: float = 60) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(0.1)
    return test()


def test_kill_9_of_a_workflow_run_takes_its_steps_down(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "MLproject").write_text(PROJECT)
    (project / "step.py").write_text(STEP)
    store, pids_file, tmp = str(tmp_path / "lake"), tmp_path / "pids", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}  # the step folders land here
    runner = subprocess.Popen(
        [sys.executable, "-m", "lakeml", "workflow", "run", str(project), "--store", store,
         "-P", f"sleeper.pids={pids_file}"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids: list[int] = []
    try:
        assert wait_for(pids_file.exists), "the step never started"
        pids = [int(p) for p in pids_file.read_text().split()]
        assert all(owners.pid_alive(p) for p in pids)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        # the step and its grandchild die within the guard's poll and grace periods
        assert wait_for(lambda: not any(owners.pid_alive(p) for p in pids), timeout=15), \
            f"step processes {pids} outlived the killed workflow runner"
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if runner.poll() is None:
            runner.kill()
            runner.wait()

    client = lakeml.Client(store)
    running = client.sql("SELECT run_id FROM runs WHERE status = 'RUNNING'").fetchall()
    assert len(running) == 2  # the workflow's parent run and its step run
    assert [p.name.startswith(f"lakeml-step-{runner.pid}-sleeper-") for p in tmp.iterdir()] \
        == [True]  # left behind by the killed runner

    proc = lakeml_cli("runs", "cleanup", "--stale", "--store", store, "--format", "json",
                      env={"TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stderr
    assert sorted(r["run_id"] for r in json.loads(proc.stdout)) == sorted(
        r for (r,) in running)
    for (run_id,) in running:
        run = lakeml.Client(store).get_run(run_id)
        assert run.info.status == "KILLED"
        assert str(runner.pid) in run.data.tags[owners.CLEANUP_TAG]
    assert list(tmp.iterdir()) == []
