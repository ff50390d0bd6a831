"""Datasets that are versions of Delta tables: ``from_delta`` pins the exact version.

A Delta version never changes once committed, so (table, version) names the data
exactly and :func:`lakeml.data.load` can read it back after later appends, overwrites
and deletes (time travel). The digest hashes the version's file list (paths, sizes, row
counts, deletion vectors): data files are immutable, so equal file lists mean equal
data, and the digest costs no data scan.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from lakeml import config
from lakeml.entities.dataset import DELTA_SOURCE, Dataset
from lakeml.errors import InvalidArgument, NotFound

if TYPE_CHECKING:
    from deltalake import DeltaTable

Version = int | datetime | date | str | None


def from_delta(uri: str | os.PathLike[str], version: Version = None, name: str | None = None,
               targets: str | None = None, *, profile: bool = True) -> Dataset:
    """Describe version ``version`` of the Delta table at ``uri`` (the latest when None;
    a datetime, date or ISO-8601 string picks the version current at that time, a naive
    time being UTC). The dataset records the table's path, id and exact version, a
    digest, the schema and, unless ``profile=False``, a profile (row count, null rates,
    ranges, quantiles, top values).

    Example:
        >>> ds = lakeml.data.from_delta("lake/customers", version=12)  # doctest: +SKIP
        >>> lakeml.log_input(ds, context="training")                   # doctest: +SKIP
        >>> df = lakeml.data.load(ds)  # exactly version 12, whatever came after
    """
    from lakeml.data.profile import profile_arrow

    path = _path(uri)
    table = open_version(path, version)
    arrow = table.to_pyarrow_dataset()
    schema = {"columns": [{"name": f.name, "type": str(f.type)} for f in arrow.schema]}
    described = profile_arrow(arrow) if profile else {"num_rows": _row_count(table)}
    if targets is not None:
        if targets not in arrow.schema.names:
            raise InvalidArgument(f"targets {targets!r} is not a column of {path!r} "
                                  f"(columns: {', '.join(arrow.schema.names)})")
        described["targets"] = targets
    source = {"path": path, "delta_table_version": table.version(),
              "delta_table_id": table.metadata().id}
    return Dataset(name or f"{_basename(path)}@v{table.version()}", snapshot_digest(table),
                   DELTA_SOURCE, json.dumps(source), json.dumps(schema),
                   json.dumps(described))


def open_version(path: str, version: Version) -> DeltaTable:
    """The table at ``path`` as of ``version``, with errors that name the path and version."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    options = config.storage_options() or None
    try:
        table = DeltaTable(path, storage_options=options)
    except TableNotFoundError:
        raise NotFound(f"no Delta table at {path!r}") from None
    if version is None:
        return table
    latest = table.version()
    if isinstance(version, bool) or not isinstance(version, (int, datetime, date, str)):
        raise InvalidArgument(f"version must be an int, a datetime or an ISO-8601 string, "
                              f"got {version!r}")
    if isinstance(version, int) and not 0 <= version <= latest:
        raise NotFound(f"version {version} of Delta table {path!r} does not exist "
                       f"(versions 0..{latest})")
    target = version if isinstance(version, int) else _as_utc(version)
    try:
        table.load_as_version(target)
    except Exception as exc:  # deltalake reports a vacuumed log or a time before v0 so
        raise NotFound(f"version {version!r} of Delta table {path!r} cannot be loaded: "
                       f"{exc}") from None
    return table


def snapshot_digest(table: DeltaTable) -> str:
    """A content digest of the table's current version: its id and sorted file list."""
    import pyarrow as pa

    actions = pa.table(table.get_add_actions(flatten=True))
    keep = [c for c in actions.column_names
            if c in ("path", "size_bytes", "num_records") or c.startswith("deletionVector")]
    rows = sorted(json.dumps([_plain(actions.column(c)[i].as_py()) for c in keep])
                  for i in range(actions.num_rows))
    h = hashlib.sha256(table.metadata().id.encode())
    for row in rows:
        h.update(row.encode())
    return h.hexdigest()[:16]


def _row_count(table: DeltaTable) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    actions = pa.table(table.get_add_actions(flatten=True))
    if "num_records" in actions.column_names and actions.column("num_records").null_count == 0:
        return int(pc.sum(actions.column("num_records")).as_py() or 0)
    return int(table.to_pyarrow_dataset().count_rows())


def _as_utc(moment: datetime | date | str) -> datetime:
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            raise InvalidArgument(f"version {moment!r} is neither a version number nor an "
                                  f"ISO-8601 time") from None
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _path(uri: str | os.PathLike[str]) -> str:
    text = os.fspath(uri)
    if not text:
        raise InvalidArgument("from_delta needs the table's URI, got an empty string")
    return text if "://" in text else os.path.abspath(text)


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value
