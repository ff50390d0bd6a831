"""The run snapshot's pointer (``state/runs.json``), checked field by field.

The pointer names the snapshot's Parquet file and the column each key was folded into;
those names reach the engine's own DuckDB connection (not a sandboxed one) as SQL
identifiers and a file path. A remote store's pointer is fetched from the store's
``state/`` prefix (:mod:`lakeml.query.shared_snapshot`), which anyone with write access to
the bucket can replace: so it is trusted for nothing. :func:`checked` accepts only what
:mod:`lakeml.query.run_snapshot` writes (a column ``c<digits>``, an entity of
:data:`lakeml.query.run_fold.ENTITIES`, a file ``runs-<hex>.parquet``, ...) and returns a
new dict of those fields only; anything else raises ValueError naming the bad value, and
the reader ignores the snapshot and folds the tables (it is a cache, never a record).
"""

from __future__ import annotations

import re
from typing import Any

from lakeml.query.run_fold import ENTITIES, SOURCES

FILE = re.compile(r"runs-[0-9a-f]{32}\.parquet")
COLUMN = re.compile(r"c[0-9]{1,9}")


def checked(data: Any, snapshot_format: int) -> dict[str, Any]:
    """The pointer ``data`` (parsed JSON) rebuilt from its checked fields.

    Raises:
        ValueError: a field is missing, of another type, or a value lakeml never writes.
    """
    if not isinstance(data, dict):
        raise ValueError(f"run snapshot pointer is not an object: {data!r:.80}")
    if data.get("format") != snapshot_format:
        raise ValueError(f"run snapshot pointer of format {data.get('format')!r:.40}, "
                         f"not {snapshot_format}")
    name = data.get("file")
    if not isinstance(name, str) or not FILE.fullmatch(name):
        raise ValueError(f"run snapshot pointer names file {name!r:.80}, not runs-<id>.parquet")
    return {"format": snapshot_format, "file": name,
            "runs": _count(data, "runs"), "bytes": _count(data, "bytes"),
            "columns": _columns(data.get("columns")),
            "files": _files(data.get("files")),
            "tables": _tables(data.get("tables"))}


def _count(data: dict[str, Any], field: str) -> int:
    value = data.get(field)
    if type(value) is not int or value < 0:  # not bool, not float, not a string
        raise ValueError(f"run snapshot pointer field {field!r} is {value!r:.40}, "
                         "not a count")
    return value


def _columns(columns: Any) -> list[list[str]]:
    if not isinstance(columns, list):
        raise ValueError(f"run snapshot pointer columns are {columns!r:.80}, not a list")
    out = []
    seen: set[str] = set()
    for entry in columns:
        if not (isinstance(entry, list) and len(entry) == 3
                and all(isinstance(part, str) for part in entry)):
            raise ValueError(f"run snapshot column {entry!r:.80} is not "
                             "[entity, key, column]")
        entity, key, column = entry
        if entity not in ENTITIES:
            raise ValueError(f"run snapshot column of unknown entity {entity!r:.40}")
        if not COLUMN.fullmatch(column) or column in seen:
            raise ValueError(f"run snapshot column name {column!r:.40} is not c<n> "
                             "(or is named twice)")
        seen.add(column)
        out.append([entity, key, column])
    return out


def _files(files: Any) -> dict[str, list[str]]:
    if not isinstance(files, dict) or set(files) - set(SOURCES):
        raise ValueError(f"run snapshot files are {files!r:.80}, not a list per run table")
    for table, names in files.items():
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise ValueError(f"run snapshot files of {table!r} are {names!r:.80}, "
                             "not a list of names")
    return {table: list(names) for table, names in files.items()}


def _tables(tables: Any) -> dict[str, str]:
    if not (isinstance(tables, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in tables.items())):
        raise ValueError(f"run snapshot tables are {tables!r:.80}, not table ids by name")
    return dict(tables)
