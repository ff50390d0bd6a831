"""A saved copy of the registry log, sorted for point reads: a new process resolves
``models:/name@alias`` without loading the whole log.

Loading the log into the mirror (:mod:`lakeml.query.registry_state`) costs seconds
at a million versions, in every new process: a CI job or scoring job that
fetches one model by alias or stage pays it all. So a process that holds the
mirror writes, now and then, a folder ``<store>/state/registry-<id>/`` of
``events-*.parquet`` (every applied event, sorted by model id, cut into small
files of small row groups) and ``names-*.parquet`` (the name of every
``create_model`` and ``rename_model`` event with its model id, sorted by
name), and names them in ``<store>/state/registry.json`` with the key range of
each file and the log's data files they hold.

A point read takes the model ids ever called the name from the names file,
plus from the data files added since (the *uncovered* files), then those
models' events from the events file and the uncovered files, and folds them.
Only the row groups whose min/max statistics can hold the name or id are
read, so the cost hardly grows with the registry. Every read lists the
table's latest version first, and uncovered files are read whole, so a point
read reflects every committed write. A compaction's output is uncovered and
repeats rows the snapshot holds: identical rows are counted once.

It is a cache of the log, never a record: deleting ``state/`` loses nothing,
and without a usable snapshot (none written, too many uncovered
files) readers load the mirror as before. Local stores only.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lakeml.query.run_fold import data_bytes
from lakeml.query.run_snapshot import file_name
from lakeml.store.file_cache import state_folder

if TYPE_CHECKING:
    import duckdb
    import pyarrow.parquet as pq

    from lakeml.store import Store

log = logging.getLogger(__name__)

FORMAT = 2
POINTER = "registry.json"
TABLE = "registry_log"

# Rows per file and per row group of a snapshot: a point read parses one small footer
# and decodes one group.
PART_ROWS = 32_768
ROW_GROUP_ROWS = 2048

# Below this many bytes of log, loading the mirror takes milliseconds: no snapshot.
SMALL_LOG_BYTES = 1 << 20

# A snapshot is rewritten once the files it does not hold are this many, or this share
# of the log's bytes; past the READ_ limits, point reads load the mirror instead.
STALE_FILES = 32
STALE_SHARE = 0.1
READ_MAX_FILES = 256
READ_MAX_BYTES = 64 << 20

_KEEP_SECONDS = 600  # files of another writer younger than this are never deleted
_FOOTERS: dict[str, pq.FileMetaData] = {}  # Parquet footers of snapshot files, by path
_POINTERS: dict[str, tuple[tuple[int, int, int], Snapshot, str, dict[str, str] | None]] = {}


@dataclass(frozen=True)
class Part:
    """One file of a snapshot and the key range it holds (its first and last key)."""

    path: str
    low: str
    high: str


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: its event files (by model id), name files (by name), and the
    log's data files it holds (by name within the table's folder)."""

    events: tuple[Part, ...]
    names: tuple[Part, ...]
    files: frozenset[str]

    def uncovered(self, store: Store, files: list[str]) -> list[str]:
        """Of the log's current data files, those this snapshot does not hold."""
        return [f for f in files if file_name(store, TABLE, f) not in self.files]


def load(store: Store) -> Snapshot | None:
    """The store's registry snapshot, or None (none written, unreadable)."""
    folder = state_folder(store.uri)
    try:
        pointer = os.stat(folder / POINTER)
        seen = (pointer.st_ino, pointer.st_mtime_ns, pointer.st_size)
        cached = _POINTERS.get(store.uri)
        if cached is not None and cached[0] == seen:
            # (other table ids: a remote store made anew at the same URI)
            return cached[1] if os.path.isdir(cached[2]) and store.same_tables(cached[3]) \
                else None
        data = json.loads((folder / POINTER).read_text())
        if data.get("format") != FORMAT or not store.same_tables(data.get("tables")):
            return None
        root = str(folder / data["folder"])
        if not os.path.isdir(root):
            return None
        parts = {kind: tuple(Part(f"{root}/{f}", low, high) for f, low, high in data[kind])
                 for kind in ("events", "names")}
        found = Snapshot(parts["events"], parts["names"], frozenset(data["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # the pointer is replaced, never edited
    _POINTERS[store.uri] = (seen, found, root, data.get("tables"))
    return found


def is_stale(store: Store, files: list[str]) -> bool:
    """Whether a (new) snapshot would pay for the log made of ``files``."""
    if data_bytes(files) <= SMALL_LOG_BYTES:
        return False
    snapshot = load(store)
    if snapshot is None:
        return True
    uncovered = snapshot.uncovered(store, files)
    return (len(uncovered) > STALE_FILES
            or data_bytes(uncovered) > STALE_SHARE * data_bytes(files))


def readable(store: Store, files: list[str]) -> tuple[Snapshot, list[str]] | None:
    """The snapshot and the files it does not hold, if point reads over them are cheap."""
    snapshot = load(store)
    if snapshot is None:
        return None
    uncovered = snapshot.uncovered(store, files)
    if len(uncovered) > READ_MAX_FILES or data_bytes(uncovered) > READ_MAX_BYTES:
        return None
    return snapshot, uncovered


_OUTPUTS = {  # kind: (rows, sort key)
    "events": ("SELECT * FROM reg_log WHERE outcome = 'applied'", "model_id, seq"),
    "names": ("SELECT DISTINCT name, model_id FROM reg_log WHERE outcome = 'applied' "
              "AND action IN ('create_model', 'rename_model')", "name, model_id"),
}


def write(store: Store, cur: duckdb.DuckDBPyConnection, files: list[str]) -> Snapshot:
    """Save the mirror's rows (table ``reg_log`` of ``cur``, exactly the rows of ``files``).

    Each kind is cut, in key order, into files of PART_ROWS rows: a point read
    opens one small file (its Parquet footer is all a new process parses) and
    decodes one row group of it. Keeps the previous snapshot (a reader may have
    just opened it) and deletes older ones.
    """
    import pyarrow.parquet as pq

    folder = state_folder(store.uri)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"registry-{uuid.uuid4().hex}"
    partial = folder / f".{stem}.tmp"
    partial.mkdir()
    parts: dict[str, list[list[str]]] = {}
    try:
        for kind, (rows, key) in _OUTPUTS.items():
            # Sorted once in DuckDB, cut into files by pyarrow (2-3x faster than one
            # filtered COPY per file).
            table = cur.sql(f"{rows} ORDER BY {key}").to_arrow_table()
            keys = table[key.split(",")[0]]
            parts[kind] = []
            for number, start in enumerate(range(0, table.num_rows, PART_ROWS)):
                name = f"{kind}-{number:05d}.parquet"
                chunk = table.slice(start, PART_ROWS)
                pq.write_table(chunk, partial / name, row_group_size=ROW_GROUP_ROWS,
                               compression="zstd")
                parts[kind].append([name, keys[start].as_py(),
                                    keys[start + chunk.num_rows - 1].as_py()])
            del table, keys
        os.replace(partial, folder / stem)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    previous = load(store)
    pointer = {"format": FORMAT, "folder": stem, **parts,
               "files": sorted(file_name(store, TABLE, f) for f in files),
               "tables": store.table_ids([TABLE])}
    staged = folder / f".{POINTER}.{uuid.uuid4().hex}.tmp"
    staged.write_text(json.dumps(pointer))
    os.replace(staged, folder / POINTER)
    keep = {stem} | ({Path(previous.events[0].path).parent.name}
                     if previous and previous.events else set())
    for old in [*folder.glob("registry-*"), *folder.glob(".registry-*.tmp")]:
        if (old.name.lstrip(".").split(".")[0] not in keep
                and time.time() - old.stat().st_mtime > _KEEP_SECONDS):
            shutil.rmtree(old, ignore_errors=True)
    found = load(store)
    assert found is not None
    return found


def _bounds(metadata: pq.FileMetaData, group: int, index: int) -> tuple[str, str] | None:
    stats = metadata.row_group(group).column(index).statistics
    if stats is None or not stats.has_min_max:
        return None
    low, high = stats.min, stats.max
    return (low, high) if isinstance(low, str) and isinstance(high, str) else None


def _groups(metadata: pq.FileMetaData, column: str, values: set[str], *,
            ordered: bool = False) -> list[int]:
    """Row groups of a Parquet file whose min/max of ``column`` can hold one of ``values``
    (every group when the file lacks the column's statistics). With ``ordered`` (the file
    is sorted by ``column``, as a snapshot's are) a binary search visits a few groups."""
    from bisect import bisect_left

    names = metadata.schema.names
    count = metadata.num_row_groups
    if column not in names:
        return list(range(count))
    index = names.index(column)
    if ordered:
        found: set[int] = set()
        for value in values:
            # the first group whose max reaches the value, then on while min <= value
            at = bisect_left(range(count), value,
                             key=lambda g: (_bounds(metadata, g, index) or ("", ""))[1])
            while at < count and (bounds := _bounds(metadata, at, index)) is not None \
                    and bounds[0] <= value:
                found.add(at)
                at += 1
        return sorted(found)
    out = []
    for group in range(count):
        bounds = _bounds(metadata, group, index)
        if bounds is None or any(bounds[0] <= v <= bounds[1] for v in values):
            out.append(group)
    return out


def _rows(path: str, column: str, values: set[str], columns: list[str],
          applied_only: bool, *, ordered: bool = False) -> list[tuple]:
    """Rows (of ``columns``) of the Parquet file at ``path`` whose ``column`` is one of
    ``values``, reading only the row groups whose statistics can hold them.
    Timestamps come as epoch milliseconds (as :func:`lakeml.registry.fold.to_ms`).

    Only pyarrow's core and Parquet reader: pyarrow.compute, and timestamps as
    datetimes (they import pandas), would cost a new process more than the read.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if ordered:  # a snapshot file, never rewritten: its footer is parsed once
        metadata = _FOOTERS.get(path)
        if metadata is None:
            metadata = pq.read_metadata(path)
            if len(_FOOTERS) >= 512:
                _FOOTERS.clear()
            _FOOTERS[path] = metadata
        file = pq.ParquetFile(path, metadata=metadata, pre_buffer=False)
    else:  # (pre-buffering hands the few reads to an I/O thread pool: 5x slower here)
        file = pq.ParquetFile(path, pre_buffer=False)
    groups = _groups(file.metadata, column, values, ordered=ordered)
    if not groups:
        return []
    wanted = list(dict.fromkeys([*columns, column] + (["outcome"] if applied_only else [])))
    table = file.read_row_groups(groups, columns=wanted, use_threads=False)
    keys = table[column].to_pylist()
    if ordered:  # sorted by ``column``: each value's rows are one run
        from bisect import bisect_left, bisect_right

        runs = [(bisect_left(keys, v), bisect_right(keys, v)) for v in sorted(values)]
        table = pa.concat_tables([table.slice(a, b - a) for a, b in runs if b > a]
                                 or [table.slice(0, 0)])
    else:
        outcomes = table["outcome"].to_pylist() if applied_only else None
        hits = [i for i, key in enumerate(keys)
                if key in values and (outcomes is None or outcomes[i] == "applied")]
        table = pa.concat_tables([table.slice(i, 1) for i in hits] or [table.slice(0, 0)])
    if not table.num_rows:
        return []
    picked = []
    for name in columns:
        data = table[name]
        if pa.types.is_timestamp(data.type):  # microseconds, as integers
            micros = [c.view(pa.int64()).to_pylist() for c in data.chunks]
            picked.append([None if us is None else (us + 500) // 1000
                           for chunk in micros for us in chunk])
        else:
            picked.append(data.to_pylist())
    return list(zip(*picked))


def _holding(parts: tuple[Part, ...], keys: set[str]) -> list[Part]:
    return [p for p in parts if any(p.low <= k <= p.high for k in keys)]


def point_events(snapshot: Snapshot, uncovered: list[str], name: str, columns: list[str]
                 ) -> dict[str, list[tuple]]:
    """The applied events (``columns``, by seq) of every model ever called ``name``, by
    model id, from ``snapshot`` and the data files it does not hold.

    Plain pyarrow, no DuckDB: a new process would pay more to open a DuckDB
    connection than to read the few row groups a point read needs.
    """
    ids = {r[1] for part in _holding(snapshot.names, {name})
           for r in _rows(part.path, "name", {name}, ["name", "model_id"], False,
                          ordered=True)}
    for path in uncovered:
        ids |= {r[1] for r in _rows(path, "name", {name}, ["action", "model_id"], True)
                if r[0] in ("create_model", "rename_model")}
    if not ids:
        return {}
    wanted = ["model_id", *columns]
    rows = {r for part in _holding(snapshot.events, ids)
            for r in _rows(part.path, "model_id", ids, wanted, False, ordered=True)}
    for path in uncovered:  # a compaction's output repeats rows: count them once
        rows.update(_rows(path, "model_id", ids, wanted, True))
    out: dict[str, list[tuple]] = {i: [] for i in sorted(ids)}
    for row in sorted(rows, key=lambda r: r[1]):  # by seq
        out[row[0]].append(row[1:])
    return out
