"""Keeping a server worker's cache of run states true to other workers' commits.

A process validates log calls against what it knows of each run (``Backend.runs``: status
and lifecycle stage), without a query per call. In a library process another process's
change (a run deleted elsewhere) is noticed when the run is next read; a log to
it meanwhile is accepted. A server worker must do better: MLflow's client sends a delete
to one worker and its next call may reach another, and a write accepted *after* another
worker acknowledged the delete would break the promise that a read or write on any worker
sees every write acknowledged before it.

So in a server worker (its engine reads commits only) every write's validation first
calls :meth:`RunFreshness.check`:

- it looks at the ``runs`` table's latest version (on a local store one ``stat``); if it
  is the one checked last, nothing changed and nothing more is done;
- else it reads ``run_id, seq`` of the rows in the data files added since that version
  (one small scan, once per new version, not per request) and drops from the cache every
  run with a row this process did not write itself; the next use reads that run's state
  from the committed table. On a local store the added files are read off the new
  commits' log entries (lakeml.query.delta_changes), not by deltalake's update of its
  snapshot, which costs milliseconds per version on the worker's event loop; a
  compaction's files (which change no row) are not read then.

A process knows its own rows by ``(run_id, seq)``, recorded when they are made
(:meth:`RunFreshness.wrote`) and forgotten once seen committed, so a worker's own commits
cost it no re-read. Another process's row could carry the same ``(run_id, seq)`` only if
both processes changed the same run in the same microsecond, i.e. concurrently, where no
order is promised. Compaction rewrites old rows into new files: those drop their runs
from the cache too, which costs a re-read, never a wrong answer.

The first check, with no earlier version to compare against, drops every cached run that
has no uncommitted row of this process.
"""

from __future__ import annotations

from typing import Any


class RunFreshness:
    """The runs-table version a server worker's run cache was last checked at."""

    def __init__(self, backend: Any) -> None:  # the Backend holding it (backend.py)
        self._b = backend
        self._version: int | None = None
        self._files: set[str] | None = None
        self._own: set[tuple[str, int]] = set()  # rows this process made, not yet seen

    def wrote(self, run_id: str, seq: int) -> None:
        """This process made a ``runs`` row of ``run_id`` with sequence ``seq``."""
        if self._b.engine.commits_only:  # (a library process never checks: keep nothing)
            self._own.add((run_id, seq))

    def unwrote(self, run_id: str, seq: int) -> None:
        """The ``runs`` row of ``run_id`` with sequence ``seq`` is not to be looked for: a
        server worker's journal refused it (should it be committed after all, its run is
        merely read again)."""
        self._own.discard((run_id, seq))

    def check(self) -> None:
        """Drop the cached runs that other processes changed in commits made since the last
        check (see the module's docstring)."""
        store = self._b.engine.store
        if self._files is not None and self._version is not None and self._follow(store):
            return
        # the table's version and files, not the engine's views: pointing those at a new
        # version (one CREATE VIEW per database, naming every file) is a read's work
        version, listed = store.snapshot_files("runs")
        if version == self._version:
            return
        seen, self._version, self._files = self._files, version, set(map(_name, listed))
        if seen is None:
            runs, pending = self._b.runs, {run_id for run_id, _ in self._own}
            for run_id in [r for r in list(runs) if r not in pending]:
                del runs[run_id]
            return
        self._scan(sorted(f for f in listed if _name(f) not in seen))

    def _follow(self, store: Any) -> bool:
        """On a local store: take in the commits since the last check from their log
        entries (a stat when there is none), not by deltalake's update of its snapshot,
        milliseconds per version on the worker's event loop. False: the commits cannot
        be followed so (log entries cleaned up, a file already vacuumed): list them."""
        import os

        from lakeml.query.delta_changes import data_changes

        latest = store.tables["runs"].last_commit_after(self._version)
        if latest is None:
            return False
        if latest == self._version:
            return True
        changes = data_changes(store, "runs", self._version, latest)
        if changes is None:
            return False
        folder = store.table_uri("runs")
        try:  # (a compaction's files, which change no row, are not read)
            self._scan([os.path.join(folder, path) for path in sorted(changes.added)])
        except FileNotFoundError:
            return False
        self._version = latest
        self._files.difference_update(map(_name, changes.removed))
        self._files.update(map(_name, changes.added))
        return True

    def _scan(self, files: list[str]) -> None:
        """Drop the cached runs with a row in ``files`` that this process did not write."""
        if not files:
            return
        import pyarrow.parquet as pq

        runs, own = self._b.runs, self._own
        # (two columns of a few small files: pyarrow reads them in a fraction of a DuckDB
        # query's fixed cost, which a worker would pay on its event loop per version; one
        # file at a time, not pq.read_table, whose dataset layer costs twice as much per
        # file and, on a worker's first scan, 0.2 s of CPU to import)
        for path in files:
            with pq.ParquetFile(path) as parquet:
                table = parquet.read(columns=["run_id", "seq"])
            for run_id, seq in zip(table.column("run_id").to_pylist(),
                                   table.column("seq").to_pylist()):
                if (run_id, seq) in own:
                    own.discard((run_id, seq))
                else:
                    runs.pop(run_id, None)


def _name(path: str) -> str:
    """A data file's name, which tells it apart (a Delta writer names each file by a
    UUID): deltalake lists a local table's files as URIs, its log as relative paths."""
    return path.rsplit("/", 1)[-1]
