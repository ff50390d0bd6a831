"""A saved copy of the registry log, sorted for point reads: a new process resolves
``models:/name@alias`` without loading the whole log.

Loading the log into the mirror (:mod:`lakeml.registry.state`) costs seconds
at a million versions, in every new process: a CI job or scoring job that
fetches one model by alias or stage pays it all. So a process that holds the
mirror writes, now and then, ``<store>/state/registry-<id>.events.parquet``
(every applied event, sorted by model id, in small row groups) and
``…names.parquet`` (the name of every ``create_model`` and ``rename_model``
event with its model id, sorted by name), and names them in
``<store>/state/registry.json`` with the data files they hold.

A point read takes the model ids ever called the name from the names file,
plus from the data files added since (the *uncovered* files), then those
models' events from the events file and the uncovered files, and folds them.
Only the row groups whose min/max statistics can hold the name or id are
read, so the cost hardly grows with the registry. Every read lists the
table's latest version first, and uncovered files are read whole, so a point
read reflects every committed write. A compaction's output is uncovered and
repeats rows the snapshot holds: identical rows are counted once.

It is a cache of the log, never a record: deleting ``state/`` loses nothing,
and without a usable snapshot (remote store, none written, too many uncovered
files) readers load the mirror as before. Local stores only.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lakeml.query.run_fold import data_bytes
from lakeml.query.run_snapshot import FOLDER, file_name
from lakeml.sqltext import sql_string

if TYPE_CHECKING:
    import duckdb
    import pyarrow.parquet as pq

    from lakeml.store import Store

log = logging.getLogger(__name__)

FORMAT = 1
POINTER = "registry.json"
TABLE = "registry_log"

# Rows per row group of the snapshot's files: a point read decodes one group of each.
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


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: its two files and the log's data files it holds (by name)."""

    events: str
    names: str
    files: frozenset[str]

    def uncovered(self, store: Store, files: list[str]) -> list[str]:
        """Of the log's current data files, those this snapshot does not hold."""
        return [f for f in files if file_name(store, TABLE, f) not in self.files]


def load(store: Store) -> Snapshot | None:
    """The store's registry snapshot, or None (remote store, none written, unreadable)."""
    if not store.is_local:
        return None
    folder = Path(store.uri, FOLDER)
    try:
        data = json.loads((folder / POINTER).read_text())
        if data.get("format") != FORMAT:
            return None
        events, names = folder / data["events"], folder / data["names"]
        if not (events.is_file() and names.is_file()):
            return None
        return Snapshot(str(events), str(names), frozenset(data["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_stale(store: Store, files: list[str]) -> bool:
    """Whether a (new) snapshot would pay for the log made of ``files``."""
    if not store.is_local or data_bytes(files) <= SMALL_LOG_BYTES:
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


def write(store: Store, cur: duckdb.DuckDBPyConnection, files: list[str]) -> Snapshot:
    """Save the mirror's rows (table ``reg_log`` of ``cur``, exactly the rows of ``files``).

    Keeps the previous snapshot's files (a reader may have just opened them)
    and deletes older ones.
    """
    folder = Path(store.uri, FOLDER)
    folder.mkdir(exist_ok=True)
    stem = f"registry-{uuid.uuid4().hex}"
    outputs = {"events": ("SELECT * FROM reg_log WHERE outcome = 'applied' "
                          "ORDER BY model_id, seq"),
               "names": ("SELECT DISTINCT name, model_id FROM reg_log WHERE outcome = "
                         "'applied' AND action IN ('create_model', 'rename_model') "
                         "ORDER BY name, model_id")}
    written = {}
    try:
        for kind, select in outputs.items():
            name = f"{stem}.{kind}.parquet"
            partial = folder / f".{name}.tmp"
            cur.execute(f"COPY ({select}) TO {sql_string(str(partial))} (FORMAT parquet, "
                        f"COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
            os.replace(partial, folder / name)
            written[kind] = name
    finally:
        for stale in folder.glob(f".{stem}.*.tmp"):
            stale.unlink(missing_ok=True)
    previous = load(store)
    pointer = {"format": FORMAT, **written,
               "files": sorted(file_name(store, TABLE, f) for f in files)}
    staged = folder / f".{POINTER}.{uuid.uuid4().hex}.tmp"
    staged.write_text(json.dumps(pointer))
    os.replace(staged, folder / POINTER)
    keep = {stem} | ({Path(previous.events).name.split(".")[0]} if previous else set())
    for old in [*folder.glob("registry-*.parquet"), *folder.glob(".registry-*.tmp")]:
        if (old.name.lstrip(".").split(".")[0] not in keep
                and time.time() - old.stat().st_mtime > _KEEP_SECONDS):
            old.unlink(missing_ok=True)
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
            if len(_FOOTERS) >= 8:
                _FOOTERS.clear()
            _FOOTERS[path] = metadata
        file = pq.ParquetFile(path, metadata=metadata)
    else:
        file = pq.ParquetFile(path)
    groups = _groups(file.metadata, column, values, ordered=ordered)
    if not groups:
        return []
    wanted = list(dict.fromkeys([*columns, column] + (["outcome"] if applied_only else [])))
    table = file.read_row_groups(groups, columns=wanted, use_threads=False)
    keys = table[column].to_pylist()
    outcomes = table["outcome"].to_pylist() if applied_only else None
    hits = [i for i, key in enumerate(keys)
            if key in values and (outcomes is None or outcomes[i] == "applied")]
    if not hits:
        return []
    picked = []
    for name in columns:
        data = table[name]
        if pa.types.is_timestamp(data.type):  # microseconds, as integers
            data = pa.chunked_array([c.view(pa.int64()) for c in data.chunks], pa.int64())
            picked.append([None if (us := data[i].as_py()) is None else (us + 500) // 1000
                           for i in hits])
        else:
            picked.append([data[i].as_py() for i in hits])
    return list(zip(*picked))


class PointReader:
    """Point reads over a snapshot and the files after it (see the module docstring).

    Plain pyarrow, no DuckDB: a new process would pay more to open a DuckDB
    connection than to read the few row groups a point read needs.
    """

    @staticmethod
    def events(snapshot: Snapshot, uncovered: list[str], name: str, columns: list[str]
               ) -> dict[str, list[tuple]]:
        """The applied events (``columns``, by seq) of every model ever called ``name``,
        by model id."""
        ids = {r[1] for r in _rows(snapshot.names, "name", {name}, ["name", "model_id"], False,
                                   ordered=True)}
        for path in uncovered:
            ids |= {r[1] for r in _rows(path, "name", {name}, ["action", "model_id"], True)
                    if r[0] in ("create_model", "rename_model")}
        if not ids:
            return {}
        wanted = ["model_id", *columns]
        rows = set(_rows(snapshot.events, "model_id", ids, wanted, False, ordered=True))
        for path in uncovered:  # a compaction's output repeats rows: count them once
            rows.update(_rows(path, "model_id", ids, wanted, True))
        out: dict[str, list[tuple]] = {i: [] for i in sorted(ids)}
        for row in sorted(rows, key=lambda r: r[1]):  # by seq
            out[row[0]].append(row[1:])
        return out
