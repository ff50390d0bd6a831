"""Run reads of the Client: get_run, metric histories, run listings."""

from __future__ import annotations

import gc
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING

from lakeml import arguments
from lakeml.entities import (
    Dataset,
    DatasetInput,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    ViewType,
)
from lakeml.errors import NotFound
from lakeml.sqltext import placeholders
from lakeml.tracking import validation as v

if TYPE_CHECKING:
    from lakeml.tracking.backend import Backend

_RUN_TABLES = ("runs", "params", "tags", "metric_latest", "inputs")
RUN_COLUMNS = ("run_id, experiment_id, run_name, user_id, status, epoch_ms(start_time), "
               "epoch_ms(end_time), artifact_uri, lifecycle_stage, parent_run_id")


class RunReads:
    """The reading half of :class:`lakeml.Client`."""

    _b: Backend

    def _run_infos(self, where: str, params: list[object], *, order: str = "",
                   limit: int | None = None, refresh: bool = True) -> list[RunInfo]:
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE {where} {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        tables = ("runs",) if refresh else ()
        return [RunInfo(*row) for row in self._b.engine.rows(sql, params, tables=tables)]

    def get_run(self, run_id: str) -> Run:
        """The run with its info, latest metrics, params, tags and dataset inputs.

        Example:
            >>> lakeml.Client().get_run(run_id).data.params   # doctest: +SKIP
            {'alpha': '0.5'}
        """
        run_id = v.check_id(run_id, "run_id")
        self._b.engine.refresh(_RUN_TABLES)
        found = self._runs_by_id([run_id])
        if not found:
            raise NotFound(f"no run with id {run_id!r}")
        return found[0]

    def _runs_by_id(self, ids: list[str]) -> list[Run]:
        """Full Run objects of ``ids`` (a page at most), in that order; unknown ids are left out.

        Reads the snapshot the engine last refreshed to: the caller refreshes
        _RUN_TABLES first, once. The ids go in as constants, which DuckDB
        pushes down to the file scans (files are sorted by run id).
        """
        if not ids:
            return []
        engine = self._b.engine
        chosen = f"run_id IN ({placeholders(ids, 'run ids')})"
        infos = {row[0]: RunInfo(*row) for row in engine.rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE {chosen}", ids, tables=())}
        params: dict[str, dict[str, str]] = {}
        tags: dict[str, dict[str, str]] = {}
        metrics: dict[str, list[Metric]] = {}
        inputs: dict[str, list[DatasetInput]] = {}
        for run_id, key, value in engine.rows(
                f"SELECT run_id, key, value FROM params WHERE {chosen}", ids, tables=()):
            params.setdefault(run_id, {})[key] = value
        for run_id, key, value in engine.rows(
                f"SELECT run_id, key, value FROM tags WHERE {chosen}", ids, tables=()):
            tags.setdefault(run_id, {})[key] = value
        for run_id, key, value, ts, step in engine.rows(
                "SELECT run_id, key, value, epoch_ms(timestamp), step FROM latest_metrics "
                f"WHERE {chosen} ORDER BY key", ids, tables=()):
            metrics.setdefault(run_id, []).append(Metric(key, value, ts, step, run_id))
        for run_id, name, digest, stype, source, schema, profile, context in engine.rows(
                "SELECT run_id, name, digest, source_type, source, schema, profile, context "
                f"FROM inputs WHERE {chosen} ORDER BY timestamp, name", ids, tables=()):
            inputs.setdefault(run_id, []).append(
                DatasetInput(Dataset(name, digest, stype, source, schema, profile), context))
        runs = []
        for run_id in ids:
            if run_id not in infos:
                continue
            latest = tuple(metrics.get(run_id, ()))
            data = RunData({m.key: m.value for m in latest}, params.get(run_id, {}),
                           tags.get(run_id, {}), latest)
            runs.append(Run(infos[run_id], data, RunInputs(tuple(inputs.get(run_id, ())))))
        return runs

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of the run, in step order (then time)."""
        run_id = v.check_id(run_id, "run_id")
        key = v.check_key(key, "metric key")
        cols = self._b.engine.columns(
            "SELECT value, epoch_ms(timestamp) AS ts, step FROM metrics "
            "WHERE run_id = ? AND key = ? ORDER BY step, timestamp", [run_id, key],
            tables=["metrics"])
        # Histories run to millions of points: build the tuples in C, and keep the
        # garbage collector from scanning them all while they are being made.
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            return list(map(partial(tuple.__new__, Metric), zip(
                repeat(key), cols["value"].tolist(), cols["ts"].tolist(),
                cols["step"].tolist(), repeat(run_id))))
        finally:
            if gc_was_on:
                gc.enable()

    def list_runs(self, experiment_id: str,
                  view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                  max_results: int | None = None) -> list[RunInfo]:
        """Runs of an experiment, newest first (the CLI's ``runs list``)."""
        stages = list(ViewType.parse(view_type).stages())
        max_results = arguments.count(max_results)
        return self._run_infos(
            "experiment_id = ? AND lifecycle_stage IN (SELECT unnest(?::VARCHAR[]))",
            [str(experiment_id), stages], order="ORDER BY start_time DESC, run_id",
            limit=max_results)
