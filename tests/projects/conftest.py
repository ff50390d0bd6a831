"""Helpers for the project tests: the example projects and the `lakeml` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent / "examples"


def lakeml_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
               timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lakeml ARGS`` in a fresh process; returns the finished process."""
    return subprocess.run([sys.executable, "-m", "lakeml", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=cwd,
                          timeout=timeout)


def run_id_of(proc: subprocess.CompletedProcess[str]) -> str:
    """The run id that `lakeml run --format json` printed last."""
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout[proc.stdout.index("[\n"):])[0]["run_id"]


@pytest.fixture
def project_copy(tmp_path: Path):
    """Copy an example project into tmp_path (so a test may change its files)."""

    def copy(name: str) -> Path:
        dst = tmp_path / "projects" / name
        shutil.copytree(EXAMPLES / name, dst)
        return dst

    return copy
