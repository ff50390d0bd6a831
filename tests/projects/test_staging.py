"""Temporary folders of project runs: those of dead processes are swept, no others."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lakeml.projects import staging

MAKE = """
import sys
from lakeml.projects import staging
print(staging.step_folder("train"), staging.private_folder("project"))
"""


def test_sweep_removes_the_folders_of_dead_processes_only(tmp_path: Path,
                                                          monkeypatch) -> None:  # noqa: ANN001
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    made = subprocess.run([sys.executable, "-c", MAKE], env=env, capture_output=True,
                          text=True, check=True)  # exits without removing them
    dead = [Path(p) for p in made.stdout.split()]
    assert [p.parent for p in dead] == [tmp_path, tmp_path] and all(p.is_dir() for p in dead)
    (dead[0] / "outputs").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = staging.private_folder("step", "mine-")
    try:
        assert live.parent == tmp_path
        assert live.name.startswith(f"lakeml-step-{os.getpid()}-mine-")
        old_style = tmp_path / "lakeml-step-train-abcd1234"  # no pid: cannot tell, kept
        old_style.mkdir()
        other = tmp_path / "lakeml-steps-1-x"
        other.mkdir()
        assert sorted(staging.sweep(tmp_path)) == sorted(dead)
        assert not any(p.exists() for p in dead)
        assert old_style.is_dir() and other.is_dir()
        assert live.is_dir()  # this process lives
    finally:
        live.rmdir()
