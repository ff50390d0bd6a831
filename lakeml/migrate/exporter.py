"""``lakeml export mlflow --store URI --to TRACKING_URI``: leaving lakeml for MLflow.

The reverse of the import, with the same records: lakeml's store is read as
a source (``lake_source``) and written into a *sink*, an MLflow file store
folder (``file_sink``: ids, times and version numbers kept) or a running
MLflow server (``rest_sink``: through its REST API; the server gives runs and
experiments new ids, see that module). In order: experiments, runs in batches
(every row, then their artifacts, then the run is recorded as exported), the
logged models (each model a run logged becomes an MLflow 3 logged model, an
output of its run, so MLflow's UI and ``models:/m-…`` URIs find it), the
registry (models, versions with their stages, tags, descriptions, aliases).

A re-export sends only runs that changed since they were last sent (a
fingerprint per run of its rows and its artifact files, kept in the store's
``migrations/`` table under the target's URI) or that the target lacks, so
running it again adds nothing, and an interrupted export continues.

Example:
    >>> summary = export_mlflow("/tmp/lake", "./mlruns")   # doctest: +SKIP
    >>> summary.counts["runs"]                              # doctest: +SKIP
    42
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    from lakeml.migrate.source import (
        ExperimentRecord,
        LoggedModelRecord,
        RegisteredModelRecord,
        RunBatch,
    )

DEFAULT_BATCH_RUNS = 500


class Sink(Protocol):
    """An MLflow tracking store opened for writing (see file_sink and rest_sink)."""

    uri: str
    keeps_ids: bool

    def put_experiments(self, records: list[ExperimentRecord]) -> dict[str, str]:
        """Create or update each experiment; lakeml experiment id -> MLflow's."""
        ...

    def known_runs(self, experiments: dict[str, str]) -> dict[str, tuple[str, str]]:
        """lakeml run id -> (MLflow run id, artifact URI) of runs already exported."""
        ...

    def put_runs(self, batch: RunBatch, experiments: dict[str, str]
                 ) -> dict[str, tuple[str, str]]:
        """Write every row of these runs; lakeml run id -> (MLflow run id, artifact URI)."""
        ...

    def put_artifacts(self, src: str, artifact_uri: str) -> int:
        """Copy a run's artifact folder into MLflow's; returns files copied."""
        ...

    def put_logged_models(self, models: list[LoggedModelRecord], experiments: dict[str, str],
                          runs: dict[str, tuple[str, str]]) -> int:
        """Make each model of an exported run an MLflow 3 logged model (READY, an output
        of its run) unless the target has it; returns how many were made."""
        ...

    def put_registry(self, models: list[RegisteredModelRecord],
                     runs: dict[str, tuple[str, str]]) -> dict[str, int]:
        """Write the registry; counts per entity."""
        ...

    def finish(self) -> None:
        """What waits for the end (e.g. deleting experiments the runs went into)."""
        ...

    def close(self) -> None:
        ...


@dataclass
class ExportSummary:
    """What one export wrote (``counts`` per entity) and how many runs it found unchanged."""

    store: str
    target: str
    counts: dict[str, int] = field(default_factory=dict)
    runs_in_store: int = 0
    runs_skipped: int = 0
    seconds: float = 0.0

    def rows(self) -> list[list[Any]]:
        return [[k, v] for k, v in self.counts.items()] + [
            ["runs_unchanged_skipped", self.runs_skipped]]


def open_sink(uri: str) -> Sink:
    """The writer of MLflow tracking URI ``uri``: a folder (``./mlruns``, ``file://``) or a
    server (``http(s)://``); other schemes raise InvalidArgument naming them."""
    from lakeml.migrate.file_sink import FileStoreSink

    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArgument(f"the MLflow target must be a tracking URI, got {uri!r}")
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("", "file"):
        return FileStoreSink(uri)
    if scheme in ("http", "https"):
        from lakeml.migrate.rest_sink import RestSink

        return RestSink(uri)
    raise InvalidArgument(f"cannot export to {uri!r}: lakeml exports to an MLflow file store "
                          "folder (./mlruns or file:///path) or a running MLflow server "
                          "(http(s)://host:port); for a database, point an MLflow server "
                          "at it and export to the server")


def export_mlflow(store_uri: str, to_uri: str, *, batch_runs: int = DEFAULT_BATCH_RUNS,
                  copy_artifacts: bool = True) -> ExportSummary:
    """Export lakeml store ``store_uri`` to MLflow tracking URI ``to_uri``.

    Args:
        store_uri: the lakeml store.
        to_uri: an ``mlruns`` folder (created if missing) or ``http(s)://`` MLflow server.
        batch_runs: runs read and written per batch (one state record each).
        copy_artifacts: copy run artifacts (models included), else only the records.
    """
    from lakeml import progress
    from lakeml.client import Client
    from lakeml.migrate.lake_source import LakeSource
    from lakeml.migrate.state import ImportState

    if batch_runs < 1:
        raise InvalidArgument(f"batch_runs must be at least 1, got {batch_runs}")
    started = time.perf_counter()
    client = Client(store_uri)
    client.flush()
    lake = LakeSource(client)
    sink = open_sink(to_uri)
    summary = ExportSummary(client.store_uri, sink.uri)
    try:
        with progress.phase("export experiments"):
            experiments = sink.put_experiments(lake.experiments())
            summary.counts["experiments"] = len(experiments)
            runs = sink.known_runs(experiments)
        state = ImportState(client.store, f"export:{sink.uri}")
        index = lake.run_index()
        if copy_artifacts:  # a file logged to a run since its export sends it again
            files = lake.artifact_index()
            index = {r: f"{fp}|{files.get(r, '')}" for r, fp in index.items()}
        done = state.imported()
        pending = parents_first(
            [r for r, fp in index.items() if done.get(r) != fp or r not in runs],
            lake.parents())
        summary.runs_in_store, summary.runs_skipped = len(index), len(index) - len(pending)
        _export_runs(lake, sink, state, index, pending, experiments, runs, summary,
                     batch_runs, copy_artifacts)
        if copy_artifacts:  # (a logged model is its files: without them, nothing to point at)
            with progress.phase("export logged models"):
                summary.counts["logged_models"] = sink.put_logged_models(
                    [m for m in lake.logged_models() if m.source_run_id in runs],
                    experiments, runs)
        with progress.phase("export the model registry"):
            summary.counts.update(sink.put_registry(lake.registered_models(), runs))
        sink.finish()
    finally:
        sink.close()
    summary.seconds = time.perf_counter() - started
    return summary


def parents_first(run_ids: list[str], parents: dict[str, str]) -> list[str]:
    """``run_ids`` ordered so that a run comes after its parent (a server target names a
    child's parent by the id it gave the parent), by id within a level."""
    def depth(run_id: str) -> int:
        seen = {run_id}
        level = 0
        while run_id in parents and parents[run_id] not in seen:
            run_id = parents[run_id]
            seen.add(run_id)
            level += 1
        return level

    return sorted(run_ids, key=lambda r: (depth(r), r))


def _export_runs(lake: Any, sink: Sink, state: Any, index: dict[str, str], pending: list[str],
                 experiments: dict[str, str], runs: dict[str, tuple[str, str]],
                 summary: ExportSummary, batch_runs: int, copy_artifacts: bool) -> None:
    from lakeml import progress

    counts = {"runs": 0, "params": 0, "tags": 0, "metric_points": 0, "dataset_inputs": 0,
              "artifact_files": 0}
    chunks = [pending[i:i + batch_runs] for i in range(0, len(pending), batch_runs)]
    for number in progress.steps(range(len(chunks)), f"export {len(pending)} runs",
                                 unit="chunk"):
        chunk = chunks[number]
        batch = lake.read_runs(chunk)
        written = sink.put_runs(batch, experiments)
        runs.update(written)
        for name, table in (("runs", batch.runs), ("params", batch.params),
                            ("tags", batch.tags), ("metric_points", batch.metrics),
                            ("dataset_inputs", batch.inputs)):
            counts[name] += table.num_rows
        if copy_artifacts:
            for run_id, src in zip(batch.runs["run_id"].to_pylist(),
                                   batch.runs["artifact_uri"].to_pylist()):
                if src and run_id in written:
                    counts["artifact_files"] += sink.put_artifacts(src, written[run_id][1])
        state.record({r: index[r] for r in chunk})
    summary.counts.update(counts)
