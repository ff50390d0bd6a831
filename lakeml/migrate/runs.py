"""Writing a batch of MLflow runs into lakeml's tables, on the writer's bulk path.

Runs lakeml has never seen are appended whole: one Arrow table per lakeml
table, queued with ``Writer.append_table`` (params as fresh keys: nobody else
can have logged them), committed by one flush per batch. Runs it already
holds (imported before and changed in MLflow since, or written by an import
that was interrupted before it recorded them) are imported *by difference*:
DuckDB anti-joins the batch against what the store holds for those runs, so
only missing metric points, params, tags and inputs are appended. Nothing is
ever written twice, and what the user changed in lakeml is kept (a tag set
only in lakeml stays).

MLflow has no time for params, tags and inputs: they take the run's start
time. Run ids, names, users, statuses, times, lifecycle and parent links are
MLflow's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakeml.store.schemas import TS

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.migrate.source import RunBatch
    from lakeml.query import QueryEngine
    from lakeml.store import Store


@dataclass
class Written:
    """Rows appended for one batch, by kind."""

    runs: int = 0
    params: int = 0
    tags: int = 0
    metrics: int = 0
    inputs: int = 0

    def add(self, other: Written) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _us(values: Any) -> Any:
    """Milliseconds (int64, nulls kept) as microsecond UTC timestamps."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.multiply(values.cast(pa.int64()), 1000).cast(TS)


def _start_times(batch: RunBatch, run_ids: Any) -> Any:
    """Each row's run start time (us), for rows that MLflow gives no time of their own."""
    import pyarrow as pa
    import pyarrow.compute as pc

    starts = pc.fill_null(batch.runs["start_time"], 0)
    index = pc.index_in(run_ids, value_set=batch.runs["run_id"])
    return _us(pc.take(starts, index).cast(pa.int64()))


def lakeml_tables(batch: RunBatch, artifact_uris: dict[str, str], seq: int
                  ) -> dict[str, pa.Table]:
    """The batch as rows of lakeml's runs, params, tags, metrics and inputs tables."""
    import pyarrow as pa

    runs = batch.runs
    n = runs.num_rows
    out = {"runs": pa.table({
        "run_id": runs["run_id"], "experiment_id": runs["experiment_id"],
        "run_name": runs["run_name"], "user_id": runs["user_id"], "status": runs["status"],
        "start_time": _us(runs["start_time"]), "end_time": _us(runs["end_time"]),
        "artifact_uri": pa.array([artifact_uris[r] for r in runs["run_id"].to_pylist()],
                                 pa.string()),
        "lifecycle_stage": runs["lifecycle_stage"], "parent_run_id": runs["parent_run_id"],
        "seq": pa.array([seq] * n, pa.int64())})}
    params = batch.params
    out["params"] = pa.table({"run_id": params["run_id"], "key": params["key"],
                              "value": params["value"],
                              "timestamp": _start_times(batch, params["run_id"])})
    tags = batch.tags
    out["tags"] = pa.table({"run_id": tags["run_id"], "key": tags["key"], "value": tags["value"],
                            "deleted": pa.array([False] * tags.num_rows),
                            "timestamp": _start_times(batch, tags["run_id"]),
                            "seq": pa.array([seq] * tags.num_rows, pa.int64())})
    metrics = batch.metrics
    out["metrics"] = pa.table({"run_id": metrics["run_id"], "key": metrics["key"],
                               "value": metrics["value"], "step": metrics["step"],
                               "timestamp": _us(metrics["timestamp"])})
    inputs = batch.inputs
    out["inputs"] = pa.table({
        **{c: inputs[c] for c in ("run_id", "name", "digest", "source_type", "source",
                                  "schema", "profile", "context")},
        "timestamp": _start_times(batch, inputs["run_id"])})
    return out


# What makes a row "already there" in the store, per table (the anti-join keys). Params:
# the key alone (a param's first value is final); tags: the current value (the view).
_DIFF = {
    "params": ("lake_params", ("run_id", "key")),
    "tags": ("tags", ("run_id", "key", "value")),
    "metrics": ("lake_metrics", ("run_id", "key", "step", "timestamp", "value")),
    "inputs": ("lake_inputs", ("run_id", "name", "digest", "context")),
}


def present_runs(engine: QueryEngine, run_ids: list[str]) -> set[str]:
    """The ones of ``run_ids`` the store already has rows of."""
    if not run_ids:
        return set()
    return {r for (r,) in engine.rows("SELECT DISTINCT run_id FROM lake_runs WHERE run_id IN "
                                      "(SELECT unnest(?::VARCHAR[]))", [run_ids],
                                      tables=["runs"])}


def _missing(engine: QueryEngine, table: str, rows: pa.Table) -> pa.Table:
    """The rows of ``rows`` (for ``table``) that the store lacks."""
    source, keys = _DIFF[table]
    if rows.num_rows == 0:
        return rows
    engine.refresh([table])
    cur = engine.connection().cursor()
    try:
        cur.register("incoming", rows)
        match = " AND ".join(f"have.{k} IS NOT DISTINCT FROM incoming.{k}" for k in keys)
        return cur.sql(f"SELECT incoming.* FROM incoming WHERE NOT EXISTS (SELECT 1 FROM "
                       f"{source} AS have WHERE {match})").to_arrow_table().cast(rows.schema)
    finally:
        cur.close()


def write_batch(store: Store, engine: QueryEngine, batch: RunBatch,
                artifact_uris: dict[str, str]) -> Written:
    """Queue ``batch`` on the store's writer (new runs whole, known ones by difference) and
    flush; returns the rows written."""
    import pyarrow as pa
    import pyarrow.compute as pc

    run_ids = batch.runs["run_id"].to_pylist()
    known = present_runs(engine, run_ids)
    tables = lakeml_tables(batch, artifact_uris, store.clock.next())
    written = Written(runs=tables["runs"].num_rows)
    writer = store.writer
    writer.append_table("runs", tables["runs"])
    for name in ("params", "tags", "inputs", "metrics"):
        rows = tables[name]
        if known:
            is_known = pc.is_in(rows["run_id"], value_set=pa.array(sorted(known), pa.string()))
            fresh, old = rows.filter(pc.invert(is_known)), rows.filter(is_known)
            old = _missing(engine, name, old)
        else:
            fresh, old = rows, rows.slice(0, 0)
        if fresh.num_rows:
            if name in ("params", "tags"):  # metrics come in run order already (an id range)
                fresh = fresh.sort_by([("run_id", "ascending"), ("key", "ascending")])
            writer.append_table(name, fresh, fresh_keys=True)
        if old.num_rows:
            writer.append_table(name, old)
        setattr(written, name, fresh.num_rows + old.num_rows)
    store.flush()
    return written
