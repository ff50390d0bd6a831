"""The tracking service: every operation on experiments, runs, their logs and artifacts.

A :class:`TrackingService` takes and returns the entities of :mod:`lakeml.entities`
and raises the errors of :mod:`lakeml.errors`. ``lakeml.Client`` holds one and
forwards to it. Implementations: :class:`lakeml.tracking.service.LakeTrackingService`
(Delta tables read through DuckDB) and :class:`lakeml.rest.RestTrackingService`
(a tracking server, for ``http(s)://`` stores). Defaults are those of MLflow's client
(a search page holds 1,000 runs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Protocol, Sequence, runtime_checkable

from lakeml.entities import RunStatus, ViewType

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from lakeml.entities import (
        DatasetInput,
        Experiment,
        FileInfo,
        LineageEdge,
        Metric,
        Param,
        Run,
        RunInfo,
        RunTag,
    )
    from lakeml.search.paging import PagedList
    from lakeml.store import Store


@runtime_checkable
class TrackingService(Protocol):
    """Every tracking operation lakeml offers (MLflow's MlflowClient names)."""

    # ---- the store ------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The lake store the service writes to (lake implementations; a REST one has none)."""
        ...

    @property
    def store_uri(self) -> str:
        """The normalised store URI."""
        ...

    def flush(self) -> None:
        """Commit everything this process has logged to the store now."""
        ...

    # ---- runs ---------------------------------------------------------------------------
    def check_run_writable(self, run_id: str) -> None:
        """Raise unless the run takes log calls: NotFound, or InvalidState if it is deleted
        (a finished run takes them, as in MLflow)."""
        ...

    def active_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, which must be active (InvalidState if deleted); may be cached briefly."""
        ...

    def create_run(self, experiment_id: str | None = None, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None,
                   *, parent_run_id: str | None = None) -> Run:
        """Start a new RUNNING run in ``experiment_id`` (the Default experiment if None)."""
        ...

    def update_run(self, run_id: str, status: str | None = None,
                   name: str | None = None) -> None:
        """Change a run's status and/or name (None or "" leaves the name as it is)."""
        ...

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        """End a run as FINISHED (or FAILED / KILLED). Rows commit with the next flush."""
        ...

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run: its rows stay, it leaves ACTIVE_ONLY listings."""
        ...

    def restore_run(self, run_id: str) -> None:
        """Undo a soft delete."""
        ...

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        """Log one metric point (``timestamp`` in ms, ``step`` default 0)."""
        ...

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param; logging a different value for a logged key is an error."""
        ...

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (overwrites an earlier value)."""
        ...

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a tag; NotFound if the run has no such tag."""
        ...

    def log_batch(self, run_id: str,
                  metrics: Mapping[str, float] | Sequence[Metric] = (),
                  params: Mapping[str, Any] | Sequence[Param] = (),
                  tags: Mapping[str, Any] | Sequence[RunTag] = (),
                  *, step: int | None = None) -> None:
        """Log metrics, params and tags together; all are checked before any is logged."""
        ...

    def log_inputs(self, run_id: str, datasets: Iterable[DatasetInput]) -> None:
        """Record datasets the run used (name, digest, source, schema, context)."""
        ...

    def log_runs(self, experiment_id: str, data: Any, *,
                 tags: Mapping[str, Any] | None = None) -> list[str]:
        """Log one finished run per row of a DataFrame or Arrow table; returns their ids."""
        ...

    def log_metric_histories(self, data: Any) -> int:
        """Append metric points (run_id, key, value, step, timestamp ms) in bulk."""
        ...

    # ---- artifacts ----------------------------------------------------------------------
    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        """The URI of the run's artifact root, or of ``artifact_path`` under it."""
        ...

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts."""
        ...

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Copy a local folder's files into the run's artifacts."""
        ...

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save ``text`` as the artifact ``artifact_file``."""
        ...

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """Save a dict as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
        ...

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (format from the file's extension)."""
        ...

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` in the run's artifacts."""
        ...

    def download_artifacts(self, run_id: str, path: str = "",
                           dst_path: str | os.PathLike[str] | None = None) -> str:
        """Copy artifacts to ``dst_path`` (a new temporary folder by default)."""
        ...

    # ---- experiments --------------------------------------------------------------------
    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with id ``experiment_id``; NotFound if there is none."""
        ...

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment named ``name`` (active or deleted), or None."""
        ...

    def search_experiments(self, view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                           max_results: int | None = 1000,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        """Experiments in ``view_type`` matching ``filter_string``, a page at a time."""
        ...

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str:
        """Create an experiment and return its id; AlreadyExists if the name is taken."""
        ...

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give the experiment a new, unused name."""
        ...

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and its runs: their rows stay, marked ``deleted``."""
        ...

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo a soft delete: the experiment and every run in it are active again."""
        ...

    def set_experiment_tag(self, experiment_id: str, key: str, value: object) -> None:
        """Set a tag on an experiment."""
        ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Delete a tag from an experiment."""
        ...

    # ---- reads, search, analytics, SQL -----------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """The run with its info, latest metrics, params, tags and dataset inputs."""
        ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of the run, in step order (then time, then value)."""
        ...

    def list_runs(self, experiment_id: str,
                  view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                  max_results: int | None = None) -> list[RunInfo]:
        """Runs of an experiment, newest first (the CLI's ``runs list``)."""
        ...

    def search_runs(self, experiment_ids: Sequence[str] | str, filter_string: str = "",
                    run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                    max_results: int | None = 1000,
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList:
        """Runs matching MLflow's filter grammar, a page at a time."""
        ...

    def search_runs_table(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None, *,
                          columns: Sequence[str] | None = None) -> pa.Table:
        """Matching runs as one wide Arrow table with MLflow's search_runs columns
        (``columns``: only those key columns, e.g. ``metrics.loss``)."""
        ...

    def search_runs_frame(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None) -> pd.DataFrame:
        """:meth:`search_runs_table` as a pandas DataFrame (MLflow's ``search_runs`` result)."""
        ...

    def export_runs(self, experiment_ids: Sequence[str] | str, path: str | Path | None = None,
                    format: str = "pandas", filter_string: str = "") -> Any:
        """Every run of the experiments as one wide table (search_runs' columns)."""
        ...

    def get_metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None = None
                             ) -> pd.DataFrame:
        """Full histories of many runs' metrics at once: run_id, key, step, value, timestamp."""
        ...

    def leaderboard(self, experiment_id: str, metric: str, *, ascending: bool = True,
                    max_results: int = 10) -> pd.DataFrame:
        """The best runs of an experiment by one metric (sql/queries/leaderboard.sql)."""
        ...

    def get_lineage(self, uri: str, direction: str = "upstream",
                    depth: int = 10) -> list[LineageEdge]:
        """The lineage of ``uri``: which data versions, runs and models it came from
        (upstream), what was made from it (downstream), or both; see ``lineage_edges``.

        Example:
            >>> client.get_lineage("models:/churn@champion")           # doctest: +SKIP
            >>> client.get_lineage("/data/customers@v3", "downstream")  # doctest: +SKIP
        """
        ...

    def best_runs(self, experiment_id: str, metric: str, group_by: str, *,
                  ascending: bool = True) -> pd.DataFrame:
        """The best run for each value of param ``group_by`` (sql/queries/best_per_group.sql)."""
        ...

    def metric_by_param(self, experiment_id: str, metric: str, param: str) -> pd.DataFrame:
        """Count, mean, min, max and stddev of a metric per param value."""
        ...

    def param_diff(self, run_ids: Sequence[str], *, all_params: bool = False) -> pd.DataFrame:
        """Params of several runs side by side (a column per run), only those that differ."""
        ...

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
            as_of: Any = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the lake's views; returns a DuckDB relation (.df(), .arrow(), .pl())."""
        ...

    def store_versions(self) -> dict[str, int]:
        """The current Delta version of every table: pass it as ``as_of`` to reread this state."""
        ...
