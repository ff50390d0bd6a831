"""The tags lakeml sets on every run: who, from what source, at which commit.

Who the user is comes from :func:`lakeml.config.current_user` (LAKEML_USER or the
OS user): this base module reads no configuration.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
RUN_NAME = "mlflow.runName"
PARENT_RUN_ID = "mlflow.parentRunId"
RUN_NOTE = "mlflow.note.content"  # the run's description
LAKEML_VERSION = "lakeml.version"


def source_name() -> str:
    """The script or notebook the process runs (``sys.argv[0]``), or ``<interactive>``."""
    main = sys.argv[0] if sys.argv and sys.argv[0] else ""
    if main in ("", "-c", "-"):
        return "<interactive>"
    return _resolved(main)


@lru_cache(maxsize=8)
def _resolved(path: str) -> str:
    # Resolved once: the script's path is relative to the cwd the process started in.
    return str(Path(path).resolve())


@lru_cache(maxsize=64)
def git_commit(start: str) -> str | None:
    """The commit checked out in the git work tree holding ``start``, read from .git."""
    path = Path(start).resolve()
    for folder in (path, *path.parents):
        dot_git = folder / ".git"
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot_git.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            dot_git = (folder / text.split(":", 1)[1].strip()).resolve()
        if dot_git.is_dir():
            return _resolve_head(dot_git)
    return None


def _resolve_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = (git_dir / commondir.read_text().strip()).resolve()
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text().strip() or None
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    return None  # a new repository with no commit yet


def default_tags(user: str) -> dict[str, str]:
    """The system tags of a new run of ``user`` (see config.current_user) in this process."""
    from lakeml.version import __version__

    source = source_name()
    tags = {USER: user, SOURCE_NAME: source, SOURCE_TYPE: "LOCAL",
            LAKEML_VERSION: __version__}
    where = os.path.dirname(source) if source != "<interactive>" else os.getcwd()
    commit = git_commit(where)
    if commit:
        tags[GIT_COMMIT] = commit
    return tags
