"""Which data files of a Delta table changed its rows between two versions, read from
the commit log, so that a compaction (OPTIMIZE, lakeml's own compaction) is not
taken for new data.

Comparing two snapshots' file lists says which files came and went, but a
compaction replaces many small files by a big one without changing a row: a
refresh of the view tables that took those files for changes would recompute
every run in them (on a 1 M-run store after an OPTIMIZE, all of them). The
commit log tells the two apart: Delta marks the files a commit adds or removes
without changing the table's data with ``dataChange: false``. A file entry carrying
a deletion vector is taken as a change whatever its flag says (its file still holds
the rows the vector hides, so reading it names their runs).

Example:
    >>> changes = data_changes(store, "tags", 12, 15)                # doctest: +SKIP
    >>> changes.quiet          # names of files only moved by a compaction
    {'part-00000-….parquet', ...}
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from lakeml.store import Store


@dataclass(frozen=True)
class Changes:
    """The data files that commits after ``since`` up to ``until`` added (``added``) or
    removed (``removed``) with a change of rows, as paths in the table's folder, and the
    names of those they added or removed without one (``quiet``: compactions)."""

    added: frozenset[str]
    removed: frozenset[str]
    quiet: frozenset[str]


def data_changes(store: Store, table: str, since: int, until: int) -> Changes | None:
    """The :class:`Changes` of ``table`` in commits ``since + 1`` .. ``until``, or None
    when one of those commits cannot be read (log files cleaned up): the caller then
    compares whole file lists instead."""
    import fsspec

    fs, log = fsspec.core.url_to_fs(f"{store.table_uri(table)}/_delta_log",
                                    **store.artifact_storage_options)
    added: set[str] = set()
    removed: set[str] = set()
    quiet: set[str] = set()
    for version in range(since + 1, until + 1):
        try:
            text = fs.cat_file(posixpath.join(log, f"{version:020d}.json")).decode()
        except (FileNotFoundError, OSError):
            return None
        for line in text.splitlines():
            action = json.loads(line) if line.strip() else {}
            for kind, into in (("add", added), ("remove", removed)):
                entry = action.get(kind)
                if entry is None:
                    continue
                path = unquote(entry["path"])
                # a deletion vector hides rows of a file: whatever dataChange says
                if entry.get("dataChange", True) or entry.get("deletionVector"):
                    into.add(path)
                else:
                    quiet.add(posixpath.basename(path))
    changed = {posixpath.basename(p) for p in added | removed}
    return Changes(frozenset(added), frozenset(removed), frozenset(quiet - changed))
