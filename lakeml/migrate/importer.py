"""``lakeml import mlflow``: a whole MLflow store into a lakeml store, resumably.

In order: experiments (ids kept), then runs in batches (each batch: every
row of its runs on the writer's bulk path, one flush, its artifacts copied,
then its runs recorded in the import state; see ``state``), then MLflow 3's
logged models (copied under their run's artifacts, so ``runs:/<run>/<name>``
finds them), then the registry. Each step skips what is already there, so
running the import again adds nothing, an interrupted import continues, and
runs new or changed in MLflow since come over on the next run.

Example:
    >>> summary = import_mlflow("sqlite:///mlflow.db", "/tmp/lake")   # doctest: +SKIP
    >>> summary.counts["runs"]                                         # doctest: +SKIP
    10000
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument, NotFound
from lakeml.migrate.artifacts import ArtifactMapper, copy_tree
from lakeml.migrate.experiments import import_experiments
from lakeml.migrate.readers import open_source
from lakeml.migrate.registry import import_registry
from lakeml.migrate.runs import Written, write_batch
from lakeml.migrate.source import LoggedModelRecord, Source, VersionRecord
from lakeml.migrate.state import ImportState

if TYPE_CHECKING:
    from lakeml.client import Client

DEFAULT_BATCH_RUNS = 2000


@dataclass
class ImportSummary:
    """What one import added (``counts`` per entity) and what it left for later."""

    source: str
    store: str
    counts: dict[str, int] = field(default_factory=dict)
    runs_in_source: int = 0
    runs_skipped: int = 0
    runs_left: int = 0
    seconds: float = 0.0

    def rows(self) -> list[tuple[str, int]]:
        return [(k, v) for k, v in self.counts.items()]


@dataclass
class _Context:
    client: Client
    source: Source
    mapper: ArtifactMapper
    locations: dict[str, str]
    counts: dict[str, int]
    logged: dict[str, LoggedModelRecord] = field(default_factory=dict)  # by model id


def import_mlflow(source_uri: str, store_uri: str, *, artifact_root: str | None = None,
                  batch_runs: int = DEFAULT_BATCH_RUNS, max_runs: int | None = None,
                  copy_artifacts: bool = True) -> ImportSummary:
    """Import MLflow store ``source_uri`` into lakeml store ``store_uri``.

    Args:
        source_uri: ``sqlite:///path/mlflow.db``, ``postgresql://…`` or ``mysql://…``
            (SQLAlchemy's form, as MLflow was given it), an ``mlruns`` folder
            (``file://``) or a server (``http(s)://``).
        store_uri: the lakeml store (created if missing).
        artifact_root: where MLflow's artifacts are, if not where MLflow recorded them
            (``<artifact_root>/<experiment id>/<run id>/artifacts``).
        batch_runs: runs per batch (one flush and one state record each).
        max_runs: import at most this many runs now (the rest on the next import).
        copy_artifacts: copy run artifacts and logged models (else only their records).
    """
    from lakeml import progress
    from lakeml.client import Client

    if batch_runs < 1:
        raise InvalidArgument(f"batch_runs must be at least 1, got {batch_runs}")
    if max_runs is not None and max_runs < 0:
        raise InvalidArgument(f"max_runs must be 0 or more, got {max_runs}")
    started = time.perf_counter()
    source = open_source(source_uri)
    try:
        client = Client(store_uri)
        counts: dict[str, int] = {}
        with progress.phase("import experiments"):
            records = source.experiments()
            counts["experiments"], locations = import_experiments(client, records)
        mapper = ArtifactMapper(artifact_root, {e.experiment_id: e.artifact_location
                                                for e in records},
                                proxied=hasattr(source, "copy_proxied"))
        ctx = _Context(client, source, mapper, locations, counts)
        summary = ImportSummary(source.uri, client.store_uri, counts)
        _import_runs(ctx, summary, batch_runs, max_runs, copy_artifacts)
        with progress.phase("import logged models"):
            counts["logged_models"] = _import_logged_models(ctx, copy_artifacts)
        with progress.phase("import the model registry"):
            counts.update(import_registry(client, source.registered_models(),
                                          lambda v: _version_location(ctx, v)))
        client.flush()
        _settle(client)
    finally:
        source.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _import_runs(ctx: _Context, summary: ImportSummary, batch_runs: int,
                 max_runs: int | None, copy_artifacts: bool) -> None:
    from lakeml import progress

    state = ImportState(ctx.client.store, ctx.source.uri)
    with progress.phase("index the MLflow runs"):
        index = ctx.source.run_index()
        done = state.imported()
    pending = sorted(r for r, fp in index.items() if done.get(r) != fp)
    summary.runs_in_source = len(index)
    summary.runs_skipped = len(index) - len(pending)
    if max_runs is not None:
        summary.runs_left = max(0, len(pending) - max_runs)
        pending = pending[:max_runs]
    written = Written()
    files = 0
    batches = [pending[i:i + batch_runs] for i in range(0, len(pending), batch_runs)]
    # The next batch is read while this one is written (sqlite's reader and the Delta
    # writer both work outside the GIL): one reader thread, one batch ahead.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lakeml-import-read")
    ahead = pool.submit(ctx.source.read_runs, batches[0]) if batches else None
    try:
        for number in progress.steps(range(len(batches)), f"import {len(pending)} runs",
                                     unit="chunk"):
            assert ahead is not None
            batch = ahead.result()
            if number + 1 < len(batches):
                ahead = pool.submit(ctx.source.read_runs, batches[number + 1])
            files += _write_one(ctx, state, index, batches[number], batch, written,
                                copy_artifacts)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    ctx.counts.update({"runs": written.runs, "params": written.params, "tags": written.tags,
                       "metric_points": written.metrics, "dataset_inputs": written.inputs,
                       "artifact_files": files})


def _write_one(ctx: _Context, state: ImportState, index: dict[str, str], chunk: list[str],
               batch: Any, written: Written, copy_artifacts: bool) -> int:
    """Write one batch of runs, copy their artifacts, record them; returns files copied."""
    store = ctx.client.store
    engine = ctx.client.tracking.engine
    files = 0
    run_exps = dict(zip(batch.runs["run_id"].to_pylist(),
                        batch.runs["experiment_id"].to_pylist()))
    missing = {e for e in run_exps.values() if e not in ctx.locations}
    if missing:
        raise NotFound(f"runs of MLflow experiment(s) {sorted(missing)} that the source "
                       "does not list; is the MLflow store consistent?")
    targets = {r: f"{ctx.locations[e]}/{r}/artifacts" for r, e in run_exps.items()}
    written.add(write_batch(store, engine, batch, targets))
    if copy_artifacts:
        for run_id, src in zip(batch.runs["run_id"].to_pylist(),
                               batch.runs["artifact_uri"].to_pylist()):
            where = ctx.mapper.source(src, run_exps[run_id])
            if where:
                files += _copy(ctx, where, targets[run_id])
    state.record({r: index[r] for r in chunk})
    return files


def _copy(ctx: _Context, where: str, target: str) -> int:
    """Copy an MLflow artifact folder into the store (through the server's proxy for a
    server source's ``mlflow-artifacts:`` URIs); returns files copied."""
    options = ctx.client.store.artifact_storage_options
    if where.startswith("mlflow-artifacts:") and hasattr(ctx.source, "copy_proxied"):
        return ctx.source.copy_proxied(where, target, options)
    return copy_tree(where, target, options)


def _run_artifact_uri(ctx: _Context, run_id: str) -> str | None:
    try:
        return ctx.client.get_run(run_id).info.artifact_uri
    except NotFound:
        return None


def _logged_model_target(ctx: _Context, model: LoggedModelRecord) -> tuple[str, str | None]:
    """(where a logged model goes in lakeml, its runs:/ URI or None)."""
    run_root = _run_artifact_uri(ctx, model.source_run_id) if model.source_run_id else None
    if run_root is not None:
        return f"{run_root}/{model.name}", f"runs:/{model.source_run_id}/{model.name}"
    location = ctx.locations.get(model.experiment_id,
                                 f"{ctx.client.store.artifact_root}/{model.experiment_id}")
    return f"{location}/models/{model.model_id}/artifacts", None


def _import_logged_models(ctx: _Context, copy_artifacts: bool) -> int:
    """Copy each logged model's folder and record its lineage row (once)."""
    from lakeml.migrate.lineage import logged_model_row

    models = ctx.source.logged_models()
    ctx.logged = {m.model_id: m for m in models}
    if not models:
        return 0
    store = ctx.client.store
    known = {r for (r,) in ctx.client.tracking.engine.rows(
        "SELECT model_uuid FROM lake_logged_models", tables=["logged_models"])}
    added = 0
    for model in models:
        target, uri = _logged_model_target(ctx, model)
        if copy_artifacts:
            where = ctx.mapper.source(model.artifact_location, model.experiment_id)
            if where:
                _copy(ctx, where, target)
        if uri is None or model.model_id in known:
            continue
        row = logged_model_row(store, model, target, uri)
        if row is not None:
            store.append("logged_models", row)
            added += 1
    return added


def _version_location(ctx: _Context, version: VersionRecord) -> tuple[str | None, str | None]:
    """(source, storage location) in lakeml of an MLflow model version."""
    source = version.source or ""
    if source.startswith("models:/m-"):
        model_id = source[len("models:/"):].strip("/")
        model = ctx.logged.get(model_id)
        if model is not None:
            target, uri = _logged_model_target(ctx, model)
            return uri or target, target
    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/"):].strip("/").partition("/")
        root = _run_artifact_uri(ctx, run_id)
        if root is not None:
            return source, f"{root}/{path}" if path else root
    return version.source, version.storage_location or version.source


def _settle(client: Client) -> None:
    """Refresh the run snapshot new readers start from (what the writer's maintenance would
    do soon anyway), so the first search after an import is fast."""
    from lakeml.query import run_snapshot

    try:
        run_snapshot.refresh_soon(client.store)
        run_snapshot.wait(client.store)
    except Exception as exc:  # noqa: BLE001 - everything is committed; a snapshot is optional
        import logging

        logging.getLogger(__name__).warning("run snapshot not refreshed: %s", exc)


def summary_rows(summary: ImportSummary) -> list[list[Any]]:
    """The summary as (entity, count) rows, for the CLI."""
    rows: list[list[Any]] = [[k, v] for k, v in summary.counts.items()]
    rows += [["runs_unchanged_skipped", summary.runs_skipped],
             ["runs_left_for_next_import", summary.runs_left]]
    return rows
