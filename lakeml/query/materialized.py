"""The current state as Delta tables under ``<store>/views/``, for any Delta reader.

The store's own tables are append-only event rows: a reader that is not lakeml
(Spark without lakeml's views, Trino, polars, DuckDB's delta extension, a BI
tool reading Delta) would have to fold them. :func:`materialize` writes what
the sql/ views compute instead, one Delta table per view in :data:`TARGETS`
(``runs_wide`` with experiment names, ``latest_metrics``, ``params``, ``tags``,
``model_versions``).

Refreshes are incremental. Each table's commit records, in its commit
metadata, the version of every store table it was computed from. The next
refresh compares those versions' data files with today's: the runs named in the
files added or removed since (plus every run of an experiment whose row
changed, for its name) are recomputed, and their rows replaced in one Delta
commit: an overwrite whose predicate names the runs, ``run_id IN (…)`` for up to
:data:`IN_LIST_MAX` of them, else the id ranges they fill in the table (run ids
sort by time, so new runs are one range). The predicate is kept in the commit's
log entry, so it stays short: past :data:`RANGES_MAX` ranges (runs scattered among
unchanged ones) the replacement is split over several commits, the last of which
records the new versions; each of those commits is made on the table version the
refresh planned from plus its own commits, so another refresh committing in between
(which may have read an older store) makes this one start over. ``model_versions``,
small, is rewritten whole when the registry changed. So a reader sees a table
before or after a refresh, never half of one, except a refresh split that way,
whose runs appear a batch at a time.
When the recorded versions can no longer be read (vacuumed files, a table made
by something else), the table is rebuilt whole.

Example:
    >>> from lakeml.store import Store                               # doctest: +SKIP
    >>> materialize(Store("/tmp/lake"))                              # doctest: +SKIP
    [Refreshed(table='runs_wide', mode='full', rows=1200, version=0), ...]
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from lakeml.errors import CommitConflict, InvalidArgument, StoreUnavailable
from lakeml.query.lake import LakeViews
from lakeml.query.refresh_stop import RefreshStopped, Stop
from lakeml.sqltext import read_files, sql_string

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.store import Store

log = logging.getLogger(__name__)

# view -> (the store tables it is computed from, the key its rows are replaced by:
# run_id, or None for a table rewritten whole)
TARGETS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "runs_wide": (("runs", "metric_latest", "params", "tags", "experiments"), "run_id"),
    "latest_metrics": (("metric_latest",), "run_id"),
    "params": (("params",), "run_id"),
    "tags": (("tags",), "run_id"),
    "model_versions": (("registry_log",), None),
}
RUN_TABLES = ("runs", "metric_latest", "params", "tags")  # store tables with a run_id column
METADATA_KEY = "lakeml.views.sources"  # commit metadata: {store table: version read}
REFRESH_KEY = "lakeml.views.refresh"  # commit metadata: the id of the refresh writing it
FULL_ABOVE = 200_000  # more changed runs than this: rewrite the table whole
IN_LIST_MAX = 1_000  # run ids named one by one in a replacing commit's predicate
RANGES_MAX = 50  # run-id ranges (an OR chain) in one replacing commit's predicate
WRITE_ATTEMPTS = 3
WRITERS_REBUILD_ROWS = 50_000  # rows of the store's runs table up to which rebuild=False
# still writes tables whole (a fold of that many takes about a second)


@dataclass(frozen=True)
class Refreshed:
    """What one refresh did to one table: ``mode`` is full, incremental or unchanged;
    ``rows`` the rows written; ``version`` the table's Delta version after it. At exit a
    table that needs building whole is ``skipped``."""

    table: str
    mode: str
    rows: int
    version: int


def views_root(store: Store) -> str:
    """Where the materialized tables live: ``<store>/views``."""
    return f"{store.uri}/views"


def table_uri(store: Store, name: str) -> str:
    """The Delta table of view ``name`` under :func:`views_root`."""
    if name not in TARGETS:
        raise InvalidArgument(f"no materialized view {name!r}; known: {sorted(TARGETS)}")
    return f"{views_root(store)}/{name}"


def recorded_versions(store: Store, name: str) -> dict[str, int] | None:
    """The store-table versions the latest commit of view table ``name`` was computed from
    (None: no such table, or not written by :func:`materialize`)."""
    from deltalake import DeltaTable

    uri = table_uri(store, name)
    if not DeltaTable.is_deltatable(uri, store.storage_options or None):
        return None
    return _recorded(store, name)[0]


def _recorded(store: Store, name: str) -> tuple[dict[str, int] | None, int]:
    """:func:`recorded_versions` and the table version whose commit recorded them."""
    from deltalake import DeltaTable

    uri = table_uri(store, name)
    if not DeltaTable.is_deltatable(uri, store.storage_options or None):
        return None, -1
    latest = DeltaTable(uri, storage_options=store.storage_options or None).history(1)
    if not latest:
        return None, -1
    text = latest[0].get(METADATA_KEY)
    try:
        found = json.loads(text) if text else None
    except ValueError:
        return None, -1
    return (found, int(latest[0]["version"])) if isinstance(found, dict) else (None, -1)


def materialize(store: Store, tables: Iterable[str] | None = None, *,
                full: bool = False, rebuild: bool = True,
                stop: Stop | None = None) -> list[Refreshed]:
    """Bring the Delta tables under ``<store>/views/`` up to the store's latest commits.

    Args:
        store: the store whose current state is written (it is opened, not created).
        tables: which of :data:`TARGETS` (default: all).
        full: rewrite every table whole instead of replacing the changed runs' rows.
        rebuild: False leaves alone (``skipped``) a run table that would have to be
            written whole (none yet, no record, too many changed runs) when the store
            holds more than WRITERS_REBUILD_ROWS run rows: a writing process keeping
            the tables fresh must not spend minutes folding a large store, least of
            all at exit (a small one takes a moment).
        stop: when set (from another thread), the refresh raises
            :class:`RefreshStopped` before its next step or commit, and its running
            DuckDB query is interrupted.

    Returns:
        A :class:`Refreshed` per table, in the order asked.
    """
    import duckdb

    names = list(TARGETS) if tables is None else list(tables)
    for name in names:
        table_uri(store, name)  # refuses an unknown name, naming it
    stop = stop or Stop()
    for _ in range(WRITE_ATTEMPTS):
        stop.check()
        refresh = None
        try:
            refresh = _Refresh(store, names, full=full, rebuild=rebuild, stop=stop)
            return refresh.run()
        except duckdb.InterruptException as exc:
            if stop.is_set():
                raise RefreshStopped("the refresh of the view tables was asked to stop"
                                     ) from exc
            raise
        except CommitConflict:  # another refresh committed first: start from its result
            log.info("a concurrent refresh of %s committed first; refreshing again", store)
        finally:
            if refresh is not None:
                refresh.close()
    raise CommitConflict(f"the views of {store.uri!r} kept being refreshed by another "
                         f"process ({WRITE_ATTEMPTS} attempts); run again")


class _Refresh:
    """One refresh: the store's views read at one set of versions, written table by table."""

    def __init__(self, store: Store, names: list[str], *, full: bool,
                 rebuild: bool = True, stop: Stop | None = None) -> None:
        sources = sorted({s for n in names for s in TARGETS[n][0]})
        self.store = store
        self.names = names
        self.stop = stop or Stop()
        self.lake = LakeViews(store)
        self.con = self.lake.connect()
        self.stop.attach(self.con)
        try:
            self.lake.refresh(sources)
        except BaseException:
            self.close()
            raise
        self.versions = self.lake.versions()
        self.full = full
        self.rebuild = rebuild
        self._diffs: dict[tuple[str, int], set[str] | None] = {}
        self._before: dict[str, dict[str, int]] = {}  # each table's recorded versions
        self._base: dict[str, int] = {}  # each table's version those were read at
        self.token = uuid.uuid4().hex  # marks this refresh's commits

    def close(self) -> None:
        self.stop.detach(self.con)
        self.con.close()

    def run(self) -> list[Refreshed]:
        plans = {name: self._plan(name) for name in self.names}
        if not self.rebuild and any(plan == "full" and TARGETS[name][1]
                                    for name, plan in plans.items()) \
                and self._run_rows() > WRITERS_REBUILD_ROWS:
            # whole run tables of a large store are left to a refresh with time for them
            plans = {name: "skipped" if plan == "full" and TARGETS[name][1] else plan
                     for name, plan in plans.items()}
        # whole tables first: the incremental ones then narrow the views to changed runs
        done = {name: self._write(name, plan) for name, plan in plans.items()
                if not isinstance(plan, set)}
        changed = set().union(*(p for p in plans.values() if isinstance(p, set)))
        if changed:
            self._restrict(changed)
        done.update({name: self._write(name, plan) for name, plan in plans.items()
                     if isinstance(plan, set)})
        return [done[name] for name in self.names]

    def _run_rows(self) -> int:
        """Rows of the store's runs table (its data files' footers; no rows read)."""
        self.lake.refresh(["runs"])
        files = self.lake.files("runs")
        if not files:
            return 0
        return int(self.con.sql(f"SELECT sum(num_rows) FROM parquet_file_metadata("
                                f"[{', '.join(sql_string(f) for f in files)}])"
                                ).fetchall()[0][0] or 0)

    # ---- what changed ---------------------------------------------------------
    def _plan(self, name: str) -> set[str] | str:
        """The run ids whose rows ``name`` must replace, or "full" / "unchanged"."""
        sources, key = TARGETS[name]
        before, base = (None, -1) if self.full else _recorded(self.store, name)
        if before is None or any(s not in before for s in sources):
            return "full"
        self._before[name] = before
        self._base[name] = base
        if all(before[s] == self.versions[s] for s in sources):
            return "unchanged"
        if key is None:  # rewritten whole, unless its sources were only compacted
            moved = [s for s in sources if before[s] != self.versions[s]]
            return "unchanged" if all(self._only_compacted(s, before[s]) for s in moved) \
                else "full"
        runs: set[str] = set()
        for source in sources:
            if before[source] == self.versions[source]:
                continue
            found = self._changed_runs(source, before[source])
            if found is None or len(runs) + len(found) > FULL_ABOVE:
                return "full"
            runs |= found
        return runs

    def _changed_runs(self, source: str, since: int) -> set[str] | None:
        """Run ids in the data files of ``source`` added or removed after version ``since``
        (for experiments: the runs of the experiments in them); None if that version's
        files cannot be read any more."""
        if (source, since) in self._diffs:
            return self._diffs[(source, since)]
        import duckdb
        from deltalake.exceptions import DeltaError

        found: set[str] | None
        try:
            _, old = self.store.snapshot_files(source, since)
            now = self.lake.files(source)
            moved = sorted(self._data_files(source, since, set(now).symmetric_difference(old),
                                            now))
            column = "run_id" if source in RUN_TABLES else "experiment_id"
            keys = {row[0] for row in self.con.sql(
                f"SELECT DISTINCT {column} FROM {read_files(moved)}").fetchall()} \
                if moved else set()
            if source == "experiments" and keys:
                self.con.execute("CREATE OR REPLACE TEMP TABLE changed_experiments "
                                 "(experiment_id VARCHAR)")
                self.con.executemany("INSERT INTO changed_experiments VALUES (?)",
                                     [(k,) for k in keys])
                # every run with a row naming one of them (a superset of their runs now),
                # from the raw rows: no fold of every run's state
                keys = {row[0] for row in self.con.sql(
                    "SELECT DISTINCT run_id FROM lake_runs SEMI JOIN changed_experiments "
                    "USING (experiment_id)").fetchall()}
            found = {k for k in keys if k is not None}
        except (duckdb.IOException, DeltaError, InvalidArgument, StoreUnavailable) as exc:
            log.info("views: %s since version %d cannot be read (%s); rebuilding", source,
                     since, exc)
            found = None
        self._diffs[(source, since)] = found
        return found

    def _only_compacted(self, source: str, since: int) -> bool:
        """Whether every commit of ``source`` after ``since`` left its rows as they were."""
        from lakeml.query.delta_changes import data_changes

        changes = data_changes(self.store, source, since, self.versions[source])
        return changes is not None and not changes.added and not changes.removed

    def _data_files(self, source: str, since: int, moved: set[str], now: list[str]
                    ) -> set[str]:
        """Of the files that came or went since version ``since`` (``moved``), those
        holding changed rows: files a compaction only rewrote are left out (by the
        commit log, :mod:`lakeml.query.delta_changes`), and files that changed rows but
        are gone again (new rows a compaction has since folded into another; a
        compaction's output that a delete rewrote without the deleted rows) are read
        as well. When the log or those files cannot be read (vacuumed), all of
        ``moved``, as a compaction's output holds every row it took."""
        import posixpath

        from lakeml.query.delta_changes import data_changes

        changes = data_changes(self.store, source, since, self.versions[source])
        if changes is None:
            return moved
        name = posixpath.basename if self.store.is_local else _copied_name
        present = {name(p) for p in now} | {name(p) for p in moved}
        # files with changed rows that came and went again since (a delete or update
        # rewrote a compaction's output, a compaction folded new rows in): their runs
        # changed too, and only those files still name them
        lost = sorted(p for p in changes.added | changes.removed
                      if posixpath.basename(p) not in present)
        if lost:
            if not self.store.is_local:
                return moved
            lost = [os.path.join(self.store.table_uri(source), p) for p in lost]
            if not all(os.path.isfile(p) for p in lost):  # vacuumed since
                return moved
        return {p for p in moved if name(p) not in changes.quiet} | set(lost)

    def _restrict(self, runs: set[str]) -> None:
        """Point this refresh's ``lake_*`` views of run tables at the rows of ``runs``
        only, so the views compute just those runs (the files' run_id statistics let
        DuckDB skip the rest)."""
        import pyarrow as pa

        from lakeml.store import schemas

        self.con.register("changed_runs_arrow", pa.table({"run_id": sorted(runs)}))
        self.con.execute("CREATE OR REPLACE TEMP TABLE changed_runs AS "
                         "SELECT run_id FROM changed_runs_arrow")
        self.con.unregister("changed_runs_arrow")
        for table in RUN_TABLES:
            files = self.lake.files(table)
            source = read_files(files) if files else f"empty_{table}"
            columns = ", ".join(f'"{f.name}"' for f in schemas.TABLES[table])
            self.con.execute(
                f"CREATE OR REPLACE VIEW lake_{table} AS SELECT {columns} FROM {source} "
                f"WHERE {_run_range(runs)} AND run_id IN (SELECT run_id FROM changed_runs)")

    # ---- writing --------------------------------------------------------------
    def _write(self, name: str, plan: set[str] | str) -> Refreshed:
        from deltalake import CommitProperties, write_deltalake
        from deltalake.exceptions import CommitFailedError

        self.stop.check()
        uri = table_uri(self.store, name)
        if plan in ("unchanged", "skipped"):
            version = _version(self.store, uri) if plan == "unchanged" else -1
            return Refreshed(name, plan, 0, version)
        key = TARGETS[name][1]
        recorded = {s: self.versions[s] for s in TARGETS[name][0]}
        props = CommitProperties(custom_metadata={METADATA_KEY: json.dumps(recorded),
                                                  REFRESH_KEY: self.token})
        options = self.store.storage_options or None
        try:
            if plan == "full":
                data = self._rows(name, key, None)
                write_deltalake(uri, data, mode="overwrite", schema_mode="overwrite",
                                storage_options=options, commit_properties=props)
                return Refreshed(name, "full", data.num_rows, _version(self.store, uri))
            assert isinstance(plan, set)
            if not plan:  # only rows without a run (none today): nothing to replace
                return Refreshed(name, "unchanged", 0, _version(self.store, uri))
            batches = self._batches(name, key, plan)
            # all but the last commit record the old versions: a refresh stopped between
            # them is redone from the start by the next one
            before = CommitProperties(custom_metadata={
                METADATA_KEY: json.dumps(self._before[name]), REFRESH_KEY: self.token})
            rows = 0
            for i, (predicate, runs) in enumerate(batches):
                data = self._rows(name, key, runs)
                self.stop.check()
                # each commit is made on the version this refresh planned from plus its
                # own commits: a concurrent refresh's commit in between (it may have read
                # an older store and written older rows of these runs) is a conflict,
                # and the whole refresh starts again from the table as it is then
                pinned = self._pinned(name, uri, self._base[name] + i)
                write_deltalake(pinned, data, mode="overwrite", predicate=predicate,
                                storage_options=options,
                                commit_properties=props if i == len(batches) - 1 else before)
                rows += data.num_rows
            self._pinned(name, uri, self._base[name] + len(batches))
            return Refreshed(name, "incremental", rows, _version(self.store, uri))
        except CommitFailedError as exc:
            raise CommitConflict(f"view table {name!r} changed during the refresh: {exc}"
                                 ) from exc

    def _pinned(self, name: str, uri: str, expected: int):
        """View table ``name`` loaded at version ``expected``, after checking that it
        is the table's latest and that every commit since the plan is this refresh's
        own; else :class:`CommitConflict` (the refresh is redone from scratch)."""
        from deltalake import DeltaTable

        table = DeltaTable(uri, storage_options=self.store.storage_options or None)
        latest = table.version()
        base = self._base[name]
        if latest != expected or any(c.get(REFRESH_KEY) != self.token
                                     for c in table.history(latest - base)[:latest - base]):
            raise CommitConflict(f"view table {name!r} was written by another refresh "
                                 f"during this one (version {latest}, expected {expected})")
        return table

    def _batches(self, name: str, key: str, runs: set[str]) -> list[tuple[str, set[str]]]:
        """(predicate, run ids) of each commit replacing the rows of ``runs`` in ``name``.

        Up to IN_LIST_MAX runs are named in an IN list. More are grouped into islands:
        runs that follow one another in the table's run-id order with no unchanged run
        between them (:meth:`_islands`); an island of one is named, a longer one is a
        range, which then deletes exactly the island's rows. A commit takes at most
        RANGES_MAX ranges and IN_LIST_MAX names, so no predicate grows with the runs.
        """
        if len(runs) <= IN_LIST_MAX:
            return [(_predicate(key, [], sorted(runs)), runs)]
        batches: list[tuple[str, set[str]]] = []
        ranges: list[tuple[str, str]] = []
        named: list[str] = []
        ids: set[str] = set()
        for island in self._islands(name, key, runs):
            if len(island) == 1:
                named.append(island[0])
            else:
                ranges.append((island[0], island[-1]))
            ids.update(island)
            if len(ranges) == RANGES_MAX or len(named) == IN_LIST_MAX:
                batches.append((_predicate(key, ranges, named), ids))
                ranges, named, ids = [], [], set()
        if ids:
            batches.append((_predicate(key, ranges, named), ids))
        return batches

    def _islands(self, name: str, key: str, runs: set[str]) -> list[list[str]]:
        """``runs`` split where the view table holds an unchanged run between two of
        them, each part sorted: a range from the first of a part to its last covers
        only runs that are replaced. (A run of the store that neither the table holds
        nor changed cannot be in between: it would have been added since.)"""
        import pyarrow as pa
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        low, high = min(runs), max(runs)
        table = DeltaTable(table_uri(self.store, name),
                           storage_options=self.store.storage_options or None)
        held = table.to_pyarrow_dataset().to_table(
            columns=[key], filter=(pc.field(key) >= low) & (pc.field(key) <= high))
        self.con.register("held_runs", held.rename_columns(["run_id"]))
        self.con.register("island_runs", pa.table({"run_id": sorted(runs)}))
        try:
            return [row[0] for row in self.con.sql("""
                WITH every AS (
                    SELECT run_id, false AS changed FROM held_runs
                    UNION ALL SELECT run_id, true FROM island_runs),
                ranked AS (
                    SELECT run_id, bool_or(changed) AS changed,
                           row_number() OVER (ORDER BY run_id) AS pos
                    FROM every GROUP BY run_id)
                SELECT list(run_id ORDER BY run_id)
                FROM (SELECT run_id, pos - row_number() OVER (ORDER BY run_id) AS island
                      FROM ranked WHERE changed)
                GROUP BY island ORDER BY min(run_id)""").fetchall()]
        finally:
            self.con.unregister("held_runs")
            self.con.unregister("island_runs")

    def _rows(self, name: str, key: str | None, runs: set[str] | None) -> pa.Table:
        """The view's rows (of ``runs`` only, when given), sorted by ``key`` so that each
        data file covers a narrow range of it and later replacements rewrite few files."""
        import pyarrow as pa

        order = f" ORDER BY {key}" if key else ""
        if runs is None:
            return _for_delta(self.con.sql(f"SELECT * FROM {name}{order}").to_arrow_table())
        self.con.register("table_runs", pa.table({"run_id": sorted(runs)}))
        try:
            return _for_delta(self.con.sql(
                f"SELECT * FROM {name} WHERE {key} IN (SELECT run_id FROM table_runs)"
                f"{order}").to_arrow_table())
        finally:
            self.con.unregister("table_runs")


def _copied_name(path: str) -> str:
    """The data file's own name from the path of a remote store's local copy of it,
    ``<digest of its URI>-<name>`` (lakeml.store.file_cache.copy_name), so that the
    copies can be matched with the names in the commit log."""
    import re

    base = os.path.basename(path)
    return base[25:] if re.match(r"[0-9a-f]{24}-", base) else base


def _run_range(runs: set[str], column: str = "run_id") -> str:
    """``column`` between the least and greatest of ``runs``: a condition that file and
    row-group statistics can use (an IN list of thousands of ids is not), so reads and
    rewrites skip the files of other runs. Run ids sort by time, so the changed runs of a
    refresh are mostly the newest few files."""
    return f"{column} >= {sql_string(min(runs))} AND {column} <= {sql_string(max(runs))}"


def _predicate(column: str, ranges: list[tuple[str, str]], named: list[str]) -> str:
    """A Delta predicate for the rows whose ``column`` lies in one of ``ranges``
    (inclusive) or is one of ``named``, led by the least and greatest of all of them
    (see :func:`_run_range`)."""
    ends = [end for pair in ranges for end in pair] + named
    terms = [f"({column} >= {sql_string(lo)} AND {column} <= {sql_string(hi)})"
             for lo, hi in ranges]
    if named:
        terms.append(f"{column} IN ({', '.join(sql_string(r) for r in named)})")
    return f"{_run_range(set(ends), column)} AND ({' OR '.join(terms)})"


def _for_delta(data: pa.Table) -> pa.Table:
    """Arrow columns as Delta takes them: string views as strings (Delta has no view
    type), timestamps in microseconds."""
    import pyarrow as pa

    fields = []
    for field in data.schema:
        kind = field.type
        if pa.types.is_string_view(kind) or pa.types.is_large_string(kind):
            kind = pa.string()
        fields.append(field.with_type(kind))
    return data.cast(pa.schema(fields)) if fields != list(data.schema) else data


def _version(store: Store, uri: str) -> int:
    from deltalake import DeltaTable

    return DeltaTable(uri, storage_options=store.storage_options or None).version()


def export_duckdb(store: Store, path: str | os.PathLike[str]) -> dict[str, int]:
    """Write the tables of :data:`TARGETS`, as of the store's latest commits, into the
    DuckDB database file ``path`` (for tools with DuckDB drivers: duckdb_engine, the
    DuckDB JDBC driver); returns the rows of each.

    The file is written beside ``path`` under a temporary name and then renamed over
    it, so a tool that opens ``path`` finds the old database or the new one, whole.
    """
    import duckdb

    target = Path(path).expanduser().absolute()
    if target.is_dir():
        raise InvalidArgument(f"--duckdb {str(path)!r} is a folder; give a file name")
    if not target.parent.is_dir():
        raise InvalidArgument(f"--duckdb {str(path)!r}: folder {str(target.parent)!r} "
                              "does not exist")
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    lake = LakeViews(store)
    con = lake.connect()
    lake.refresh(sorted({s for sources, _ in TARGETS.values() for s in sources}))
    counts = {}
    try:
        con.execute(f"ATTACH {sql_string(str(partial))} AS export")
        for name, (_, key) in TARGETS.items():
            order = f" ORDER BY {key}" if key else ""
            con.execute(f"CREATE TABLE export.{name} AS SELECT * FROM {name}{order}")
            counts[name] = con.execute(f"SELECT count(*) FROM export.{name}").fetchall()[0][0]
        con.execute("DETACH export")
        os.replace(partial, target)
    except (duckdb.Error, OSError) as exc:
        raise StoreUnavailable(f"cannot write the DuckDB file {str(target)!r}: {exc}") from exc
    finally:
        con.close()
        for leftover in (partial, partial.with_name(partial.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return counts
