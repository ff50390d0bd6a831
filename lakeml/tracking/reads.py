"""Run reads of the Client: get_run, metric histories, run listings."""

from __future__ import annotations

import gc
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING

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
        engine = self._b.engine
        engine.refresh(_RUN_TABLES)  # once; the queries below read that one snapshot
        infos = self._run_infos("run_id = ?", [run_id], refresh=False)
        if not infos:
            raise NotFound(f"no run with id {run_id!r}")
        params = dict(engine.rows("SELECT key, value FROM params WHERE run_id = ?", [run_id],
                                  tables=()))
        tags = dict(engine.rows("SELECT key, value FROM tags WHERE run_id = ?", [run_id],
                                tables=()))
        latest = tuple(Metric(k, val, ts, step, run_id) for k, val, ts, step in engine.rows(
            "SELECT key, value, epoch_ms(timestamp), step FROM latest_metrics "
            "WHERE run_id = ? ORDER BY key", [run_id], tables=()))
        inputs = tuple(
            DatasetInput(Dataset(name, digest, stype, source, schema, profile), context)
            for name, digest, stype, source, schema, profile, context in engine.rows(
                "SELECT name, digest, source_type, source, schema, profile, context "
                "FROM inputs WHERE run_id = ? ORDER BY timestamp, name", [run_id], tables=()))
        data = RunData({m.key: m.value for m in latest}, params, tags, latest)
        return Run(infos[0], data, RunInputs(inputs))

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
        return self._run_infos(
            "experiment_id = ? AND lifecycle_stage IN (SELECT unnest(?::VARCHAR[]))",
            [str(experiment_id), stages], order="ORDER BY start_time DESC, run_id",
            limit=max_results)
