"""Reads of the REST tracking service: runs, histories, search, analytics and SQL.

Runs and histories come from MLflow's routes; lakeml's full filter grammar (OR,
parentheses), the wide search table, the analytics calls and SQL from lakeml's
extensions, whose tables travel as Arrow IPC streams (types kept, no JSON rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from lakeml.entities import ViewType
from lakeml.errors import InvalidArgument, NotFound
from lakeml.rest import wire
from lakeml.rest.http import LAKEML
from lakeml.search.paging import PagedList

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from lakeml.entities import LineageEdge, Metric, Run, RunInfo
    from lakeml.rest.http import Remote

EXPORT_FORMATS = ("pandas", "arrow", "polars", "parquet", "csv")


class RestReads:
    """A part of :class:`~lakeml.rest.tracking.RestTrackingService`: its reads."""

    CALLS = ("get_run", "get_metric_history", "list_runs", "search_runs",
             "search_runs_table", "search_runs_frame", "export_runs", "get_metric_histories",
             "leaderboard", "best_runs", "metric_by_param", "param_diff", "sql",
             "store_versions", "get_lineage")

    def __init__(self, remote: Remote) -> None:
        self._remote = remote
        self._duckdb: duckdb.DuckDBPyConnection | None = None

    # ---- runs ---------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """The run with its info, latest metrics, params, tags and dataset inputs."""
        return wire.run(self._remote.get("/runs/get", {"run_id": run_id})["run"])

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of the run, in step order (then time, then value)."""
        points: list[Metric] = []
        token = None
        while True:
            try:
                body = self._remote.get("/metrics/get-history", {
                    "run_id": run_id, "metric_key": key, "page_token": token})
            except NotFound:  # MLflow's answer for an unknown run; the lake's is no points
                return []
            points += (wire.metric(m, run_id) for m in body.get("metrics", ()))
            token = body.get("next_page_token")
            if not token:
                return points

    def list_runs(self, experiment_id: str,
                  view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                  max_results: int | None = None) -> list[RunInfo]:
        """Runs of an experiment, newest first (the CLI's ``runs list``)."""
        body = self._remote.get("/runs/list", {"experiment_id": experiment_id,
                                               "view_type": _view(view_type),
                                               "max_results": max_results}, api=LAKEML)
        return [wire.run_info(info) for info in body.get("runs", ())]

    def search_runs(self, experiment_ids: Sequence[str] | str, filter_string: str = "",
                    run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                    max_results: int | None = 1000,
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList:
        """Runs matching lakeml's filter grammar (MLflow's, with OR and parentheses)."""
        body = self._remote.post("/runs/search", _search_body(
            experiment_ids, filter_string, run_view_type, max_results, order_by)
            | {"page_token": page_token}, api=LAKEML)
        return PagedList([wire.run(r) for r in body.get("runs", ())],
                         body.get("next_page_token") or None)

    def search_runs_table(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None, *,
                          columns: Sequence[str] | None = None) -> pa.Table:
        """Matching runs as one wide Arrow table with MLflow's search_runs columns
        (``columns``: only those key columns, e.g. ``metrics.loss``)."""
        body = _search_body(experiment_ids, filter_string, run_view_type, max_results,
                            order_by)
        if columns is not None:
            body["columns"] = _listed(columns)
        return self._remote.post_for_arrow("/runs/search-table", body)

    def search_runs_frame(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None) -> pd.DataFrame:
        """:meth:`search_runs_table` as a pandas DataFrame (MLflow's ``search_runs`` result)."""
        return self.search_runs_table(experiment_ids, filter_string, run_view_type,
                                      max_results, order_by).to_pandas(split_blocks=True)

    # ---- analytics -------------------------------------------------------------------------
    def export_runs(self, experiment_ids: Sequence[str] | str, path: str | Path | None = None,
                    format: str = "pandas", filter_string: str = "") -> Any:
        """Every run of the experiments as one wide table (search_runs' columns).

        ``format``: "pandas", "arrow" or "polars" return the table; "parquet" and "csv"
        write it to ``path`` (on this machine) and return the path.
        """
        if format not in EXPORT_FORMATS:
            raise InvalidArgument(f"format must be one of {list(EXPORT_FORMATS)}, got {format!r}")
        if format in ("parquet", "csv") and path is None:
            raise InvalidArgument(f"format {format!r} writes a file: give path")
        table = self.search_runs_table(
            [experiment_ids] if isinstance(experiment_ids, str) else experiment_ids,
            filter_string, order_by=["attributes.start_time"])
        if format == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, Path(path))  # type: ignore[arg-type]
            return str(path)
        if format == "csv":
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, Path(path))  # type: ignore[arg-type]
            return str(path)
        if format == "arrow":
            return table
        if format == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table.to_pandas(split_blocks=True)

    def get_metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None = None
                             ) -> pd.DataFrame:
        """Full histories of many runs' metrics at once: run_id, key, step, value, timestamp."""
        return self._frame("/analytics/metric-histories",
                           {"run_ids": _listed(run_ids), "keys": _listed(keys)})

    def get_lineage(self, uri: str, direction: str = "upstream",
                    depth: int = 10) -> list[LineageEdge]:
        """Edges of the lineage graph reachable from ``uri`` (the server walks them)."""
        from lakeml.entities import LineageEdge

        table = self._remote.post_for_arrow("/analytics/lineage", {
            "uri": uri, "direction": direction, "depth": depth})
        return [LineageEdge(**row) for row in table.to_pylist()]

    def leaderboard(self, experiment_id: str, metric: str, *, ascending: bool = True,
                    max_results: int = 10) -> pd.DataFrame:
        """The best runs of an experiment by one metric (sql/queries/leaderboard.sql)."""
        return self._frame("/analytics/leaderboard", {
            "experiment_id": experiment_id, "metric": metric, "ascending": ascending,
            "max_results": max_results})

    def best_runs(self, experiment_id: str, metric: str, group_by: str, *,
                  ascending: bool = True) -> pd.DataFrame:
        """The best run for each value of param ``group_by`` (sql/queries/best_per_group.sql)."""
        return self._frame("/analytics/best-runs", {
            "experiment_id": experiment_id, "metric": metric, "group_by": group_by,
            "ascending": ascending})

    def metric_by_param(self, experiment_id: str, metric: str, param: str) -> pd.DataFrame:
        """Count, mean, min, max and stddev of a metric per param value."""
        return self._frame("/analytics/metric-by-param", {
            "experiment_id": experiment_id, "metric": metric, "param": param})

    def param_diff(self, run_ids: Sequence[str], *, all_params: bool = False) -> pd.DataFrame:
        """Params of several runs side by side (a column per run), only those that differ."""
        return self._frame("/analytics/param-diff", {"run_ids": _listed(run_ids),
                                                     "all_params": all_params})

    def _frame(self, path: str, body: dict[str, Any]) -> pd.DataFrame:
        """A DataFrame the server sent as Arrow (its index comes back from the metadata)."""
        return self._remote.post_for_arrow(path, body).to_pandas()

    # ---- SQL ------------------------------------------------------------------------------
    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
            as_of: Any = None) -> duckdb.DuckDBPyRelation:
        """Run read-only SQL over the server's lake views; the result as a DuckDB relation
        over the rows the server sent (.df(), .arrow(), .pl(), or more SQL on it)."""
        if not isinstance(query, str):
            raise InvalidArgument(f"sql takes the query as a string, got "
                                  f"{type(query).__name__} {query!r:.80}")
        if params is not None and not isinstance(params, (list, tuple, dict)):
            raise InvalidArgument(f"sql params must be a list (for ?) or a dict (for $name), "
                                  f"got {type(params).__name__} {params!r:.80}")
        table = self._remote.post_for_arrow("/sql", {
            "query": query, "params": list(params) if isinstance(params, tuple) else params,
            "as_of": as_of, "format": "arrow"})
        return self._connection().from_arrow(table)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """This service's in-memory DuckDB (the relations of sql() live in it)."""
        if self._duckdb is None:
            import duckdb

            self._duckdb = duckdb.connect()
        return self._duckdb.cursor()

    def store_versions(self) -> dict[str, int]:
        """The current Delta version of every table of the server's store."""
        body = self._remote.get("/store-versions", api=LAKEML)
        return {k: int(val) for k, val in body.get("versions", {}).items()}


def _view(view_type: Any) -> Any:
    return view_type.name if isinstance(view_type, ViewType) else view_type


def _listed(values: Any) -> Any:
    """A sequence as a JSON list; None and a lone string stay as they are (the server
    checks them with the lake's rules)."""
    if values is None or isinstance(values, str):
        return values
    try:
        return list(values)
    except TypeError:
        return values


def _search_body(experiment_ids: Any, filter_string: Any, run_view_type: Any,
                 max_results: Any, order_by: Any) -> dict[str, Any]:
    return {"experiment_ids": _listed(experiment_ids), "filter": filter_string,
            "run_view_type": _view(run_view_type), "max_results": max_results,
            "order_by": _listed(order_by)}
