"""Run reads of the Client: get_run, metric histories, run listings."""

from __future__ import annotations

import gc
from dataclasses import fields
from functools import partial
from itertools import repeat
from typing import TYPE_CHECKING, Any

from lakeml import arguments
from lakeml import validation as v
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

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.tracking.backend import Backend

_RUN_TABLES = ("runs", "params", "tags", "metric_latest", "inputs")
# The runs view's columns as RunInfo(*row) takes them, times in ms (RunInfo's fields are
# schemas.RUN_COLUMNS: tests/store/test_rows.py; schemas is not imported, it loads pyarrow).
_RUN_INFO = ", ".join(f"epoch_ms({f.name})" if f.name.endswith("_time") else f.name
                      for f in fields(RunInfo))


def _spans(sorted_ids: pa.ChunkedArray) -> list[tuple[str, int, int]]:
    """(value, start, stop) of each run of equal values in a sorted column."""
    import numpy as np
    import pyarrow.compute as pc

    ids = sorted_ids.combine_chunks()
    if len(ids) == 0:
        return []
    changes = pc.not_equal(ids.slice(1), ids.slice(0, len(ids) - 1)).to_numpy(
        zero_copy_only=False)
    starts = [0, *(np.flatnonzero(changes) + 1).tolist()]
    stops = [*starts[1:], len(ids)]
    return [(ids[a].as_py(), a, b) for a, b in zip(starts, stops)]


class RunReads:
    """The run reads of the lake tracking service (a part of it, sharing its backend)."""

    def __init__(self, backend: Backend) -> None:
        self._b = backend

    def _run_infos(self, where: str, params: list[object], *, order: str = "",
                   limit: int | None = None, refresh: bool = True) -> list[RunInfo]:
        sql = f"SELECT {_RUN_INFO} FROM runs WHERE {where} {order}"
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
            f"SELECT {_RUN_INFO} FROM runs WHERE {chosen}", ids, tables=())}
        params: dict[str, dict[str, str]] = {}
        tags: dict[str, dict[str, str]] = {}
        inputs: dict[str, list[DatasetInput]] = {}
        for run_id, key, value in engine.rows(
                f"SELECT run_id, key, value FROM params WHERE {chosen}", ids, tables=()):
            params.setdefault(run_id, {})[key] = value
        for run_id, key, value in engine.rows(
                f"SELECT run_id, key, value FROM tags WHERE {chosen}", ids, tables=()):
            tags.setdefault(run_id, {})[key] = value
        metrics = self._latest_metrics(chosen, ids)
        for run_id, name, digest, stype, source, schema, profile, context in engine.rows(
                "SELECT run_id, name, digest, source_type, source, schema, profile, context "
                f"FROM inputs WHERE {chosen} ORDER BY timestamp, name", ids, tables=()):
            inputs.setdefault(run_id, []).append(
                DatasetInput(Dataset(name, digest, stype, source, schema, profile), context))
        runs = []
        for run_id in ids:
            if run_id not in infos:
                continue
            latest, values = metrics.get(run_id, ((), {}))
            data = RunData(values, params.get(run_id, {}), tags.get(run_id, {}), latest)
            runs.append(Run(infos[run_id], data, RunInputs(tuple(inputs.get(run_id, ())))))
        return runs

    def _latest_metrics(self, chosen: str, ids: list[str]
                        ) -> dict[str, tuple[tuple[Metric, ...], dict[str, float]]]:
        """Each run's latest metric points, by key, and their values by key. A run may
        hold a million keys: they are built in C, with the collector off (as in
        get_metric_history), from one sorted read."""
        table = self._b.engine.arrow(
            "SELECT key, value, epoch_ms(timestamp) AS ts, step, run_id FROM latest_metrics "
            f"WHERE {chosen} ORDER BY run_id, key", ids, tables=())
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            keys, values, times, steps = (c.to_pylist() for c in table.columns[:4])
            found = {}
            for run_id, start, stop in _spans(table["run_id"]):
                points = tuple(map(partial(tuple.__new__, Metric), zip(
                    keys[start:stop], values[start:stop], times[start:stop],
                    steps[start:stop], repeat(run_id))))
                found[run_id] = points, dict(zip(keys[start:stop], values[start:stop]))
            return found
        finally:
            if gc_was_on:
                gc.enable()

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of the run, in step order (then time, then value).

        A point logged more than once (same value, step and timestamp) is
        returned once, as by the ``metrics`` view and MLflow.
        """
        run_id = v.check_id(run_id, "run_id")
        key = v.check_key(key, "metric key")
        # The raw table, sorted, with its repeats dropped here: the view's DISTINCT
        # would cost this read about as much again (benchmarks/bench_metric_dedupe.py).
        cols = _without_repeats(self._b.engine.columns(
            "SELECT value, epoch_ms(timestamp) AS ts, epoch_us(timestamp) AS us, step "
            "FROM lake_metrics WHERE run_id = ? AND key = ? ORDER BY step, us, value",
            [run_id, key], tables=["metrics"]))
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


def _without_repeats(cols: dict[str, Any]) -> dict[str, Any]:
    """Sorted history columns without repeated points: the ``metrics`` view's DISTINCT
    (NaN equals NaN), done on the sorted arrays, where repeats are neighbours."""
    import numpy as np

    value, us, step = cols["value"], cols["us"], cols["step"]
    if len(value) < 2:
        return cols
    same_value = (value[1:] == value[:-1]) | (np.isnan(value[1:]) & np.isnan(value[:-1]))
    repeat = same_value & (us[1:] == us[:-1]) & (step[1:] == step[:-1])
    if not repeat.any():
        return cols
    keep = np.concatenate(([True], ~repeat))
    return {name: column[keep] for name, column in cols.items()}
