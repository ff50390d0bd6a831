"""``--verify``: do both stores hold the same things? Counts and checksums, side by side.

For the runs of the MLflow store: how many runs, params, tags, metric points
and dataset inputs each side has, and an order-free checksum (a sum of
DuckDB ``hash`` values, computed by the same DuckDB on both sides) of every
param ``(run, key, value)`` and every metric point ``(run, key, step,
timestamp, value)``; plus the counts of experiments, registered models and
model versions. lakeml's side is read from its views for the same run ids,
so other runs in the store do not count. Every entity whose figures differ
is a :class:`Difference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

    from lakeml.client import Client
    from lakeml.migrate.source import Source

_PARAM_SUM = "coalesce(sum(hash(run_id::VARCHAR, key::VARCHAR, value::VARCHAR)::HUGEINT), 0)"
_METRIC_SUM = ("coalesce(sum(hash(run_id::VARCHAR, key::VARCHAR, step::BIGINT, ts::BIGINT, "
               "value::DOUBLE)::HUGEINT), 0)")


@dataclass(frozen=True)
class Difference:
    """One figure that differs: ``what`` (e.g. ``metric_points``) on each side."""

    what: str
    mlflow: Any
    lakeml: Any

    def __str__(self) -> str:
        return f"{self.what}: MLflow {self.mlflow}, lakeml {self.lakeml}"


def _source_figures(source: Source, run_ids: list[str], batch: int) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    totals: dict[str, Any] = {"runs": 0, "params": 0, "tags": 0, "metric_points": 0,
                              "dataset_inputs": 0, "params_checksum": 0, "metrics_checksum": 0}
    for start in range(0, len(run_ids), batch):
        b = source.read_runs(run_ids[start:start + batch])
        for name, table in (("runs", b.runs), ("params", b.params), ("tags", b.tags),
                            ("metric_points", b.metrics), ("dataset_inputs", b.inputs)):
            totals[name] += table.num_rows
        con.register("p", b.params)
        con.register("m", b.metrics)
        totals["params_checksum"] += con.execute(f"SELECT {_PARAM_SUM} FROM p").fetchall()[0][0]
        totals["metrics_checksum"] += con.execute(
            f"SELECT {_METRIC_SUM} FROM (SELECT *, timestamp AS ts FROM m)").fetchall()[0][0]
    con.close()
    return totals


def _lakeml_figures(client: Client, run_ids: list[str]) -> dict[str, Any]:
    import pyarrow as pa

    engine = client.tracking.engine
    engine.refresh()
    cur: duckdb.DuckDBPyConnection = engine.connection().cursor()
    try:
        cur.register("wanted", pa.table({"run_id": pa.array(run_ids, pa.string())}))
        mine = "run_id IN (SELECT run_id FROM wanted)"
        figures = {name: cur.execute(f"SELECT count(*) FROM {view} WHERE {mine}").fetchall()[0][0]
                   for name, view in (("runs", "runs"), ("params", "params"), ("tags", "tags"),
                                      ("metric_points", "lake_metrics"),
                                      ("dataset_inputs", "lake_inputs"))}
        figures["params_checksum"] = cur.execute(
            f"SELECT {_PARAM_SUM} FROM params WHERE {mine}").fetchall()[0][0]
        figures["metrics_checksum"] = cur.execute(
            f"SELECT {_METRIC_SUM} FROM (SELECT *, epoch_ms(timestamp) AS ts FROM lake_metrics "
            f"WHERE {mine})").fetchall()[0][0]
        return figures
    finally:
        cur.close()


def _registry_figures(client: Client, names: list[str]) -> dict[str, int]:
    engine = client.tracking.engine
    rows = engine.rows("SELECT count(*) FROM registered_models WHERE name IN "
                       "(SELECT unnest(?::VARCHAR[]))", [names], tables=["registry_log"])
    versions = engine.rows("SELECT count(*) FROM model_versions WHERE name IN "
                           "(SELECT unnest(?::VARCHAR[]))", [names], tables=["registry_log"])
    return {"registered_models": rows[0][0], "model_versions": versions[0][0]}


def verify(source_uri: str, store_uri: str, *, batch_runs: int = 2000
           ) -> tuple[dict[str, tuple[Any, Any]], list[Difference]]:
    """(figure -> (MLflow's, lakeml's), the differences) for an imported store.

    Example:
        >>> figures, differences = verify("sqlite:///mlflow.db", "/tmp/lake")  # doctest: +SKIP
        >>> differences
        []
    """
    from lakeml.client import Client
    from lakeml.migrate.experiments import existing_experiments
    from lakeml.migrate.readers import open_source

    source = open_source(source_uri)
    try:
        client = Client(store_uri)
        client.flush()
        run_ids = sorted(source.run_index())
        mlflow_side = _source_figures(source, run_ids, batch_runs)
        lakeml_side = _lakeml_figures(client, run_ids)
        experiments = source.experiments()
        mlflow_side["experiments"] = len(experiments)
        have = set(existing_experiments(client))
        lakeml_side["experiments"] = sum(e.experiment_id in have for e in experiments)
        models = source.registered_models()
        mlflow_side["registered_models"] = len(models)
        mlflow_side["model_versions"] = sum(len(m.versions) for m in models)
        lakeml_side.update(_registry_figures(client, [m.name for m in models]))
    finally:
        source.close()
    figures = {k: (mlflow_side[k], lakeml_side[k]) for k in mlflow_side}
    return figures, [Difference(k, a, b) for k, (a, b) in figures.items() if a != b]
