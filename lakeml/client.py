"""``lakeml.Client``: the explicit-id API, MLflow's ``MlflowClient`` names.

The Client holds a :class:`~lakeml.services.TrackingService` (``client.tracking``)
and a :class:`~lakeml.services.RegistryService` (``client.registry``) and
forwards each call to one of them. It picks them by the store URI's scheme: a
local path or an object-store URI (``s3://``, ``gs://``, ``abfss://``,
``file://``…) is a lake, served by :mod:`lakeml.tracking.service` and
:mod:`lakeml.registry.service`; ``http(s)://`` names a tracking server
(``lakeml server``), served by lakeml's REST client (:mod:`lakeml.rest`).
Services given as ``tracking=`` and ``registry=`` are used as they are (a
test's fakes, for instance).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from lakeml import arguments, config
from lakeml.entities import RunStatus, ViewType
from lakeml.errors import InvalidArgument
from lakeml.registry.service import LakeRegistryService
from lakeml.tracking.service import LakeTrackingService

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from lakeml.entities import (
        Comment,
        DatasetInput,
        Experiment,
        FileInfo,
        LineageEdge,
        Metric,
        ModelVersion,
        Param,
        RegisteredModel,
        Run,
        RunInfo,
        RunTag,
        TransitionRequest,
    )
    from lakeml.search.paging import PagedList
    from lakeml.services import RegistryService, TrackingService
    from lakeml.store import Store

REST_SCHEMES = ("http://", "https://")


def lake_services(store_uri: str, storage_options: dict[str, str] | None = None
                  ) -> tuple[LakeTrackingService, LakeRegistryService]:
    """The lake's tracking and registry services of ``store_uri``, made once per store in
    a process.

    Raises:
        InvalidArgument: an ``http://`` or ``https://`` URI, which names a tracking
            server, not a lake (``Client(uri)`` gives its REST services).
    """
    if store_uri.lower().startswith(REST_SCHEMES):
        raise InvalidArgument(f"store URI {store_uri!r} names a tracking server, not a lake; "
                              "Client(uri) gives its REST services")
    tracking = LakeTrackingService.of_store(store_uri, storage_options=storage_options)
    return tracking, tracking.shared("registry-service", lambda: LakeRegistryService(tracking))


class Client:
    """Explicit-id access to one store; cheap to create (services share per-store state).

    Args:
        store_uri: the store to use; defaults to the store chosen by
            ``lakeml.set_store``, ``LAKEML_STORE``, conf/lakeml.yaml, or
            ``./lakeml-store``. ``http(s)://host:port`` is a tracking server (``lakeml
            server``), reached through lakeml's REST client (:mod:`lakeml.rest`).
        storage_options: object-store options (credentials, endpoint; not for a server).
        tracking: a TrackingService to use instead of the store's (with ``registry``;
            ``store_uri`` and ``storage_options`` must then be left out).
        registry: the RegistryService to use with ``tracking``.

    Attributes:
        tracking: the TrackingService every tracking call goes to.
        registry: the RegistryService every registry call goes to.

    Example:
        >>> client = lakeml.Client("/tmp/lake")                     # doctest: +SKIP
        >>> run = client.create_run(client.create_experiment("a"))  # doctest: +SKIP
        >>> client.log_metric(run.info.run_id, "loss", 0.1)          # doctest: +SKIP
    """

    tracking: TrackingService
    registry: RegistryService

    def __init__(self, store_uri: str | os.PathLike[str] | None = None, *,
                 storage_options: dict[str, str] | None = None,
                 tracking: TrackingService | None = None,
                 registry: RegistryService | None = None) -> None:
        if tracking is not None or registry is not None:
            if tracking is None or registry is None or store_uri is not None \
                    or storage_options is not None:
                raise InvalidArgument("give both tracking= and registry= services, and no "
                                      "store_uri or storage_options with them")
            self.tracking, self.registry = tracking, registry
        else:
            uri = arguments.path(config.store_uri() if store_uri is None else store_uri,
                                 "store_uri")
            if uri.strip().lower().startswith(REST_SCHEMES):
                if storage_options is not None:
                    raise InvalidArgument("storage_options are for a lake; a tracking server "
                                          f"({uri}) holds its own")
                from lakeml.rest import rest_services

                self.tracking, self.registry = rest_services(uri)
            else:
                self.tracking, self.registry = lake_services(uri, storage_options)
        # The hot call, bound once: a call through the method below would cost a frame
        # (unless a subclass overrides it, which then must be called).
        if type(self).log_metric is Client.log_metric:
            self.log_metric = self.tracking.log_metric  # type: ignore[method-assign]

    # ---- tracking: the store -------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The lake store the service writes to (lake implementations; a REST one has none)."""
        return self.tracking.store

    @property
    def store_uri(self) -> str:
        """The normalised store URI."""
        return self.tracking.store_uri

    def flush(self) -> None:
        """Commit everything this process has logged to the store now."""
        self.tracking.flush()

    # ---- tracking: runs ------------------------------------------------------------------
    def check_run_writable(self, run_id: str) -> None:
        """Raise unless the run takes log calls: NotFound, or InvalidState if it is deleted
        (a finished run takes them, as in MLflow)."""
        self.tracking.check_run_writable(run_id)

    def active_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, which must be active (InvalidState if deleted); may be cached briefly."""
        return self.tracking.active_experiment(experiment_id)

    def create_run(self, experiment_id: str | None = None, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None,
                   *, parent_run_id: str | None = None) -> Run:
        """Start a new RUNNING run in ``experiment_id`` (the Default experiment if None)."""
        return self.tracking.create_run(experiment_id, start_time, tags, run_name,
                                        parent_run_id=parent_run_id)

    def update_run(self, run_id: str, status: str | None = None,
                   name: str | None = None) -> None:
        """Change a run's status and/or name (None or "" leaves the name as it is)."""
        self.tracking.update_run(run_id, status, name)

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        """End a run as FINISHED (or FAILED / KILLED). Rows commit with the next flush."""
        self.tracking.set_terminated(run_id, status, end_time)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run: its rows stay, it leaves ACTIVE_ONLY listings."""
        self.tracking.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        """Undo a soft delete."""
        self.tracking.restore_run(run_id)

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        """Log one metric point (``timestamp`` in ms, ``step`` default 0)."""
        self.tracking.log_metric(run_id, key, value, timestamp, step)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param; logging a different value for a logged key is an error."""
        return self.tracking.log_param(run_id, key, value)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (overwrites an earlier value)."""
        self.tracking.set_tag(run_id, key, value)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a tag; NotFound if the run has no such tag."""
        self.tracking.delete_tag(run_id, key)

    def log_batch(self, run_id: str,
                  metrics: Mapping[str, float] | Sequence[Metric] = (),
                  params: Mapping[str, Any] | Sequence[Param] = (),
                  tags: Mapping[str, Any] | Sequence[RunTag] = (),
                  *, step: int | None = None) -> None:
        """Log metrics, params and tags together; all are checked before any is logged."""
        self.tracking.log_batch(run_id, metrics, params, tags, step=step)

    def log_inputs(self, run_id: str, datasets: Iterable[DatasetInput]) -> None:
        """Record datasets the run used (name, digest, source, schema, context)."""
        self.tracking.log_inputs(run_id, datasets)

    def log_runs(self, experiment_id: str, data: Any, *,
                 tags: Mapping[str, Any] | None = None) -> list[str]:
        """Log one finished run per row of a DataFrame or Arrow table; returns their ids."""
        return self.tracking.log_runs(experiment_id, data, tags=tags)

    def log_metric_histories(self, data: Any) -> int:
        """Append metric points (run_id, key, value, step, timestamp ms) in bulk."""
        return self.tracking.log_metric_histories(data)

    # ---- tracking: artifacts -------------------------------------------------------------
    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        """The URI of the run's artifact root, or of ``artifact_path`` under it."""
        return self.tracking.get_artifact_uri(run_id, artifact_path)

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts."""
        self.tracking.log_artifact(run_id, local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Copy a local folder's files into the run's artifacts."""
        self.tracking.log_artifacts(run_id, local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save ``text`` as the artifact ``artifact_file``."""
        self.tracking.log_text(run_id, text, artifact_file)

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """Save a dict as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
        self.tracking.log_dict(run_id, dictionary, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (format from the file's extension)."""
        self.tracking.log_figure(run_id, figure, artifact_file)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` in the run's artifacts."""
        return self.tracking.list_artifacts(run_id, path)

    def download_artifacts(self, run_id: str, path: str = "",
                           dst_path: str | os.PathLike[str] | None = None) -> str:
        """Copy artifacts to ``dst_path`` (a new temporary folder by default)."""
        return self.tracking.download_artifacts(run_id, path, dst_path)

    # ---- tracking: experiments -----------------------------------------------------------
    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with id ``experiment_id``; NotFound if there is none."""
        return self.tracking.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment named ``name`` (active or deleted), or None."""
        return self.tracking.get_experiment_by_name(name)

    def search_experiments(self, view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                           max_results: int | None = 1000,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        """Experiments in ``view_type`` matching ``filter_string``, a page at a time."""
        return self.tracking.search_experiments(view_type, max_results, filter_string, order_by,
                                                page_token)

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str:
        """Create an experiment and return its id; AlreadyExists if the name is taken."""
        return self.tracking.create_experiment(name, artifact_location, tags)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give the experiment a new, unused name."""
        self.tracking.rename_experiment(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and its runs: their rows stay, marked ``deleted``."""
        self.tracking.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo a soft delete: the experiment and every run in it are active again."""
        self.tracking.restore_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: str, key: str, value: object) -> None:
        """Set a tag on an experiment."""
        self.tracking.set_experiment_tag(experiment_id, key, value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Delete a tag from an experiment."""
        self.tracking.delete_experiment_tag(experiment_id, key)

    # ---- tracking: reads, search, analytics, SQL -----------------------------------------
    def get_run(self, run_id: str) -> Run:
        """The run with its info, latest metrics, params, tags and dataset inputs."""
        return self.tracking.get_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of the run, in step order (then time, then value)."""
        return self.tracking.get_metric_history(run_id, key)

    def list_runs(self, experiment_id: str,
                  view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                  max_results: int | None = None) -> list[RunInfo]:
        """Runs of an experiment, newest first (the CLI's ``runs list``)."""
        return self.tracking.list_runs(experiment_id, view_type, max_results)

    def search_runs(self, experiment_ids: Sequence[str] | str, filter_string: str = "",
                    run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                    max_results: int | None = 1000,
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList:
        """Runs matching MLflow's filter grammar, a page at a time."""
        return self.tracking.search_runs(experiment_ids, filter_string, run_view_type, max_results,
                                         order_by, page_token)

    def search_runs_table(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None, *,
                          columns: Sequence[str] | None = None) -> pa.Table:
        """Matching runs as one wide Arrow table with MLflow's search_runs columns
        (``columns``: only those key columns, e.g. ``metrics.loss``)."""
        return self.tracking.search_runs_table(experiment_ids, filter_string, run_view_type,
                                               max_results, order_by, columns=columns)

    def search_runs_frame(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None) -> pd.DataFrame:
        """:meth:`search_runs_table` as a pandas DataFrame (MLflow's ``search_runs`` result)."""
        return self.tracking.search_runs_frame(experiment_ids, filter_string, run_view_type,
                                               max_results, order_by)

    def export_runs(self, experiment_ids: Sequence[str] | str, path: str | Path | None = None,
                    format: str = "pandas", filter_string: str = "") -> Any:
        """Every run of the experiments as one wide table (search_runs' columns)."""
        return self.tracking.export_runs(experiment_ids, path, format, filter_string)

    def get_metric_histories(self, run_ids: Sequence[str], keys: Sequence[str] | None = None
                             ) -> pd.DataFrame:
        """Full histories of many runs' metrics at once: run_id, key, step, value, timestamp."""
        return self.tracking.get_metric_histories(run_ids, keys)

    def leaderboard(self, experiment_id: str, metric: str, *, ascending: bool = True,
                    max_results: int = 10) -> pd.DataFrame:
        """The best runs of an experiment by one metric (sql/queries/leaderboard.sql)."""
        return self.tracking.leaderboard(experiment_id, metric, ascending=ascending,
                                         max_results=max_results)

    def get_lineage(self, uri: str, direction: str = "upstream",
                    depth: int = 10) -> list[LineageEdge]:
        """The lineage of ``uri``: which data versions, runs and models it came from
        (upstream), what was made from it (downstream), or both; see ``lineage_edges``.

        Example:
            >>> client.get_lineage("models:/churn@champion")           # doctest: +SKIP
            >>> client.get_lineage("/data/customers@v3", "downstream")  # doctest: +SKIP
        """
        return self.tracking.get_lineage(uri, direction, depth)

    def best_runs(self, experiment_id: str, metric: str, group_by: str, *,
                  ascending: bool = True) -> pd.DataFrame:
        """The best run for each value of param ``group_by`` (sql/queries/best_per_group.sql)."""
        return self.tracking.best_runs(experiment_id, metric, group_by, ascending=ascending)

    def metric_by_param(self, experiment_id: str, metric: str, param: str) -> pd.DataFrame:
        """Count, mean, min, max and stddev of a metric per param value."""
        return self.tracking.metric_by_param(experiment_id, metric, param)

    def param_diff(self, run_ids: Sequence[str], *, all_params: bool = False) -> pd.DataFrame:
        """Params of several runs side by side (a column per run), only those that differ."""
        return self.tracking.param_diff(run_ids, all_params=all_params)

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
            as_of: Any = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the lake's views; returns a DuckDB relation (.df(), .arrow(), .pl())."""
        return self.tracking.sql(query, params, as_of=as_of)

    def store_versions(self) -> dict[str, int]:
        """The current Delta version of every table: pass it as ``as_of`` to reread this state."""
        return self.tracking.store_versions()

    # ---- registry: registered models -----------------------------------------------------
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model ``name`` with its tags, aliases and latest version per stage."""
        return self.registry.get_registered_model(name)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version that ``name@alias`` points at."""
        return self.registry.get_model_version_by_alias(name, alias)

    def create_registered_model(self, name: str, tags: dict[str, object] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create an empty registered model; AlreadyExists if the name is taken."""
        return self.registry.create_registered_model(name, tags, description)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give the model a new, unused name (versions, aliases and tags follow it)."""
        return self.registry.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        """Replace the model's description (markdown)."""
        return self.registry.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        """Delete the model with its versions, aliases and tags (the log keeps the history)."""
        self.registry.delete_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: object) -> None:
        """Set tag ``key`` of the registered model."""
        self.registry.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete tag ``key`` of the registered model; a key it lacks is a no-op."""
        self.registry.delete_registered_model_tag(name, key)

    def set_registered_model_alias(self, name: str, alias: str, version: object) -> None:
        """Point ``name@alias`` at ``version`` (moving it if it pointed elsewhere)."""
        self.registry.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias``; NotFound if the model has no such alias."""
        self.registry.delete_registered_model_alias(name, alias)

    # ---- registry: model versions --------------------------------------------------------
    def get_model_version(self, name: str, version: object) -> ModelVersion:
        """Version ``version`` of registered model ``name``."""
        return self.registry.get_model_version(name, version)

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every live version of ``name``, oldest first."""
        return self.registry.list_model_versions(name)

    def get_latest_versions(self, name: str, stages: Iterable[str] | None = None
                            ) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage), by version."""
        return self.registry.get_latest_versions(name, stages)

    def get_model_version_download_uri(self, name: str, version: object) -> str:
        """The version's source as MLflow returns it (``runs:/…`` stays a ``runs:/`` URI)."""
        return self.registry.get_model_version_download_uri(name, version)

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, object] | None = None,
                             description: str | None = None) -> ModelVersion:
        """Register the model at ``source`` as the next version of the existing model ``name``."""
        return self.registry.create_model_version(name, source, run_id, tags, description)

    def register_model(self, model_uri: str, name: str,
                       tags: dict[str, object] | None = None) -> ModelVersion:
        """Register ``model_uri`` as a new version of ``name``, creating the model if needed."""
        return self.registry.register_model(model_uri, name, tags)

    def update_model_version(self, name: str, version: object,
                             description: str | None) -> ModelVersion:
        """Replace the version's description (markdown)."""
        return self.registry.update_model_version(name, version, description)

    def delete_model_version(self, name: str, version: object) -> None:
        """Delete the version and the aliases that point at it (the log keeps the history)."""
        self.registry.delete_model_version(name, version)

    def set_model_version_tag(self, name: str, version: object, key: str, value: object) -> None:
        """Set tag ``key`` of the version."""
        self.registry.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: object, key: str) -> None:
        """Delete tag ``key`` of the version; a key it lacks is a no-op (as in MLflow)."""
        self.registry.delete_model_version_tag(name, version, key)

    def transition_model_version_stage(self, name: str, version: object, stage: str,
                                       archive_existing_versions: bool = False,
                                       comment: str | None = None) -> ModelVersion:
        """Move the version into ``stage`` (None/Development, Staging, Production, Archived)."""
        return self.registry.transition_model_version_stage(name, version, stage,
                                                            archive_existing_versions, comment)

    # ---- registry: review ----------------------------------------------------------------
    def get_transition_requests(self, name: str | None = None, version: object = None,
                                status: str | None = "PENDING") -> list[TransitionRequest]:
        """Requests (default: the pending ones) of every model, or of one model or version."""
        return self.registry.get_transition_requests(name, version, status)

    def request_transition(self, name: str, version: object, stage: str,
                           comment: str | None = None) -> TransitionRequest:
        """Ask reviewers to move the version into ``stage``."""
        return self.registry.request_transition(name, version, stage, comment)

    def approve_transition_request(self, name: str, version: object, stage: str,
                                   comment: str | None = None,
                                   archive_existing_versions: bool = False
                                   ) -> TransitionRequest:
        """Approve the pending request and move the version into ``stage``, in one commit."""
        return self.registry.approve_transition_request(name, version, stage, comment,
                                                        archive_existing_versions)

    def reject_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Reject the pending request; the version stays where it is."""
        return self.registry.reject_transition_request(name, version, stage, comment)

    def cancel_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Withdraw a pending request (its requester or an admin)."""
        return self.registry.cancel_transition_request(name, version, stage, comment)

    def create_comment(self, name: str, version: object, comment: str) -> Comment:
        """Comment on a model version (anyone may)."""
        return self.registry.create_comment(name, version, comment)

    def get_comments(self, name: str, version: object) -> list[Comment]:
        """The comments on a version, oldest first."""
        return self.registry.get_comments(name, version)

    # ---- registry: search, bulk, permissions, time travel --------------------------------
    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = 10_000,
                              order_by: list[str] | None = None,
                              page_token: str | None = None) -> PagedList:
        """Model versions matching ``filter_string``, one page; ``.token`` fetches the next."""
        return self.registry.search_model_versions(filter_string, max_results, order_by, page_token)

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = 100,
                                 order_by: list[str] | None = None,
                                 page_token: str | None = None) -> PagedList:
        """Registered models matching ``filter_string``, one page; ``.token`` fetches the next."""
        return self.registry.search_registered_models(filter_string, max_results, order_by,
                                                      page_token)

    def register_model_versions(self, versions: Any) -> int:
        """Register many versions in one commit; returns how many."""
        return self.registry.register_model_versions(versions)

    def require(self, capability: str, action: str, name: str) -> None:
        """PermissionDenied (recorded) unless the user holds ``capability`` on model ``name``."""
        self.registry.require(capability, action, name)

    def registry_as_of(self, as_of: Any) -> RegistryService:
        """A read-only registry as it was at ``as_of`` (a datetime or ISO 8601 string)."""
        return self.registry.registry_as_of(as_of)
