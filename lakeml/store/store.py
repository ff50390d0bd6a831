"""A store: the Delta tables and artifacts under one URI, and their writer."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lakeml import config
from lakeml.config import normalize_uri
from lakeml.errors import StoreUnavailable
from lakeml.store import open_tables, schemas
from lakeml.store import rows as row_builders
from lakeml.store.file_cache import store_folder
from lakeml.store.maintenance import Maintenance
from lakeml.store.object_store import delta_options
from lakeml.store.rejects import Rejected
from lakeml.store.table import DeltaTableHandle
from lakeml.store.writer import Writer
from lakeml.times import SequenceClock

if TYPE_CHECKING:
    from datetime import datetime

    import pyarrow as pa

class Store:
    """The tables under ``<uri>/tables/<name>`` and the artifacts under ``<uri>/artifacts``.

    Example:
        >>> store = Store("/tmp/lake")            # doctest: +SKIP
        >>> store.maintenance.compact(["metrics"])  # doctest: +SKIP
    """

    # The row builder of each table (store/rows.py): ``store.rows.tags(run_id=...)``.
    # Writers reach them through their store, so modules that ``import lakeml`` loads
    # need not import pyarrow to build rows.
    rows = row_builders

    def __init__(self, uri: str | os.PathLike[str], *,
                 storage_options: dict[str, str] | None = None,
                 flush_interval: float | None = None,
                 flush_rows: int | None = None) -> None:
        self.uri = normalize_uri(uri)
        self.is_local = "://" not in self.uri
        self.storage_options = delta_options(self.uri, dict(
            storage_options if storage_options is not None else config.storage_options()))
        self.artifact_storage_options = ({} if self.is_local
                                         else config.artifact_storage_options())
        retries = config.get("commit_retries")
        self.tables: dict[str, DeltaTableHandle] = {
            name: DeltaTableHandle(name, self.table_uri(name), schema,
                                   self.storage_options, retries)
            for name, schema in schemas.TABLES.items()
        }
        # the tables whose columns grow (store/open_tables.py): their writers create them
        self.grown: dict[str, DeltaTableHandle] = {
            name: DeltaTableHandle(name, self.table_uri(name), open_tables.core_schema(name),
                                   self.storage_options, retries)
            for name in open_tables.TABLES
        }
        freshness = config.get("remote_freshness")  # checked for every store
        for handle in [*self.tables.values(), *self.grown.values()]:  # remote reads
            handle.fs_options = self.artifact_storage_options
            handle.cache_folder = None if self.is_local else store_folder(self.uri)
            handle.freshness = 0.0 if self.is_local else freshness
        self.clock = SequenceClock()
        self.maintenance = Maintenance(self.tables, compact_every=config.get("compact_every"),
                                       lease_seconds=config.get("compaction_lease"))
        self._flush_interval = config.get("flush_interval", flush_interval)
        self._flush_rows = config.get("flush_rows", flush_rows)
        self._writer: Writer | None = None
        # told of every row the writer rejects (see Writer), e.g. to drop a cached copy
        self.on_reject: list[Callable[[Rejected], None]] = []
        self._opened = False
        self._open_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({self.uri!r})"

    # ---- layout -------------------------------------------------------------
    def table_uri(self, name: str) -> str:
        """Where table ``name`` lives."""
        return f"{self.uri}/tables/{name}"

    @property
    def artifact_root(self) -> str:
        """Root of the artifacts, ``<uri>/artifacts``."""
        return f"{self.uri}/artifacts"

    def open(self) -> Store:
        """Create missing tables; raise StoreUnavailable if the URI cannot be used."""
        if self._opened:
            return self
        with self._open_lock:
            if self._opened:
                return self
            if self.is_local:
                path = Path(self.uri)
                if path.exists() and not path.is_dir():
                    raise StoreUnavailable(f"store {self.uri!r} is a file, not a folder")
                try:
                    (path / "tables").mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreUnavailable(f"cannot create store folder {self.uri!r}: "
                                           f"{exc.strerror or exc}") from exc
                if not os.access(path / "tables", os.W_OK):
                    raise StoreUnavailable(f"store {self.uri!r} is not writable")
            missing = [self.tables[name] for name in self._tables_to_ensure()]
            buckets = self.tables["metric_buckets"]
            new_buckets = buckets in missing and (not self.is_local or not buckets.exists())
            if self.is_local or len(missing) < 2:
                for handle in missing:
                    handle.ensure()
            else:  # each is a few round trips: at once
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(min(8, len(missing))) as pool:
                    list(pool.map(lambda handle: handle.ensure(), missing))
            if new_buckets or (self.is_local and not (
                    Path(buckets.uri) / "_delta_log" / f"{1:020d}.json").exists()
                    and buckets.writer_version() == 0):
                # created now, or earlier by an open whose mark append failed (a table
                # never appended to): a new store's mark is written, or repaired
                self._mark_buckets_complete_if_no_metrics()
            self._opened = True
        return self

    def _tables_to_ensure(self) -> list[str]:
        """The tables :meth:`open` must check (and create if missing): every one on a
        local store (a check is a stat); on a remote one those whose folder one listing
        of ``tables/`` does not show (a table's first object is its first commit, so a
        folder there is a table), which spares a new process a round trip per table."""
        if self.is_local:
            return list(self.tables)
        import pyarrow.fs as pafs
        from deltalake.exceptions import DeltaError
        from deltalake.fs import DeltaStorageHandler

        try:
            listing = pafs.PyFileSystem(DeltaStorageHandler(f"{self.uri}/tables",
                                                            self.storage_options))
            found = {info.base_name for info in listing.get_file_info(
                pafs.FileSelector("", recursive=False, allow_not_found=True))
                if info.type == pafs.FileType.Directory}
        except (OSError, ValueError, DeltaError) as exc:
            raise StoreUnavailable(f"cannot list the tables of store {self.uri!r}: "
                                   f"{exc}") from exc
        return [name for name in self.tables if name not in found]

    def _mark_buckets_complete_if_no_metrics(self) -> None:
        """metric_buckets was just created: mark it complete when the metrics history is
        empty (a new store), since every point from now on is derived as it is written.
        Over an older history it stays unmarked until ``rebuild-buckets`` derives that
        history (store/buckets.py); charts read raw points meanwhile. If this append
        fails, the next open of a local store repairs it while the history is still
        empty (later, and on a remote store, ``rebuild-buckets`` writes the mark)."""
        from lakeml.store.buckets import complete_mark

        if not self.tables["metrics"].snapshot_files(readable=False)[1]:
            self.tables["metric_buckets"].append(complete_mark())

    # ---- writing ------------------------------------------------------------
    @property
    def writer(self) -> Writer:
        """The batched writer (created on first use)."""
        if self._writer is None:
            self.open()
            with self._open_lock:
                if self._writer is None:
                    auto = config.get("auto_maintenance")
                    self._writer = Writer(
                        self.tables, interval=self._flush_interval,
                        flush_rows=self._flush_rows,
                        max_buffered_rows=config.get("max_buffered_rows"),
                        after_commit=self.maintenance.note_commit if auto else None,
                        on_idle=self.maintenance.auto if auto else None,
                        on_reject=self.on_reject,
                        on_close=self.maintenance.finish if auto else None)
        return self._writer

    def append(self, table: str, row: tuple[Any, ...]) -> None:
        """Buffer one row for ``table``; it is committed by the next flush."""
        self.writer.append(table, row)

    def commit(self, table: str, data: pa.Table, *, guard: str | None = None,
               guard_version: int = 1, read_version: int | None = None) -> None:
        """Commit ``data`` to ``table`` now, bypassing the buffer.

        With ``guard``, the commit carries app transaction ``guard`` and fails
        with CommitConflict if a concurrent commit carried the same id: exactly
        one of several racers inserting the same key wins. Concurrent means
        after ``read_version``: the caller must have read, at that version or
        later, the state that makes its commit valid.
        """
        self.open()
        handle = self.tables[table]
        if guard is None:
            handle.append(data)
        elif read_version is None:
            raise ValueError("a guarded commit needs read_version: the table version whose "
                             "state the caller checked (see read_guard)")
        else:
            handle.append(data, app_id=guard, version=guard_version, retries=1000,
                          read_version=read_version)

    def guard_version(self, table: str, guard: str) -> int:
        """The last version committed under app transaction ``guard`` (0 if none)."""
        self.open()
        return self.tables[table].committed_version(guard)

    def read_guard(self, table: str, guard: str) -> tuple[int, int]:
        """(guard_version, the table version it was read at): commit with
        ``read_version`` set to the latter, after reading the state to check."""
        self.open()
        return self.tables[table].read_guard(guard)

    def flush(self, *, report: bool = True) -> None:
        """Commit everything buffered; with ``report``, raise InvalidArgument naming rows
        rejected since the last report (see Writer.flush)."""
        if self._writer is not None:
            self._writer.flush(report=report)

    def has_unflushed(self, tables: Iterable[str] | None = None) -> bool:
        """Whether this process has rows (of ``tables``, default any) not yet committed."""
        return self._writer is not None and self._writer.has_unflushed(tables)

    def close(self) -> None:
        """Commit what is left and stop the background flusher."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ---- reading --------------------------------------------------------------
    def snapshot_files(self, table: str, as_of: int | datetime | None = None
                       ) -> tuple[int, list[str]]:
        """(version, data files) of ``table`` now, or at ``as_of``; a table whose columns
        grow that no one has written yet is (-1, [])."""
        self.open()
        grown = self.grown.get(table)
        if grown is not None:
            return grown.snapshot_files(as_of) if grown.exists() else (-1, [])
        return self.tables[table].snapshot_files(as_of)

    def schema_at(self, table: str, version: int) -> pa.Schema:
        """The Arrow schema of ``table`` at ``version`` (-1: its fixed columns)."""
        handle = self.grown.get(table) or self.tables[table]
        return handle.schema if version < 0 else handle.schema_at(version)

    def list_on_every_read(self) -> None:
        """From now on every read of a remote table lists its log, as a local one stats
        it: no freshness window (``remote_freshness``). A server worker needs this: it
        promises that a read or a write's check on any worker sees every write another
        worker acknowledged before it."""
        for handle in [*self.tables.values(), *self.grown.values()]:
            handle.freshness = 0.0

    def table_ids(self, names: Iterable[str]) -> dict[str, str]:
        """The Delta table id of each of tables ``names`` (see DeltaTableHandle.table_id)."""
        self.open()
        return {name: self.tables[name].table_id() for name in names}

    def same_tables(self, recorded: dict[str, str] | None) -> bool:
        """Whether ``recorded`` (table ids saved beside a reader's cache of this store, such
        as a run snapshot) are the ids of the store's tables now. A remote store's caches
        live on this machine and outlive the store: one deleted and created again at the
        same URI has new tables, and a cache of the old ones must not show their rows.
        Nothing recorded: only a local store's cache passes (it lives inside the store and
        goes with it; older snapshots recorded no ids)."""
        if not recorded:
            return self.is_local
        try:
            return self.table_ids(recorded) == recorded
        except (KeyError, StoreUnavailable):
            return False
