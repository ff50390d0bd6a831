"""Maintenance of every lakeml table from Spark: OPTIMIZE, checkpoint, VACUUM, and a
refresh of the current-state tables under ``<store>/views/`` (``lakeml views
materialize``) first, while every file the refresh compares is still there.

OPTIMIZE runs under the same compaction lease as lakeml's own compaction
(:meth:`lakeml.store.maintenance.Maintenance.lease`), so a Spark job and a
Python process never compact one table at once. Checkpoints and log
clean-up go through deltalake; VACUUM through Spark with a retention of at
least a week unless asked otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from lakeml.errors import InvalidArgument
from lakeml.spark.session import refuse_unsafe_s3_commit, table_path
from lakeml.spark.views import resolve_store
from lakeml.store.maintenance import DEFAULT_RETENTION_HOURS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakeml.client import Client
    from lakeml.store.store import Store

_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")


@dataclass
class TableReport:
    """What maintenance did to one table."""

    table: str
    files_before: int = 0
    files_after: int = 0
    log_before: tuple[int, int] = (0, 0)  # (commit files, commits since the last checkpoint)
    log_after: tuple[int, int] = (0, 0)
    vacuumed: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.table}: data files {self.files_before} -> {self.files_after}; "
                f"log files {self.log_before[0]} -> {self.log_after[0]}, "
                f"commits to replay {self.log_before[1]} -> {self.log_after[1]}; "
                f"vacuumed {self.vacuumed} file(s)"
                + "".join(f"; {n}" for n in self.notes))


@dataclass
class ViewsReport:
    """What maintenance did to one current-state table under ``<store>/views/``."""

    table: str
    mode: str  # full, incremental, unchanged (lakeml.query.materialized.Refreshed)
    rows: int

    def line(self) -> str:
        return f"views/{self.table}: {self.mode}; {self.rows} row(s) written"


def refresh_views(store: Store, views: bool | None) -> list[ViewsReport]:
    """Bring the view tables up to date (``views`` True: all of them, creating those
    missing; None: those that exist; False: none). Incremental: only the runs changed
    since their last refresh are replaced."""
    from deltalake import DeltaTable

    from lakeml.query.materialized import TARGETS, materialize, table_uri

    if views is False:
        return []
    names = [name for name in TARGETS if views or DeltaTable.is_deltatable(
        table_uri(store, name), store.storage_options or None)]
    return [ViewsReport(d.table, d.mode, d.rows) for d in materialize(store, names)] \
        if names else []


def log_length(store: Store, table: str) -> tuple[int, int]:
    """(commit files in _delta_log, commits a reader replays after the last checkpoint)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(f"{store.table_uri(table)}/_delta_log",
                                     **store.artifact_storage_options)
    names = [name.rsplit("/", 1)[-1] for name in fs.ls(path, detail=False)]
    commits = [int(m.group(1)) for n in names if (m := _COMMIT.match(n))]
    checkpoints = [int(m.group(1)) for n in names if (m := _CHECKPOINT.match(n))]
    last = max(checkpoints, default=-1)
    return len(commits), sum(1 for c in commits if c > last)


def maintain(spark: SparkSession, store: Store | Client | str | None = None, *,
             tables: Iterable[str] | None = None, optimize: bool = True,
             checkpoint: bool = True, vacuum: bool = True,
             retention_hours: int = DEFAULT_RETENTION_HOURS, views: bool | None = None,
             on_report: Callable[[TableReport | ViewsReport], None] | None = None
             ) -> list[TableReport | ViewsReport]:
    """Refresh the view tables, then OPTIMIZE, checkpoint and VACUUM ``tables`` (default:
    all); one report per view table and per table.

    ``views``: True refreshes every view table (making those missing), False none, and
    None those that exist when every table is maintained (a store that someone
    materialized once stays fresh). They go first: VACUUM may delete the files the
    refresh compares its last version with, while a compaction after it is recognized
    as no change of data by the next one.

    Progress goes to stderr as each table starts (see :mod:`lakeml.progress`);
    ``on_report`` is called with each table's report as soon as it is done.
    """
    from lakeml.progress import phase, steps

    if retention_hours < 0:
        raise InvalidArgument(f"retention_hours must be >= 0, got {retention_hours}")
    resolved = resolve_store(store)
    refuse_unsafe_s3_commit(spark, resolved.uri)
    names = list(tables) if tables is not None else list(resolved.tables)
    unknown = sorted(set(names) - set(resolved.tables))
    if unknown:
        raise InvalidArgument(f"unknown table(s) {unknown}; valid: {sorted(resolved.tables)}")
    reports: list[TableReport | ViewsReport] = []
    if views or (views is None and tables is None):
        with phase("refreshing the view tables"):
            for done in refresh_views(resolved, views):
                reports.append(done)
                if on_report is not None:
                    on_report(done)
    for name in steps(names, "maintain", unit="table"):
        handle = resolved.tables[name]
        quoted = "`" + table_path(resolved, name).replace("`", "``") + "`"
        report = TableReport(name, files_before=len(handle.snapshot_files()[1]),
                             log_before=log_length(resolved, name))
        if optimize:
            with resolved.maintenance.lease(name) as why_not:
                if why_not:
                    report.notes.append(f"optimize skipped: {why_not}")
                else:
                    spark.sql(f"OPTIMIZE delta.{quoted}").collect()
        if vacuum:
            report.vacuumed = _vacuum(spark, quoted, retention_hours)
        if checkpoint:  # last: VACUUM and the lease release are commits too
            resolved.maintenance.checkpoint([name])
        report.files_after = len(handle.snapshot_files()[1])
        report.log_after = log_length(resolved, name)
        reports.append(report)
        if on_report is not None:
            on_report(report)
    return reports


def _vacuum(spark: SparkSession, quoted: str, retention_hours: int) -> int:
    """VACUUM one table; returns how many files it deleted."""
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    before = spark.conf.get(check, "true")
    if retention_hours < DEFAULT_RETENTION_HOURS:  # asked for explicitly: readers are done
        spark.conf.set(check, "false")
    try:
        doomed = spark.sql(f"VACUUM delta.{quoted} RETAIN {int(retention_hours)} HOURS "
                           "DRY RUN").count()
        if doomed:
            spark.sql(f"VACUUM delta.{quoted} RETAIN {int(retention_hours)} HOURS").collect()
        return doomed
    finally:
        spark.conf.set(check, before)
