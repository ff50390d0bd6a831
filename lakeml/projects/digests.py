"""Content digests of files, folders, Delta tables and a step's code: the cache keys."""

from __future__ import annotations

import glob
import hashlib
import json
import shlex
from pathlib import Path
from typing import Any, Iterable

from lakeml.errors import InvalidArgument, NotFound


def file_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's relative paths and file contents."""
    digest = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    if not path.is_dir():
        raise NotFound(f"{path} does not exist")
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(child.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file_digest(child).encode())
    return digest.hexdigest()


def table_digest(uri: str) -> str | None:
    """A digest of a Delta table's current snapshot (its set of data files), or None
    if there is no Delta table at ``uri``.

    Data files are never rewritten in place, so the set changes whenever the
    content does (and also after a compaction that keeps the content).
    """
    found = table_snapshot(table_path(uri))
    return None if found is None else found[1]


def table_snapshot(uri: str) -> tuple[str, str] | None:
    """(``<uri>@v<N>``: the exact Delta version read, its digest), or None if there is no
    Delta table at ``uri``. The versioned URI is how workflow lineage names a table
    (the node of ``lineage_edges``, as for datasets logged with ``from_delta``)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(uri)
    except TableNotFoundError:
        return None
    digest = hashlib.sha256("\n".join(sorted(table.file_uris())).encode()).hexdigest()
    return f"{uri}@v{table.version()}", digest


def table_path(uri: str) -> str:
    """The table of a versioned table URI (``<path>@v<N>``), or ``uri`` as it is."""
    path, at, version = uri.rpartition("@v")
    return path if at and version.isdigit() else uri


def code_files(project_dir: Path, command: str, patterns: Iterable[str]) -> list[Path]:
    """A step's code: the files matching ``patterns`` (globs relative to the project),
    or by default the project files named in its command (``python train.py …``)."""
    patterns = list(patterns)
    found: set[Path] = set()
    if patterns:
        for pattern in patterns:
            matches = glob.glob(str(project_dir / pattern), recursive=True)
            if not matches:
                raise InvalidArgument(f"code pattern {pattern!r} matches no file in "
                                      f"{project_dir}")
            found.update(Path(m).resolve() for m in matches)
    else:
        try:
            tokens = shlex.split(command)
        except ValueError:
            tokens = command.split()
        for token in tokens:
            if "{" in token or token.startswith("-"):
                continue
            candidate = (project_dir / token).resolve()
            if candidate.is_file() and candidate.is_relative_to(project_dir.resolve()):
                found.add(candidate)
    return sorted(found)


def code_digest(project_dir: Path, files: Iterable[Path]) -> str:
    """sha256 over the relative names and contents of ``files``."""
    digest = hashlib.sha256()
    root = project_dir.resolve()
    for path in files:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        digest.update(rel.encode() + b"\0" + file_digest(path).encode())
    return digest.hexdigest()


def key(parts: dict[str, Any]) -> str:
    """A stable digest of a JSON-able mapping."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
