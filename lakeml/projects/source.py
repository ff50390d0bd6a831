"""Where a project's files come from: a local folder, or a git repository at a version.

``URI`` is a local folder, a ``file://`` URL, or anything ``git clone`` takes
(a local repository path, ``file://…/repo``, ``https://…``). A ``#sub/dir``
suffix names a project inside the repository, as in MLflow. With
``version`` (a commit, branch or tag) the repository is cloned into a fresh
temporary folder and checked out there, so the caller's work tree is never
touched; a local folder without ``version`` runs in place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from lakeml.errors import InvalidArgument, NotFound
from lakeml.projects import staging


@dataclass
class FetchedProject:
    """A project's files on local disk, and what they came from."""

    folder: Path
    uri: str
    git_commit: str | None = None
    git_repo: str | None = None
    temporary: Path | None = None  # a clone to delete once the run is over

    def cleanup(self) -> None:
        """Delete the temporary clone, if any."""
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
            self.temporary = None


def _split(uri: str) -> tuple[str, str]:
    base, _, sub = uri.partition("#")
    sub = sub.strip("/")
    if ".." in Path(sub).parts:
        raise InvalidArgument(f"project URI {uri!r}: the #subdirectory must stay inside the "
                              "repository")
    return base, sub


def _local_path(base: str) -> Path | None:
    parsed = urlparse(base)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if len(parsed.scheme) <= 1:  # no scheme (or a Windows drive letter)
        return Path(base).expanduser()
    return None


def _git(args: list[str], cwd: Path | None = None) -> str:
    if shutil.which("git") is None:
        raise NotFound("git is not on PATH; it is needed to fetch a git project or a --version")
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InvalidArgument(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _commit_of(folder: Path) -> tuple[str | None, str | None]:
    """(HEAD commit, origin URL or top folder) if ``folder`` is in a git work tree."""
    if shutil.which("git") is None:
        return None, None
    proc = subprocess.run(["git", "rev-parse", "HEAD", "--show-toplevel"], cwd=folder,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None, None
    commit, top = proc.stdout.split()[:2]
    remote = subprocess.run(["git", "config", "--get", "remote.origin.url"], cwd=folder,
                            capture_output=True, text=True).stdout.strip()
    return commit, remote or top


def fetch(uri: str | os.PathLike[str], version: str | None = None) -> FetchedProject:
    """The project at ``uri`` (at git ``version`` if given) as a local folder.

    Example:
        >>> fetched = fetch("/src/repo#projects/wine", version="v1.2")  # doctest: +SKIP
        >>> fetched.git_commit                                          # doctest: +SKIP
        '3f2a…'
    """
    text = os.fspath(uri)
    if not text.strip():
        raise InvalidArgument("project URI is empty; give a folder or a git repository")
    base, sub = _split(text)
    local = _local_path(base)
    if local is not None and version is None:
        if not local.is_dir():
            raise NotFound(f"project folder {base!r} does not exist")
        folder = (local / sub).resolve()
        if not folder.is_dir():
            raise NotFound(f"project URI {text!r}: no folder {sub!r} in {local}")
        commit, repo = _commit_of(folder)
        return FetchedProject(folder, text, commit, repo)
    if local is not None:
        if not local.exists():
            raise NotFound(f"project repository {base!r} does not exist")
        source = str(local.resolve())
    else:
        source = base
    tmp = staging.private_folder("project")  # swept if this process dies unclean
    try:
        _git(["clone", "--quiet", "--no-checkout", source, str(tmp / "repo")])
        repo = tmp / "repo"
        if version is not None:
            for ref in (version, f"origin/{version}"):  # a commit or tag; a branch
                try:
                    _git(["checkout", "--quiet", "--detach", ref], cwd=repo)
                    break
                except InvalidArgument:
                    continue
            else:
                raise NotFound(f"version {version!r} is not a commit, branch or tag of "
                               f"{base!r}")
        else:
            _git(["checkout", "--quiet"], cwd=repo)
        commit = _git(["rev-parse", "HEAD"], cwd=repo)
        folder = repo / sub
        if not folder.is_dir():
            raise NotFound(f"project URI {text!r}: no folder {sub!r} in the repository at "
                           f"{version or 'HEAD'}")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FetchedProject(folder.resolve(), text, commit, source, temporary=tmp)
