"""Experiment analytics on the Client: export, many histories, leaderboards, param diffs.

The SQL of the leaderboards lives in sql/queries/; these calls bind its
parameters and hand back pandas DataFrames (or write files).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from lakeml import arguments
from lakeml import validation as v
from lakeml.errors import InvalidArgument
from lakeml.sqltext import placeholders

if TYPE_CHECKING:
    import pandas as pd

    from lakeml.entities.lineage import LineageEdge
    from lakeml.tracking.backend import Backend
    from lakeml.tracking.reads import RunReads
    from lakeml.tracking.search import RunSearch

EXPORT_FORMATS = ("pandas", "arrow", "polars", "parquet", "csv")


def query(name: str) -> str:
    """The text of sql/queries/<name>.sql (imported late: the query package loads pyarrow)."""
    from lakeml.query.sqlfiles import query as load

    return load(name)


class AnalyticsCalls:
    """Experiment analytics of the lake tracking service (a part of it, sharing its backend;
    exports go through the search part)."""

    def __init__(self, backend: Backend, search: RunSearch, reads: RunReads) -> None:
        self._b = backend
        self._search = search
        self._reads = reads

    def export_runs(self, experiment_ids: Sequence[str] | str, path: str | Path | None = None,
                    format: str = "pandas", filter_string: str = "") -> Any:
        """Every run of the experiments as one wide table (search_runs' columns).

        ``format``: "pandas", "arrow" or "polars" return the table; "parquet"
        and "csv" write it to ``path`` and return the path.

        Example:
            >>> client.export_runs(exp_id, "runs.parquet", format="parquet")  # doctest: +SKIP
        """
        if format not in EXPORT_FORMATS:
            raise InvalidArgument(f"format must be one of {list(EXPORT_FORMATS)}, got {format!r}")
        table = self._search.search_runs_table(experiment_ids, filter_string,
                                       order_by=["attributes.start_time"])
        if format in ("parquet", "csv"):
            if path is None:
                raise InvalidArgument(f"format {format!r} writes a file: give path")
            target = Path(path)
            if format == "parquet":
                import pyarrow.parquet as pq

                pq.write_table(table, target)
            else:
                import pyarrow.csv as pcsv

                pcsv.write_csv(table, target)
            return str(target)
        if format == "arrow":
            return table
        if format == "polars":
            import polars as pl

            return pl.from_arrow(table)
        return table.to_pandas(split_blocks=True)  # no consolidation copy

    def get_metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None = None
                             ) -> pd.DataFrame:
        """Full histories of many runs' metrics at once: run_id, key, step, value, timestamp.

        Ordered by run, key, step and time; ``keys`` limits the metrics.
        """
        ids = [v.check_id(r, "run_id") for r in arguments.string_list(run_ids, "run_ids")]
        if not ids:
            raise InvalidArgument(f"get_metric_histories needs at least one run id, got "
                                  f"{run_ids!r:.80}")
        sql = (f"SELECT run_id, key, step, value, timestamp FROM metrics "
               f"WHERE run_id IN ({placeholders(ids, 'run ids')})")
        params: list[Any] = list(ids)
        if keys is not None:
            keys = [v.check_key(k, "metric key") for k in arguments.string_list(keys, "keys")]
            if not keys:
                raise InvalidArgument("keys, when given, must name at least one metric")
            sql += f" AND key IN ({placeholders(keys, 'metric keys')})"
            params += keys
        return self._b.engine.arrow(sql + " ORDER BY run_id, key, step, timestamp", params,
                                    tables=["metrics"]).to_pandas()

    def leaderboard(self, experiment_id: str, metric: str, *, ascending: bool = True,
                    max_results: int = 10) -> pd.DataFrame:
        """The best runs of an experiment by one metric (sql/queries/leaderboard.sql).

        A metric that no active run of the experiment has is refused, naming
        the metrics that exist (an empty board would hide a typo).
        """
        from lakeml.query.state_board import leaderboard

        # the rows of sql/queries/leaderboard.sql, from the run state (no fold of the lake)
        found = leaderboard(self._b.engine, str(experiment_id),
                            v.check_key(metric, "metric key"), ascending=bool(ascending),
                            limit=arguments.count(max_results)).to_pandas()
        if found.empty:
            self._require_keys(experiment_id, metric=metric)
        return found

    def best_runs(self, experiment_id: str, metric: str, group_by: str, *,
                  ascending: bool = True) -> pd.DataFrame:
        """The best run for each value of param ``group_by`` (sql/queries/best_per_group.sql).

        Keys that no active run has are refused, as by :meth:`leaderboard`.
        """
        found = self._b.engine.arrow(query("best_per_group"), {
            "experiment_id": str(experiment_id), "metric": v.check_key(metric, "metric key"),
            "param": v.check_key(group_by, "param key"), "ascending": bool(ascending),
        }).to_pandas()
        if found.empty:
            self._require_keys(experiment_id, metric=metric, param=group_by)
        return found

    def metric_by_param(self, experiment_id: str, metric: str, param: str) -> pd.DataFrame:
        """Count, mean, min, max and stddev of a metric per param value."""
        found = self._b.engine.arrow(query("metric_by_param"), {
            "experiment_id": str(experiment_id), "metric": v.check_key(metric, "metric key"),
            "param": v.check_key(param, "param key")}).to_pandas()
        if found.empty:
            self._require_keys(experiment_id, metric=metric, param=param)
        return found

    def _require_keys(self, experiment_id: str, **wanted: str) -> None:
        """Refuse a ``metric=``/``param=`` key that no active run of the experiment holds.

        An experiment without active runs has no keys to name, so nothing is refused.
        The message lists the keys of that kind (and says so when the key is a tag
        or of the other kind).
        """
        rows = self._b.engine.rows(query("experiment_keys"),
                                   {"experiment_id": str(experiment_id)})
        if not rows:
            return
        held: dict[str, list[str]] = {}
        for kind, key in rows:
            held.setdefault(kind, []).append(key)
        for kind, key in wanted.items():
            if key in held.get(kind, ()):
                continue
            elsewhere = [k for k in held if k != kind and key in held[k]]
            hint = f"; {key!r} is a {elsewhere[0]} there" if elsewhere else ""
            names = held.get(kind, [])
            shown = ", ".join(repr(n) for n in names[:20]) + (" …" if len(names) > 20 else "")
            raise InvalidArgument(
                f"no active run of experiment {experiment_id!r} has the {kind} {key!r}{hint}; "
                f"its {kind}s: {shown or 'none'}")

    def param_diff(self, run_ids: Sequence[str], *, all_params: bool = False) -> pd.DataFrame:
        """Params of several runs side by side (a column per run), only those that differ.

        A param missing from a run shows as None and counts as a difference.
        """
        import pandas as pd

        ids = [v.check_id(r, "run_id") for r in arguments.string_list(run_ids, "run_ids")]
        if len(ids) < 2:
            raise InvalidArgument(f"param_diff compares two or more runs, got {len(ids)}")
        rows = self._b.engine.rows(
            f"SELECT run_id, key, value FROM params WHERE run_id IN "
            f"({placeholders(ids, 'run ids')})", ids, tables=["params"])
        found = {r for r, _, _ in rows}
        missing = [r for r in ids
                   if r not in found and not self._reads._run_infos("run_id = ?", [r])]
        if missing:
            from lakeml.errors import NotFound

            raise NotFound(f"no run with id {missing[0]!r}")
        table = pd.DataFrame(index=sorted({k for _, k, _ in rows}), columns=ids, dtype=object)
        for run_id, key, value in rows:
            table.loc[key, run_id] = value
        table = table.where(table.notna(), None)
        if not all_params:
            differs = table.apply(lambda row: len({str(x) for x in row}) > 1, axis=1)
            table = table[differs] if len(table) else table
        table.index.name = "param"
        return table

    def get_lineage(self, uri: str, direction: str = "upstream",
                    depth: int = 10) -> list[LineageEdge]:
        """The lineage of ``uri`` (runs:/ID, models:/NAME/VERSION or @ALIAS, a logged
        model's runs:/ID/PATH, a Delta table path with or without ``@v<N>``): the edges of
        the ``lineage_edges`` view reachable upstream (what it was made from), downstream
        (what was made from it) or both, up to ``depth`` steps, nearest first.

        Example:
            >>> client.get_lineage("models:/churn@champion")  # data versions -> run -> model
        """
        from lakeml.query.lineage import EDGES_QUERY, walk

        return walk(self._b.engine.arrow(EDGES_QUERY, {}), uri, direction, depth)
