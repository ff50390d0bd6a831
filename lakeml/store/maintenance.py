"""Keeping tables fast: compaction, checkpoints, log clean-up and vacuum.

Thousands of small commits make a table slow to open and to scan. The writer
calls :meth:`Maintenance.auto` from its background thread, so compaction and
checkpoints happen without anyone remembering; ``lakeml maintenance …`` and
``jobs/maintain.py`` (Spark) run the same steps on demand.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from lakeml.errors import CommitConflict, InvalidArgument, LakemlError, StoreUnavailable
from lakeml.store.table import local_paths, writer_properties

if TYPE_CHECKING:
    import duckdb

    from lakeml.store.table import DeltaTableHandle

log = logging.getLogger(__name__)

# Vacuum never removes files younger than this: a reader that opened an older
# snapshot (time travel, a long query) still finds its files.
DEFAULT_RETENTION_HOURS = 168

# Automatic compaction counts data files under SMALL_FILE_BYTES (a flush of a few
# runs writes a few KB) and packs files under AUTO_TARGET_BYTES into files of
# about that size, leaving bulk loads' large files alone.
SMALL_FILE_BYTES = 1 << 20
AUTO_TARGET_BYTES = 8 << 20

# App transaction id carried by every compaction commit (see Maintenance.compact).
COMPACTION_GUARD = "lakeml.compaction"


@dataclass(frozen=True)
class TableStatus:
    """Size figures of one table's current snapshot."""

    table: str
    version: int
    files: int


class Maintenance:
    """Maintenance verbs over a store's tables (``store.maintenance.compact()``)."""

    def __init__(self, tables: dict[str, DeltaTableHandle], *, compact_every: int,
                 lease_seconds: int = 300) -> None:
        self._tables = tables
        self.compact_every = compact_every
        self.lease_seconds = lease_seconds
        self._commits_since_check = dict.fromkeys(tables, 0)
        self._hooks: list[Callable[[], None]] = []
        self._closers: list[Callable[[], None]] = []

    def add_hook(self, hook: Callable[[], None], *,
                 at_close: Callable[[], None] | None = None) -> None:
        """Call ``hook`` at the end of every automatic pass over all tables (:meth:`auto`
        without ``tables``, as the writer runs it after its commits). Higher layers
        keep what they derive from the tables fresh this way (the run snapshot).

        ``at_close`` is called by :meth:`finish`, once this process's writer has
        committed its last rows (``Store.close``, interpreter exit): it must
        finish its work in the calling thread, since the process may end next.
        """
        self._hooks.append(hook)
        if at_close is not None:
            self._closers.append(at_close)

    def finish(self) -> None:
        """Run the ``at_close`` hooks (see :meth:`add_hook`); their errors are logged."""
        for closer in self._closers:
            try:
                closer()
            except Exception:  # noqa: BLE001 - derived data must never break the exit
                log.exception("maintenance hook %r failed at close", closer)

    def _pick(self, tables: Iterable[str] | None) -> list[DeltaTableHandle]:
        if tables is None:
            return list(self._tables.values())
        unknown = [t for t in tables if t not in self._tables]
        if unknown:
            raise InvalidArgument(f"unknown table(s) {unknown}; valid: {sorted(self._tables)}")
        return [self._tables[t] for t in tables]

    def status(self, tables: Iterable[str] | None = None) -> list[TableStatus]:
        """Version and data-file count of each table."""
        out = []
        for handle in self._pick(tables):
            version, files = handle.snapshot_files(readable=False)
            out.append(TableStatus(handle.name, version, len(files)))
        return out

    def compact(self, tables: Iterable[str] | None = None, *,
                target_size: int | None = None) -> dict[str, dict]:
        """Rewrite small files into large ones (one commit per table); with
        ``target_size`` (bytes), files of that size or more are left alone.

        Only the holder of a table's compaction lease compacts it (see
        :meth:`_claim_lease`); a table whose lease another process holds is
        skipped and reported as ``{"skipped": "<why>"}``.
        """
        from deltalake.exceptions import CommitFailedError, DeltaError

        done: dict[str, dict] = {}
        for handle in self._pick(tables):
            with self.lease(handle.name) as why_not:
                if why_not:
                    done[handle.name] = {"skipped": why_not}
                    continue
                try:
                    dt = handle.writer_delta_table()
                    done[handle.name] = dt.optimize.compact(
                        target_size=target_size,
                        writer_properties=writer_properties(handle.schema))
                except CommitFailedError as exc:
                    raise CommitConflict(f"compaction of {handle.name!r} lost to a "
                                         f"concurrent commit: {exc}") from exc
                except (OSError, DeltaError) as exc:
                    raise StoreUnavailable(f"cannot compact {handle.name!r}: {exc}") from exc
        return done

    @contextmanager
    def lease(self, table: str) -> Iterator[str | None]:
        """Hold ``table``'s compaction lease for the ``with`` block; the block gets None, or
        why another process holds it (then the block must not compact).

        Any compactor of lakeml tables takes it, the Spark job's OPTIMIZE included.
        While the block runs, a thread renews the claim every third of the lease,
        so a compaction longer than the lease is never taken over while alive.
        """
        handle = self._pick([table])[0]
        why_not = self._claim_lease(handle)
        if why_not:
            yield why_not
            return
        stop = threading.Event()
        renewer = threading.Thread(target=self._renew_lease, args=(handle, stop),
                                   name=f"lakeml-lease-{table}", daemon=True)
        renewer.start()
        try:
            yield None
        finally:
            stop.set()
            renewer.join()
            self._release_lease(handle)

    def _renew_lease(self, handle: DeltaTableHandle, stop: threading.Event) -> None:
        while not stop.wait(max(1.0, self.lease_seconds / 3)):
            try:
                handle.append(handle.schema.empty_table(), app_id=COMPACTION_GUARD,
                              version=int(time.time()), retries=1000)
            except LakemlError as exc:  # storage hiccup: the next renewal may succeed
                log.warning("compaction lease of %s not renewed: %s", handle.name, exc)

    def _claim_lease(self, handle: DeltaTableHandle) -> str | None:
        """Take the table's compaction lease; return why not if another process holds it.

        deltalake (1.6) lets two concurrent OPTIMIZE commits of the same files
        both succeed, each adding its own copy of the rows: compactions must
        never overlap. A claim is an empty commit carrying app transaction
        COMPACTION_GUARD with the claim time (epoch seconds) as its version.
        Of two racing claims Delta admits one (the other sees the same app id
        in the winning commit and fails), and a claim younger than the lease
        blocks new ones until the holder releases it (:meth:`_release_lease`),
        so a holder that dies mid-way blocks compaction for ``lease_seconds``
        at most, and a live one must finish within that time.
        """
        now = int(time.time())
        held_since = handle.committed_version(COMPACTION_GUARD)
        if now - held_since < self.lease_seconds:
            return (f"another compaction of {handle.name!r} started at {held_since} "
                    f"(epoch s); lease {self.lease_seconds} s")
        try:
            handle.append(handle.schema.empty_table(), app_id=COMPACTION_GUARD,
                          version=now, retries=1000)
        except CommitConflict:
            return f"another process claimed the compaction of {handle.name!r} first"
        return None

    def _release_lease(self, handle: DeltaTableHandle) -> None:
        """Give the lease back: a claim dated one lease ago, which anyone may take over."""
        expired = int(time.time()) - self.lease_seconds - 1
        try:
            handle.append(handle.schema.empty_table(), app_id=COMPACTION_GUARD,
                          version=expired, retries=1000)
        except LakemlError as exc:  # another process took the lease over; it is theirs
            log.debug("compaction lease of %s not released: %s", handle.name, exc)

    def checkpoint(self, tables: Iterable[str] | None = None) -> list[str]:
        """Write a checkpoint and drop log files past the log retention."""
        names = []
        for handle in self._pick(tables):
            dt = handle.writer_delta_table()
            dt.create_checkpoint()
            dt.cleanup_metadata()
            names.append(handle.name)
        return names

    def rebuild_latest(self) -> int:
        """Append to metric_latest the latest points it lacks; returns how many.

        Only a writer killed between its metrics commit and the metric_latest
        commit that follows leaves any. Reads the whole history: minutes at
        hundreds of millions of points.
        """
        from lakeml.store.derived import missing_latest
        from lakeml.store.schemas import METRICS

        _, history = self._tables["metrics"].snapshot_files()
        _, latest = self._tables["metric_latest"].snapshot_files()
        rows = missing_latest(history, latest)
        if rows.num_rows:
            self._tables["metric_latest"].append(rows.cast(METRICS))
        return rows.num_rows

    def rebuild_buckets(self, *, runs_per_commit: int = 500, attempts: int = 20) -> int:
        """Re-derive the metric_buckets rows (store/buckets.py) of every run whose rows do
        not count exactly its points, and mark the table complete; returns how many
        bucket rows were written (0: nothing to do, and nothing committed).

        A store whose metrics predate the table needs this once before charts read
        buckets; it also repairs the runs of writers that derived no rows (a killed
        writer, an older lakeml, Spark). Runs whose rows already count their points are
        left alone, so points logged since the upgrade are not counted twice, and a
        second rebuild changes nothing. Each commit replaces all rows of up to
        ``runs_per_commit`` runs (Delta's replaceWhere: the old rows go and the new come
        in one commit, so a chart never sees a run half rebuilt); a commit that loses to
        a concurrent one re-derives its runs from the new snapshot. A writer logging one
        of those runs meanwhile may leave its count off by a batch, which the next
        rebuild repairs. Counts the whole history: minutes at hundreds of millions of
        points.
        """
        import duckdb

        from lakeml.sqltext import configure, read_files
        from lakeml.store.buckets import COMPLETE, lagging_runs
        from lakeml.store.table import note_commit

        if runs_per_commit < 1:
            raise InvalidArgument(f"runs_per_commit must be >= 1, got {runs_per_commit}")
        handle = self._tables["metric_buckets"]
        with configure(duckdb.connect()) as con:
            bucket_files = local_paths(handle.uri, handle.writer_delta_table().file_uris())
            _, history = self._tables["metrics"].snapshot_files()
            lagging = lagging_runs(history, bucket_files, con)
            marked = bool(bucket_files) and con.sql(
                f"SELECT count(*) FROM {read_files(bucket_files)} WHERE run_id = "
                f"'{COMPLETE}' AND width = 0").fetchall()[0][0] > 0
            written = 0
            chunks = [lagging[i:i + runs_per_commit]
                      for i in range(0, len(lagging), runs_per_commit)] or [[]]
            for n, chunk in enumerate(chunks):
                mark = not marked and n == len(chunks) - 1
                if not chunk and not mark:
                    continue
                written += self._replace_bucket_rows(con, chunk, mark, attempts)
            note_commit(handle.uri)
        log.info("rebuild-buckets: %d run(s) re-derived, %d row(s) written",
                 len(lagging), written)
        return written

    def _replace_bucket_rows(self, con: duckdb.DuckDBPyConnection, run_ids: list[str],
                             mark: bool, attempts: int) -> int:
        """Replace all metric_buckets rows of ``run_ids`` by rows derived from the current
        metrics snapshot (and write the complete mark with them if ``mark``), in one
        commit; returns how many rows (the mark not counted)."""
        import pyarrow as pa
        from deltalake import CommitProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError

        from lakeml.sqltext import sql_string
        from lakeml.store.buckets import COMPLETE, complete_mark, rederive

        handle = self._tables["metric_buckets"]
        terms = [f"run_id IN ({', '.join(sql_string(r) for r in run_ids)})"] if run_ids else []
        terms += [f"run_id = '{COMPLETE}'"] if mark else []
        predicate = " OR ".join(terms)
        for _ in range(attempts):
            dt = handle.writer_delta_table()
            _, history = self._tables["metrics"].snapshot_files()
            rows = rederive(history, run_ids, con)
            data = pa.concat_tables([rows, complete_mark()]) if mark else rows
            try:
                write_deltalake(dt, data, mode="overwrite", predicate=predicate,
                                commit_properties=CommitProperties(max_commit_retries=0),
                                writer_properties=writer_properties(handle.schema))
                return rows.num_rows
            except CommitFailedError:
                continue  # a writer committed rows meanwhile: derive again from there
        raise CommitConflict(f"rebuild-buckets lost {attempts} commits in a row to "
                             f"concurrent writers of table {handle.name!r}")

    def vacuum(self, tables: Iterable[str] | None = None, *,
               retention_hours: int = DEFAULT_RETENTION_HOURS,
               dry_run: bool = False) -> dict[str, list[str]]:
        """Delete data files no snapshot within ``retention_hours`` refers to."""
        if retention_hours < 0:
            raise InvalidArgument(f"retention_hours must be >= 0, got {retention_hours}")
        out = {}
        for handle in self._pick(tables):
            dt = handle.writer_delta_table()
            out[handle.name] = dt.vacuum(retention_hours=retention_hours, dry_run=dry_run,
                                         enforce_retention_duration=False)
        return out

    # ---- automatic ------------------------------------------------------------
    def note_commit(self, table: str) -> None:
        """Count a commit by this process (called by the writer after each one)."""
        self._commits_since_check[table] += 1

    def auto(self, tables: Iterable[str] | None = None, *,
             target_size: int | None = None) -> None:
        """Compact and checkpoint any table (of ``tables``, default all) this process has
        given more than ``compact_every`` small files; then, on a pass over all
        tables, run the hooks.

        Only files under SMALL_FILE_BYTES count, and compaction packs files under
        ``target_size`` (default AUTO_TARGET_BYTES): the many tiny files of
        single-run flushes are merged often and cheaply, while the large files of
        bulk loads are left as they are.
        """
        for name, commits in list(self._commits_since_check.items()):
            if tables is not None and name not in tables:
                continue
            if commits < max(1, self.compact_every // 4):
                continue
            self._commits_since_check[name] = 0
            handle = self._tables[name]
            try:
                sizes = handle.writer_delta_table().get_add_actions(flatten=True)["size_bytes"]
                small = sum(1 for size in sizes.to_pylist() if size < SMALL_FILE_BYTES)
                if small <= self.compact_every:
                    continue
                done = self.compact([name], target_size=target_size or AUTO_TARGET_BYTES)
                if "skipped" in done[name]:
                    continue
                self.checkpoint([name])
                log.debug("compacted %s (%d small files before)", name, small)
            except LakemlError as exc:  # a racer compacted first, or storage hiccup
                log.debug("automatic maintenance of %s skipped: %s", name, exc)
        if tables is not None:
            return  # a pass over named tables (the registry's) derives nothing else
        for hook in self._hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001 - derived data must never break the writer
                log.exception("maintenance hook %r failed", hook)
