"""Stale RUNNING runs: found from their owner processes, ended KILLED, live ones untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lakeml
from lakeml.cli import main
from lakeml.tracking import owners

pytestmark = pytest.mark.slow

# Creates (or resumes, with a run id) a run, flushes, then exits without ending it
# (os._exit: no atexit, as after kill -9), or waits for its stdin to close.
OWNER = r"""
import os, sys, lakeml
store, mode = sys.argv[1], sys.argv[2]
lakeml.set_store(store)
if len(sys.argv) > 3:
    run = lakeml.start_run(run_id=sys.argv[3])
else:
    run = lakeml.start_run(run_name="owned")
lakeml.flush()
print(run.info.run_id, flush=True)
if mode == "wait":
    sys.stdin.read()
os._exit(0)
"""


def start_owner(store: str, mode: str, *run_id: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", OWNER, store, mode, *run_id],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def cleanup(capsys: pytest.CaptureFixture[str], store: str, *args: str) -> list[dict]:
    code = main(["runs", "cleanup", "--store", store, "--format", "json", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def status(store: str, run_id: str) -> str:
    return lakeml.Client(store).get_run(run_id).info.status


def test_a_run_whose_process_died_is_ended_killed(capsys, tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    proc, run_id = start_owner(store, "exit")
    proc.communicate("")
    owner = lakeml.Client(store).get_run(run_id).data.tags[owners.OWNER_TAG]
    assert owner.startswith(f"{owners.hostname()}:{proc.pid}:")
    finished = lakeml.Client(store).create_run(run_name="done").info.run_id
    lakeml.Client(store).set_terminated(finished)

    (would,) = cleanup(capsys, store, "--stale", "--dry-run")
    assert (would["run_id"], would["action"]) == (run_id, "would end KILLED")
    assert "every owner process" in would["reason"] and status(store, run_id) == "RUNNING"
    assert cleanup(capsys, store, "--stale", "--older-than", "1h") == []  # it is recent

    (ended,) = cleanup(capsys, store, "--stale")
    assert ended["run_id"] == run_id
    run = lakeml.Client(store).get_run(run_id)
    assert run.info.status == "KILLED" and run.info.end_time is not None
    assert "lakeml runs cleanup --stale" in run.data.tags[owners.CLEANUP_TAG]
    assert str(proc.pid) in run.data.tags[owners.CLEANUP_TAG]
    assert status(store, finished) == "FINISHED"
    assert cleanup(capsys, store, "--stale") == []


def test_a_run_whose_process_lives_is_never_touched(capsys, tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    proc, run_id = start_owner(store, "wait")
    try:
        assert cleanup(capsys, store, "--stale", "--older-than", "0s") == []
        assert status(store, run_id) == "RUNNING"
    finally:
        proc.communicate("")
    assert [r["run_id"] for r in cleanup(capsys, store, "--stale")] == [run_id]


def test_a_resumed_run_is_owned_by_the_resuming_process(capsys, tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    creator, run_id = start_owner(store, "exit")
    creator.communicate("")
    resumer, same = start_owner(store, "wait", run_id)
    assert same == run_id
    try:
        entries = lakeml.Client(store).get_run(run_id).data.tags[owners.OWNER_TAG].split(",")
        assert [e.split(":")[1] for e in entries] == [str(creator.pid), str(resumer.pid)]
        assert cleanup(capsys, store, "--stale") == []  # the creator is gone, not the resumer
    finally:
        resumer.communicate("")
    assert [r["run_id"] for r in cleanup(capsys, store, "--stale")] == [run_id]
    assert status(store, run_id) == "KILLED"


def test_runs_not_checkable_here_need_older_than(capsys, tmp_path: Path) -> None:
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    remote = client.create_run(tags={owners.OWNER_TAG: "other-host:1234:99"}).info.run_id
    unowned = client.create_run(tags={owners.OWNER_TAG: ""}).info.run_id
    client.flush()
    assert cleanup(capsys, store, "--stale") == []
    assert cleanup(capsys, store, "--stale", "--older-than", "1h") == []
    ended = cleanup(capsys, store, "--stale", "--older-than", "0")
    assert sorted(r["run_id"] for r in ended) == sorted([remote, unowned])
    assert "cannot be checked from host" in ended[0]["reason"]
    assert status(store, remote) == status(store, unowned) == "KILLED"


def test_owner_checks() -> None:
    me = owners.this_process()
    assert owners.owners_alive(me) is True
    host, pid, start = me.split(":")
    assert pid == str(os.getpid()) and start  # /proc gives the start time on Linux
    assert owners.owners_alive(f"{host}:{pid}:{int(start) + 1}") is False  # a reused pid
    assert owners.owners_alive(f"{host}:{pid}:") is True  # start unknown: the pid decides
    assert owners.owners_alive("") is None and owners.owners_alive(None) is None
    assert owners.owners_alive(f"elsewhere:{pid}:{start}") is None
    assert owners.with_this_process(f"a:1:2,{me}") == f"a:1:2,{me}"


def test_cleanup_needs_stale(capsys, tmp_path: Path) -> None:
    assert main(["runs", "cleanup", "--store", str(tmp_path / "lake")]) == 1
    assert "--stale" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["runs", "cleanup", "--stale", "--older-than", "soon"])
