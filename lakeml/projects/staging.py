"""Temporary folders of project runs, and removing those of dead processes.

Each workflow step stages its inputs and outputs in
``<tmp>/lakeml-step-<pid>-<step>-<random>``, and a project fetched from git is
cloned into ``<tmp>/lakeml-project-<pid>-<random>``; both are removed when done.
A process killed with ``kill -9`` cannot remove its folders: :func:`sweep`
removes those whose process is gone (only the current user's), and runs when a
workflow starts and in ``lakeml runs cleanup --stale``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from lakeml.tracking.owners import pid_alive

KINDS = ("step", "project")
_PID = re.compile(r"lakeml-(?:step|project)-(\d+)-")


def private_folder(kind: str, label: str = "") -> Path:
    """A new private temporary folder of this process, ``kind`` one of KINDS."""
    assert kind in KINDS, kind
    return Path(tempfile.mkdtemp(prefix=f"lakeml-{kind}-{os.getpid()}-{label}"))


def step_folder(step: str) -> Path:
    """A new private folder for one run of ``step`` by this process."""
    return private_folder("step", f"{step}-")


def sweep(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the step and project folders (in ``root``, default the temp folder) that
    belong to this user and to a process that is gone; returns them."""
    base = Path(root if root is not None else tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.glob("lakeml-*-*"))
    except OSError:
        return removed
    for path in entries:
        found = _PID.match(path.name)
        try:
            mine = path.is_dir() and not path.is_symlink() and \
                path.stat().st_uid == os.getuid()
        except OSError:
            continue
        if found and mine and not pid_alive(int(found.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
