"""The guard that runs a project's command: a missing command is one line and 127."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lakeml.projects.guard as guard


def test_a_missing_command_is_reported_as_a_shell_would(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, guard.__file__, str(os.getpid()), "--",
                           str(tmp_path / "no-such-command")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 127
    assert proc.stderr.strip() == (f"lakeml: cannot run {str(tmp_path / 'no-such-command')!r}: "
                                   "No such file or directory")
