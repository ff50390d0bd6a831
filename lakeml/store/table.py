"""One Delta table: create it, append to it idempotently, read its snapshot.

This is the boundary where deltalake's errors become lakeml's.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeml.errors import CommitConflict, InvalidArgument, StoreUnavailable
from lakeml.store.file_cache import (
    all_present,
    local_copies,
    object_files,
    read_object,
    touch,
)

if TYPE_CHECKING:
    from datetime import datetime

    import pyarrow as pa
    from deltalake import DeltaTable


def _refused(exc: BaseException) -> bool:
    """Whether a failed write means "these rows do not fit the table" (no retry fixes it;
    the writer then isolates the rows) rather than "the storage failed". deltalake
    reports both as DeltaError; its row checks (constraints, non-null columns) say
    "Invalid data" or "non-nullable". A schema mismatch or any other error is not
    the rows' fault: they stay pending, never rejected."""
    import pyarrow as pa

    text = str(exc)
    return isinstance(exc, pa.ArrowInvalid) or "Invalid data" in text or "non-nullable" in text


def _store_errors() -> tuple[type[BaseException], ...]:
    """deltalake's errors that mean "cannot reach or use the storage"."""
    from deltalake.exceptions import DeltaError, TableNotFoundError

    return (OSError, DeltaError, TableNotFoundError)

# Properties every lakeml table is created with. Checkpoints keep log reads
# short; app-transaction ids of writers that stopped long ago are dropped.
TABLE_CONFIGURATION = {
    "delta.checkpointInterval": "50",
    "delta.setTransactionRetentionDuration": "interval 30 days",
}


# A DeltaTable object kept up to date commit by commit gets slower with every
# commit it has followed since it was opened (deltalake 1.6: 6 ms per append at
# first, 50+ ms after 500). Reopening it, from the latest checkpoint, once it
# has followed this many versions keeps a commit's cost flat.
REOPEN_EVERY = 50

# The next commit's log file is gone for good once log clean-up removed it (commits
# older than the log retention, before a checkpoint): a reader still at that version
# would look for it forever. So at most this often a reader that finds no next commit
# also reads ``_delta_log/_last_checkpoint``: a checkpoint past its version reopens it.
CHECKPOINT_CHECK_SECONDS = 600.0

# This process's last commit to each table (by URI), on time.monotonic()'s clock: a
# reader of a remote store reuses its last listing of a table for a while (see
# DeltaTableHandle.freshness) unless this process committed to it since.
_last_commit: dict[str, float] = {}


def note_commit(uri: str) -> None:
    """Record that this process committed (or may have committed) to table ``uri`` now."""
    _last_commit[uri] = time.monotonic()


# Row groups of 128 Ki rows: a lookup of one run in a file sorted by run id
# decodes one small row group (deltalake's default is 1 Mi rows).
ROW_GROUP_ROWS = 131_072


def writer_properties(schema: pa.Schema) -> object:
    """The Parquet writer settings of a lakeml data file with this schema.

    Float columns get no min/max statistics: Parquet statistics leave NaN
    out, and DuckDB trusts them to skip row groups, so ``isnan(value)`` or a
    sort would silently miss a NaN metric. Without statistics it reads them.
    """
    import pyarrow as pa
    from deltalake import ColumnProperties, WriterProperties

    no_stats = ColumnProperties(statistics_enabled="NONE")
    return WriterProperties(
        max_row_group_size=ROW_GROUP_ROWS, compression="ZSTD",
        column_properties={f.name: no_stats for f in schema if pa.types.is_floating(f.type)})


class DeltaTableHandle:
    """A lakeml table at ``uri``: one writer-side and one reader-side DeltaTable.

    The two sides are separate objects so the background flusher and readers
    never share deltalake state across threads.
    """

    def __init__(self, name: str, uri: str, schema: pa.Schema,
                 storage_options: dict[str, str] | None, commit_retries: int) -> None:
        self.name = name
        self.uri = uri
        self.schema = schema
        self.storage_options = storage_options or None
        self.commit_retries = commit_retries
        self._write_dt: DeltaTable | None = None
        self._read_dt: DeltaTable | None = None
        self._write_opened_at = -1  # table version when _write_dt was opened
        self._write_lock = threading.RLock()
        self._read_opened_at = -1
        self._read_lock = threading.Lock()
        self._files: tuple[int, list[str]] | None = None
        self._schema: tuple[int, pa.Schema] | None = None  # see schema_at
        self._exists = False  # see exists
        # remote stores: the local copies of the latest file list (store/file_cache.py)
        self._copies: tuple[tuple[int, int], list[str]] | None = None
        self._copies_lock = threading.Lock()
        self._copies_touched = 0.0
        self.fs_options: dict[str, Any] = {}
        self.cache_folder: Path | None = None  # the store's folder of copies (Store sets it)
        # remote stores: seconds a listing of the table's versions is reused (Store sets it)
        self.freshness = 0.0
        self._listed_at = -1.0  # monotonic time the last listing started
        self._checkpoint_checked_at = -1.0  # ... the last read of _last_checkpoint (or open)
        self._followed_checkpoint_at = -1.0  # the same, for last_commit_after

    # ---- creation -----------------------------------------------------------
    def ensure(self) -> None:
        """Create the table if it does not exist; safe when processes race."""
        from deltalake import DeltaTable
        from deltalake.exceptions import CommitFailedError

        for attempt in range(20):
            try:
                if DeltaTable.is_deltatable(self.uri, self.storage_options):
                    return
                DeltaTable.create(self.uri, self.schema, mode="ignore",
                                  name=self.name, configuration=TABLE_CONFIGURATION,
                                  storage_options=self.storage_options)
                return
            except CommitFailedError:  # a racer created version 0 first
                time.sleep(0.01 * (attempt + 1))
            except _store_errors() as exc:
                raise StoreUnavailable(f"cannot create table {self.name!r} at {self.uri!r}: "
                                       f"{exc}") from exc
        raise StoreUnavailable(f"could not create table {self.name!r} at {self.uri!r}")

    # ---- writes ---------------------------------------------------------------
    def _writer_table(self, at_most: int | None = None) -> DeltaTable:
        """The writer-side DeltaTable; with ``at_most``, at that version or an older one,
        so that a commit is conflict-checked against everything after what its caller read."""
        from deltalake import DeltaTable

        dt = self._write_dt
        if dt is not None and (dt.version() - self._write_opened_at >= REOPEN_EVERY
                               or (at_most is not None and dt.version() > at_most)):
            dt = None
        if dt is None:
            dt = DeltaTable(self.uri, version=at_most, storage_options=self.storage_options)
            self._write_opened_at = dt.version()
            self._write_dt = dt
        elif at_most is not None and dt.version() < at_most:
            dt.load_as_version(at_most)  # else commits the caller saw would look concurrent
        return dt

    def committed_version(self, app_id: str) -> int:
        """The last batch sequence committed under ``app_id`` (0 if none)."""
        return self.read_guard(app_id)[0]

    def read_guard(self, app_id: str) -> tuple[int, int]:
        """(last sequence committed under ``app_id`` or 0, the table version it was read at)."""
        try:
            with self._write_lock:
                dt = self._writer_table()
                dt.update_incremental()
                return dt.transaction_version(app_id) or 0, dt.version()
        except _store_errors() as exc:
            self._write_dt = None
            raise StoreUnavailable(f"cannot read table {self.name!r} at {self.uri!r}: "
                                   f"{exc}") from exc

    def read_where_in(self, column: str, values: list[str], columns: list[str]
                      ) -> tuple[int, pa.Table]:
        """(version, the rows whose ``column`` is one of ``values``) of the latest
        snapshot, read on the writer side: an append with ``read_version=version`` is
        then conflict-checked against every commit this read did not see."""
        import pyarrow.compute as pc

        try:
            with self._write_lock:
                dt = self._writer_table()
                dt.update_incremental()
                version = dt.version()
                dataset = dt.to_pyarrow_dataset(file_pruning_predicate=[(column, "in", values)])
                rows = dataset.to_table(columns=columns, filter=pc.field(column).isin(values))
                return version, rows
        except _store_errors() as exc:
            self._write_dt = None
            raise StoreUnavailable(f"cannot read table {self.name!r} at {self.uri!r}: "
                                   f"{exc}") from exc

    def append(self, data: pa.Table, *, app_id: str | None = None,
               version: int | None = None, retries: int | None = None,
               read_version: int | None = None, guards: list[str] | None = None) -> None:
        """Commit ``data`` as one append; with ``app_id``, tag it as batch ``version``.

        Raises CommitConflict when ``retries`` concurrent commits beat this one,
        which is what a per-key guard (an app id used once) relies on. With
        ``read_version`` (the table version the caller's decision was based
        on), every commit after it counts as concurrent. ``guards`` are more app
        ids the commit carries: it fails with CommitConflict if a concurrent
        commit carried one of them.
        """
        from deltalake import (
            CommitProperties,
            PostCommitHookProperties,
            Transaction,
            write_deltalake,
        )
        from deltalake.exceptions import CommitFailedError

        txns = [Transaction(app_id, version)] if app_id is not None else []
        txns += [Transaction(guard, (read_version or 0) + 1) for guard in guards or ()]
        props = CommitProperties(app_transactions=txns or None,
                                 max_commit_retries=retries or self.commit_retries)
        try:
            # One thread at a time: write_deltalake moves the shared DeltaTable to the
            # version it commits, and a second writer must not start from there unseen.
            with self._write_lock:
                write_deltalake(self._writer_table(read_version), data, mode="append",
                                commit_properties=props,
                                writer_properties=writer_properties(self.schema),
                                post_commithook_properties=PostCommitHookProperties(
                                    create_checkpoint=True, cleanup_expired_logs=True))
                note_commit(self.uri)
        except CommitFailedError as exc:
            note_commit(self.uri)
            self._write_dt = None  # reload: the failed commit may have left it stale
            raise CommitConflict(f"commit to table {self.name!r} lost to a concurrent "
                                 f"writer: {exc}") from exc
        except Exception as exc:
            note_commit(self.uri)  # a lost answer may hide a commit that landed
            self._write_dt = None
            if _refused(exc):
                raise InvalidArgument(f"table {self.name!r} cannot hold these rows: "
                                      f"{exc}") from exc
            if isinstance(exc, _store_errors()):
                raise StoreUnavailable(f"cannot write table {self.name!r} at {self.uri!r}: "
                                       f"{exc}") from exc
            raise

    def writer_version(self) -> int:
        """The table version the writer side last saw."""
        with self._write_lock:
            return self._writer_table().version()

    def writer_delta_table(self) -> DeltaTable:
        """A DeltaTable of the latest version, of its own (maintenance runs operations on
        it that move it, so it must not be the one appends share)."""
        from deltalake import DeltaTable

        return DeltaTable(self.uri, storage_options=self.storage_options)

    # ---- reads ------------------------------------------------------------------
    def _may_have_moved(self, version: int, *, following: bool = False) -> bool | None:
        """Whether the table may have a version after ``version``: True, False, or None
        when it has one whose commit files log clean-up removed (reopen it then, from the
        checkpoint: the versions after ``version`` cannot be followed one by one).

        The next commit's log file either exists or not (a Delta commit is that file,
        written once). On a local folder: one stat (microseconds) instead of deltalake's
        log listing (about a millisecond, which a search pays per table). On an object
        store: one HEAD of it (a lookup, cheaper than the LIST of the log that deltalake's
        update sends and, on S3, a tenth of its price); only a table that moved is then
        listed. Any answer but "not found" counts as moved: the listing then reports a
        failing store. Log clean-up removes commit files older than the log retention
        once a checkpoint follows them, so a reader that stayed at ``version`` that long
        never finds the next one: every CHECKPOINT_CHECK_SECONDS a "not found" also reads
        ``_last_checkpoint`` (one small GET) and a checkpoint past ``version`` says so.
        ``following``: for :meth:`last_commit_after`, whose callers keep a version of their
        own, with a clock of its own (sharing the reads' clock, a writer's frequent checks
        would use up the reads' look at the checkpoint).
        """
        name = f"_delta_log/{version + 1:020d}.json"
        if "://" not in self.uri:
            if os.path.exists(f"{self.uri}/{name}"):
                return True
        else:
            try:
                files, key = object_files(f"{self.uri}/{name}", self.storage_options)
                files.open_input_file(key)  # a HEAD: the file's size
                return True
            except FileNotFoundError:
                pass
            except Exception:  # noqa: BLE001 - decided by the listing, which raises clearly
                return True
        checked_at = self._followed_checkpoint_at if following else self._checkpoint_checked_at
        if time.monotonic() - checked_at < CHECKPOINT_CHECK_SECONDS:
            return False
        checkpoint = self._last_checkpoint()
        if following:
            self._followed_checkpoint_at = time.monotonic()
        else:
            self._checkpoint_checked_at = time.monotonic()
        return None if checkpoint is not None and checkpoint > version else False

    def last_commit_after(self, version: int) -> int | None:
        """The latest version of a local table that has ``version``, found by looking for
        the commit files after it one by one (one stat when there is none), without
        deltalake's update of the whole snapshot; None on a remote table or when log
        clean-up removed the commit after ``version`` (list the table then). What the
        commits changed: lakeml.query.delta_changes. (A Delta commit file appears whole.)"""
        if "://" in self.uri:
            return None
        moved = self._may_have_moved(version, following=True)
        if moved is None:
            return None
        latest = version + 1 if moved else version
        while moved and os.path.exists(f"{self.uri}/_delta_log/{latest + 1:020d}.json"):
            latest += 1
        return latest

    def _last_checkpoint(self) -> int | None:
        """The version ``_delta_log/_last_checkpoint`` names; None if there is none (or it
        cannot be read: the next look tries again)."""
        import json

        uri = f"{self.uri}/_delta_log/_last_checkpoint"
        try:
            if "://" not in self.uri:
                data = Path(uri).read_bytes()
            else:
                files, key = object_files(uri, self.storage_options)
                data = read_object(files, key)
            version = json.loads(data)["version"]
            return version if type(version) is int else None
        except Exception:  # noqa: BLE001 - missing or damaged: no checkpoint to go by
            return None

    def snapshot_files(self, as_of: int | datetime | None = None, *,
                       readable: bool = True) -> tuple[int, list[str]]:
        """(version, data files) of the latest snapshot, or as of a version or time.

        The files are paths DuckDB can read: the URIs themselves on a local store, local
        copies of them on a remote one (store/file_cache.py; each fetched once), unless
        ``readable=False`` asks for the URIs. The latest file list is cached per version,
        so a repeated read of an unchanged table costs one log listing, not a re-open. As
        of a time before the table existed, the answer is version 0: the empty table.
        """
        version, uris = self._snapshot_uris(as_of)
        if not readable or "://" not in self.uri or not uris:
            return version, uris
        with self._copies_lock:
            if self._copies is not None and self._copies[0] == (version, len(uris)) and \
                    as_of is None and all_present(self._copies[1]):
                if time.monotonic() - self._copies_touched > 60:
                    touch(self._copies[1])  # in use: not the next to be evicted
                    self._copies_touched = time.monotonic()
                return version, self._copies[1]
            copies = local_copies(uris, self.fs_options, folder=self.cache_folder,
                                  delta_options=self.storage_options or {})
            if as_of is None:
                self._copies = ((version, len(uris)), copies)
                self._copies_touched = time.monotonic()
        return version, copies

    def exists(self) -> bool:
        """Whether the table was created (a table of store/open_tables.py is created by its
        first writer, not with the store); once seen, remembered."""
        from deltalake import DeltaTable

        if not self._exists:
            if "://" not in self.uri:
                self._exists = os.path.isdir(f"{self.uri}/_delta_log") and \
                    any(Path(f"{self.uri}/_delta_log").glob("*.json"))
            else:
                self._exists = DeltaTable.is_deltatable(self.uri, self.storage_options)
        return self._exists

    def schema_at(self, version: int) -> pa.Schema:
        """The table's Arrow schema at ``version``: a table whose columns grow (see
        store/open_tables.py) has one per version. The last one asked is kept."""
        import pyarrow as pa
        from deltalake import DeltaTable

        kept = self._schema
        if kept is not None and kept[0] == version:
            return kept[1]
        try:
            with self._read_lock:
                dt = self._read_dt
                if dt is not None and dt.version() == version:
                    schema = pa.schema(dt.schema().to_arrow())
                else:
                    dt = DeltaTable(self.uri, version=version,
                                    storage_options=self.storage_options)
                    schema = pa.schema(dt.schema().to_arrow())
        except _store_errors() as exc:
            raise StoreUnavailable(f"cannot read the schema of table {self.name!r} at "
                                   f"{self.uri!r}, version {version}: {exc}") from exc
        self._schema = (version, schema)
        return schema

    def _fresh(self) -> bool:
        """Whether the last listing of a remote table may be reused: it started less than
        ``freshness`` seconds ago, and after this process's last commit to the table
        (so a process always reads its own writes; other processes' commits show within
        ``freshness`` seconds). A local table is never reused: one stat tells whether it
        moved."""
        return ("://" in self.uri and self.freshness > 0
                and self._listed_at > _last_commit.get(self.uri, -1.0)
                and time.monotonic() - self._listed_at < self.freshness)

    def table_id(self) -> str:
        """The Delta table's id (its metadata's): a table deleted and created again at the
        same URI has another, so what a reader saved of the old one can be told apart."""
        from deltalake import DeltaTable

        try:
            with self._read_lock:
                if self._read_dt is None:
                    self._read_dt = DeltaTable(self.uri, storage_options=self.storage_options)
                    self._read_opened_at = self._read_dt.version()
                    self._checkpoint_checked_at = time.monotonic()
                return str(self._read_dt.metadata().id)
        except _store_errors() as exc:
            self._read_dt = None
            raise StoreUnavailable(f"cannot read table {self.name!r} at {self.uri!r}: "
                                   f"{exc}") from exc

    def _snapshot_uris(self, as_of: int | datetime | None) -> tuple[int, list[str]]:
        """(version, data files: local paths or remote URIs): what :meth:`snapshot_files` reads."""
        from deltalake import DeltaTable

        try:
            if as_of is not None:
                dt = DeltaTable(self.uri, storage_options=self.storage_options)
                if isinstance(as_of, int) and as_of > dt.version():
                    raise InvalidArgument(f"table {self.name!r} has no version {as_of}; "
                                          f"its latest is {dt.version()}")
                dt.load_as_version(as_of)
                return dt.version(), local_paths(self.uri, dt.file_uris())
            with self._read_lock:
                if self._files is not None and self._read_dt is not None and self._fresh():
                    return self._files
                started = time.monotonic()
                if self._read_dt is not None:
                    moved = self._may_have_moved(self._read_dt.version())
                    if moved is None:  # its next commits were cleaned up: from the checkpoint
                        self._read_dt = None
                    elif moved:
                        self._read_dt.update_incremental()
                        if self._read_dt.version() - self._read_opened_at >= REOPEN_EVERY:
                            self._read_dt = None
                if self._read_dt is None:
                    self._read_dt = DeltaTable(self.uri, storage_options=self.storage_options)
                    self._read_opened_at = self._read_dt.version()
                    self._checkpoint_checked_at = started
                self._listed_at = started
                version = self._read_dt.version()
                if self._files is None or self._files[0] != version:
                    self._files = (version, local_paths(self.uri,
                                                        self._read_dt.file_uris()))
                return self._files
        except _store_errors() as exc:
            self._read_dt = None
            raise StoreUnavailable(f"cannot read table {self.name!r} at {self.uri!r}: "
                                   f"{exc}") from exc


def local_paths(table_uri: str, uris: list[str]) -> list[str]:
    """deltalake's data-file URIs of a table, as paths DuckDB and pyarrow open: a local
    table's are absolute, with the table's folder percent-encoded (a store under
    ``/data/my runs`` is listed as ``/data/my%20runs/...``), so that part is given back
    as the real folder; the rest (a partition folder ``p=a%20b`` is named so on disk)
    stays. A remote table's stay URIs.

    Example:
        >>> local_paths("/data/my runs/t", ["/data/my%20runs/t/p=a%20b/f.parquet"])
        ['/data/my runs/t/p=a%20b/f.parquet']
    """
    if "://" in table_uri:
        return uris
    from urllib.parse import unquote

    root = os.path.abspath(table_uri)
    depth = root.count("/")
    out = []
    for uri in uris:
        parts = uri.split("/")
        if unquote("/".join(parts[:depth + 1])) == root:
            out.append("/".join([root, *parts[depth + 1:]]))
        else:  # (listed under another spelling of the folder: a symlink resolved)
            out.append(unquote(uri))
    return out
