"""The lake implementation of :class:`lakeml.services.TrackingService`.

Log calls validate their input, append a row to the store's buffer and
return; nothing here commits on the logging path. Reads see everything this
process has logged (the query engine commits pending rows first).

The run lifecycle, logging and artifacts are written here; experiments, run
reads, search, analytics and SQL are parts (one object each, sharing this
store's :class:`~lakeml.tracking.backend.Backend`) whose calls the service
binds as its own.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from lakeml import arguments, config, system_tags
from lakeml import validation as v
from lakeml.artifacts import ArtifactRepository, clean_relative
from lakeml.entities import (
    DatasetInput,
    FileInfo,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from lakeml.errors import Deleted, InvalidArgument, NotFound
from lakeml.ids import uuid7_hex
from lakeml.times import now_ms, now_us
from lakeml.tracking import owners
from lakeml.tracking.analytics import AnalyticsCalls
from lakeml.tracking.backend import Backend, RunState, backend_for
from lakeml.tracking.experiments import DEFAULT_EXPERIMENT_ID, ExperimentCalls
from lakeml.tracking.names import generate_run_name
from lakeml.tracking.reads import RunReads
from lakeml.tracking.search import RunSearch
from lakeml.tracking.sql_access import SqlAccess

if TYPE_CHECKING:
    from lakeml.entities import Experiment
    from lakeml.query import QueryEngine
    from lakeml.store import Store

_RUNNING = RunStatus.RUNNING


class LakeTrackingService:
    """Tracking over one lake store (a local folder or object-store URI); cheap to create
    (backends are shared per store URI in a process).

    Args:
        store_uri: the store to use.
        storage_options: object-store options (credentials, endpoint).

    Example:
        >>> tracking = LakeTrackingService("/tmp/lake")                # doctest: +SKIP
        >>> run = tracking.create_run(tracking.create_experiment("a"))  # doctest: +SKIP
    """

    def __init__(self, store_uri: str | os.PathLike[str], *,
                 storage_options: dict[str, str] | None = None) -> None:
        self._b = backend_for(arguments.path(store_uri, "store_uri"), storage_options)
        self._bind_parts()
        self._experiments._ensure_default_experiment()  # as MLflow does when it opens a store

    @classmethod
    def of_store(cls, store_uri: str | os.PathLike[str], *,
                 storage_options: dict[str, str] | None = None) -> LakeTrackingService:
        """The service of ``store_uri`` that this process shares, made on first use: getting
        it again costs a dictionary lookup (a Client is made per call in some paths, such
        as resolving ``models:/`` URIs)."""
        backend = backend_for(arguments.path(store_uri, "store_uri"), storage_options)
        found = backend.shared.get("tracking")
        return found if found is not None else backend.shared.setdefault(
            "tracking", cls(store_uri, storage_options=storage_options))

    def _bind_parts(self) -> None:
        """Make the parts and bind their public calls as this service's (no forwarding frame)."""
        b = self._b
        self._experiments = experiments = ExperimentCalls(b)
        self._reads = reads = RunReads(b)
        search = RunSearch(b, reads)
        analytics = AnalyticsCalls(b, search, reads)
        sql = SqlAccess(b)
        self.get_experiment = experiments.get_experiment
        self.get_experiment_by_name = experiments.get_experiment_by_name
        self.search_experiments = experiments.search_experiments
        self.create_experiment = experiments.create_experiment
        self.rename_experiment = experiments.rename_experiment
        self.delete_experiment = experiments.delete_experiment
        self.restore_experiment = experiments.restore_experiment
        self.set_experiment_tag = experiments.set_experiment_tag
        self.delete_experiment_tag = experiments.delete_experiment_tag
        self.get_run = reads.get_run
        self.get_metric_history = reads.get_metric_history
        self.list_runs = reads.list_runs
        self.search_runs = search.search_runs
        self.search_runs_table = search.search_runs_table
        self.search_runs_frame = search.search_runs_frame
        self.export_runs = analytics.export_runs
        self.get_metric_histories = analytics.get_metric_histories
        self.leaderboard = analytics.leaderboard
        self.get_lineage = analytics.get_lineage
        self.best_runs = analytics.best_runs
        self.metric_by_param = analytics.metric_by_param
        self.param_diff = analytics.param_diff
        self.sql = sql.sql
        self.store_versions = sql.store_versions

    @property
    def store(self) -> Store:
        """The store this service writes to."""
        return self._b.store

    @property
    def backend(self) -> Backend:
        """What this process holds for the store (its run-state cache included): a server's
        journal keeps that cache true to other workers' journaled writes."""
        return self._b

    @property
    def engine(self) -> QueryEngine:
        """The store's query engine in this process (lake siblings such as the registry's
        bulk registration join its views)."""
        return self._b.engine

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """The object kept under ``key`` for this store in this process, made by ``make()``
        on first use (the registry keeps the mirror of its log here)."""
        backend = self._b
        found = backend.shared.get(key)  # (made once: later calls take no lock)
        if found is not None:
            return found
        with backend.lock:
            found = backend.shared.get(key)
            if found is None:
                found = backend.shared[key] = make()
            return found

    @property
    def store_uri(self) -> str:
        """The normalised store URI."""
        return self._b.store.uri

    def flush(self) -> None:
        """Commit everything this process has logged to the store now.

        Raises InvalidArgument naming rows that were set aside instead of committed
        since the last flush (e.g. a param whose key another process committed first
        with another value); every other row is committed.
        """
        self._b.store.flush()

    # ---- run state --------------------------------------------------------------
    def _state(self, run_id: str) -> RunState:
        state = self._b.runs.get(run_id) if type(run_id) is str else None
        if state is not None:
            return state
        v.check_id(run_id, "run_id")
        if self._b.before_miss_read is not None:
            self._b.before_miss_read()
            # the commits waited for are checked now, before the run is read: the next
            # check then does not take them for changes after this read
            self._b.freshness.check()
        infos = self._reads._run_infos("run_id = ?", [run_id])
        if not infos:
            raise NotFound(f"no run with id {run_id!r}")
        info = infos[0]
        state = RunState(info.experiment_id, info.status, info.lifecycle_stage,
                         info.artifact_uri)
        self._b.runs[run_id] = state
        return state

    def _writable(self, run_id: str) -> RunState:
        if self._b.engine.commits_only:  # a server worker: see other workers' commits
            self._b.freshness.check()
        state = self._state(run_id)
        # MLflow's rule: a run takes log calls until it is deleted, whatever its status
        # (metrics of an evaluation, tags of a review, added after the run ended)
        if state.lifecycle_stage != LifecycleStage.ACTIVE:
            raise Deleted(f"run {run_id!r} is deleted; restore it before logging")
        return state

    def check_run_writable(self, run_id: str) -> None:
        """Raise unless a log call to the run would be accepted: NotFound if there is no such
        run, InvalidState if it is deleted (a finished run takes log calls, as in MLflow)."""
        self._writable(run_id)

    def active_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, which must be active (InvalidState if deleted); read at most every
        few seconds."""
        return self._experiments._active_experiment(experiment_id)

    def _run_row(self, run_id: str, **cols: Any) -> tuple[Any, ...]:
        store = self._b.store
        seq = store.clock.next()
        self._b.freshness.wrote(run_id, seq)  # (see run_freshness.py)
        return store.rows.runs(run_id=run_id, seq=seq, **cols)

    # ---- run lifecycle --------------------------------------------------------
    def create_run(self, experiment_id: str | None = None, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None,
                   *, parent_run_id: str | None = None) -> Run:
        """Start a new RUNNING run in ``experiment_id`` (the Default experiment if None)."""
        exp = self._experiments._active_experiment(DEFAULT_EXPERIMENT_ID if experiment_id is None
                                      else arguments.experiment_id(experiment_id))
        if self._b.engine.commits_only:  # keeps the record of own rows short
            self._b.freshness.check()
        tags = arguments.mapping(tags, "tags")
        named = tags.get(system_tags.RUN_NAME)
        if run_name and named is not None and str(named) != run_name:
            raise InvalidArgument(
                f"the run name is given twice with different values: run_name={run_name!r} "
                f"and the tag {system_tags.RUN_NAME}={named!r}; give one of them")
        run_name = run_name or (str(named) if named is not None else None) or generate_run_name()
        v.check_name(run_name, "run name")
        if parent_run_id is not None:
            self._state(parent_run_id)
            tags[system_tags.PARENT_RUN_ID] = parent_run_id
        for key, value in tags.items():
            v.check_key(key, "tag key")
            v.tag_value(key, value)
        start_ms = v.timestamp_ms(start_time, "start_time") if start_time is not None else None
        # Run times are whole milliseconds (MLflow's unit), so every reader agrees on them.
        start_us = (start_ms if start_ms is not None else now_ms()) * 1000
        user = v.check_text(str(tags.get(system_tags.USER) or config.current_user()),
                            "user")
        run_id = uuid7_hex()
        artifact_uri = f"{exp.artifact_location}/{run_id}/artifacts"
        store = self._b.store
        store.append("runs", self._run_row(
            run_id, experiment_id=exp.experiment_id, run_name=run_name, user_id=user,
            status=_RUNNING, start_time=start_us, artifact_uri=artifact_uri,
            lifecycle_stage=LifecycleStage.ACTIVE, parent_run_id=parent_run_id))
        self._b.runs[run_id] = RunState(exp.experiment_id, _RUNNING, LifecycleStage.ACTIVE,
                                        artifact_uri, {})
        tags = {**system_tags.default_tags(user), system_tags.USER: user,
                system_tags.RUN_NAME: run_name, owners.OWNER_TAG: owners.this_process(), **tags}
        self._append_tags(run_id, tags)
        info = RunInfo(run_id, exp.experiment_id, run_name, user, _RUNNING, start_us // 1000,
                       None, artifact_uri, LifecycleStage.ACTIVE, parent_run_id)
        return Run(info, RunData(tags={k: str(val) for k, val in tags.items()}))

    def update_run(self, run_id: str, status: str | None = None,
                   name: str | None = None) -> None:
        """Change a run's status and/or name (None or "" leaves the name as it is)."""
        state = self._state(run_id)
        if status is not None and (not isinstance(status, str) or status not in RunStatus.ALL):
            raise InvalidArgument(f"unknown run status {status!r}; valid: {list(RunStatus.ALL)}")
        name = name or None
        if name is not None:
            v.check_name(name, "run name")
            self._append_tags(run_id, {system_tags.RUN_NAME: name})
        self._b.store.append("runs", self._run_row(run_id, status=status, run_name=name))
        if status is not None:
            state.status = status

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        """End a run as FINISHED (or FAILED / KILLED). Rows commit with the next flush."""
        if not isinstance(status, str) or status not in RunStatus.TERMINAL:
            raise InvalidArgument(f"terminal status must be one of {list(RunStatus.TERMINAL)},"
                                  f" got {status!r}")
        state = self._state(run_id)
        end_us = (v.timestamp_ms(end_time, "end_time") if end_time is not None
                  else now_ms()) * 1000
        self._b.store.append("runs", self._run_row(run_id, status=status, end_time=end_us))
        state.status = status

    def _set_lifecycle(self, run_id: str, stage: str) -> None:
        state = self._state(run_id)
        self._b.store.append("runs", self._run_row(run_id, lifecycle_stage=stage))
        state.lifecycle_stage = stage

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run: its rows stay, it leaves ACTIVE_ONLY listings."""
        self._set_lifecycle(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        """Undo a soft delete."""
        self._set_lifecycle(run_id, LifecycleStage.ACTIVE)

    # ---- logging ----------------------------------------------------------------
    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        """Log one metric point (``timestamp`` in ms, ``step`` default 0).

        Costs a few microseconds: the point is buffered, not committed.
        """
        state = self._b.runs.get(run_id) if type(run_id) is str else None
        if (state is None or state.lifecycle_stage != "active"
                or self._b.engine.commits_only):
            self._writable(run_id)
        if type(value) is not float:
            value = v.metric_value(key, value)
        if type(key) is not str or key not in v.valid_keys:
            v.check_key(key, "metric key")
        ts = now_us() if timestamp is None else v.timestamp_ms(timestamp) * 1000
        # int64 bounds as literals: a constant load keeps this check at ~10 ns
        step = 0 if step is None else (
            step if type(step) is int and -0x8000000000000000 <= step <= 0x7FFFFFFFFFFFFFFF
            else v.step_value(key, step))
        self._b.store.writer.append_metric(run_id, key, value, step, ts)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param; logging a different value for a logged key is an error."""
        self.log_batch(run_id, params=[Param(key, value)])  # (a dict needs a hashable key)
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (overwrites an earlier value)."""
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a tag; NotFound if the run has no such tag."""
        key = v.check_key(key, "tag key")
        self._state(run_id)
        found = self._b.engine.rows("SELECT 1 FROM tags WHERE run_id = ? AND key = ?",
                                    [run_id, key], tables=["tags"])
        if not found:
            raise NotFound(f"run {run_id!r} has no tag {key!r}")
        store = self._b.store
        store.append("tags", store.rows.tags(run_id=run_id, key=key, value=None, deleted=True,
                                             timestamp=now_us(), seq=store.clock.next()))

    def log_batch(self, run_id: str,
                  metrics: Mapping[str, float] | Sequence[Metric] = (),
                  params: Mapping[str, Any] | Sequence[Param] = (),
                  tags: Mapping[str, Any] | Sequence[RunTag] = (),
                  *, step: int | None = None) -> None:
        """Log metrics, params and tags together; all are checked before any is logged.

        Each may be a dict or a list of Metric / Param / RunTag (None: none). For
        a dict of metrics, ``step`` applies to all (default 0) and the time is now.
        """
        state = self._writable(run_id)
        metrics = arguments.collection(metrics, "metrics", "Metric objects")
        params = arguments.collection(params, "params", "Param objects")
        tags = arguments.collection(tags, "tags", "RunTag objects")
        now = now_us()
        metric_rows = self._metric_rows(run_id, metrics, step, now)
        param_items = self._param_items(run_id, state, params)
        tag_items = _items(tags, RunTag, "tags")
        new_name = None
        for key, value in tag_items:
            v.check_key(key, "tag key")
            text = v.tag_value(key, value)
            if key == system_tags.RUN_NAME:  # the tag and the run's name are one thing
                new_name = v.check_name(text, "run name")
        writer = self._b.store.writer
        if param_items:
            build = self._b.store.rows.params
            writer.extend("params", [build(run_id=run_id, key=k, value=val, timestamp=now)
                                     for k, val in param_items])
            assert state.params is not None
            state.params.update(param_items)
        if tag_items:
            self._append_tags(run_id, dict(tag_items))
        if new_name is not None:
            self._b.store.append("runs", self._run_row(run_id, run_name=new_name))
        writer.extend("metrics", metric_rows)

    def _metric_rows(self, run_id: str, metrics: Any, step: int | None,
                     now: int) -> list[tuple[Any, ...]]:
        rows = []
        build = self._b.store.rows.metrics
        if isinstance(metrics, Mapping):
            s = 0 if step is None else v.step_value("step", step)
            for key, value in metrics.items():
                rows.append(build(run_id=run_id, key=v.check_key(key, "metric key"),
                                  value=v.metric_value(key, value), step=s, timestamp=now))
            return rows
        for m in metrics:
            if not isinstance(m, Metric):
                raise InvalidArgument(f"metrics must be a dict or Metric objects, got {m!r}")
            ts = now if m.timestamp is None else v.timestamp_ms(m.timestamp) * 1000
            rows.append(build(run_id=run_id, key=v.check_key(m.key, "metric key"),
                              value=v.metric_value(m.key, m.value),
                              step=v.step_value(m.key, m.step or 0), timestamp=ts))
        return rows

    def _param_items(self, run_id: str, state: RunState, params: Any) -> list[tuple[str, str]]:
        items = [(v.check_key(k, "param key"), v.param_value(k, val))
                 for k, val in _items(params, Param, "params")]
        if not items:
            return []
        if state.params is None:
            state.params = dict(self._b.engine.rows(
                "SELECT key, value FROM params WHERE run_id = ?", [run_id], tables=["params"]))
        fresh: dict[str, str] = {}
        for key, text in items:
            old = state.params.get(key, fresh.get(key))
            if old is not None and old != text:
                raise InvalidArgument(
                    f"param {key!r} of run {run_id!r} was logged as {old!r}; it cannot be "
                    f"changed to {text!r} (params are immutable: log a new run or a tag)")
            if old is None:
                fresh[key] = text
        return list(fresh.items())

    def _append_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        now = now_us()
        clock = self._b.store.clock
        build = self._b.store.rows.tags
        self._b.store.writer.extend("tags", [
            build(run_id=run_id, key=v.check_key(k, "tag key"), value=v.tag_value(k, val),
                  deleted=False, timestamp=now, seq=clock.next())
            for k, val in tags.items()])

    def log_inputs(self, run_id: str, datasets: Iterable[DatasetInput]) -> None:
        """Record datasets the run used (name, digest, source, schema, context)."""
        self._writable(run_id)
        now = now_us()
        rows = []
        for item in datasets:
            if not isinstance(item, DatasetInput):
                raise InvalidArgument(f"log_inputs takes DatasetInput objects, got {item!r}")
            d = item.dataset
            v.check_name(d.name, "dataset name")
            v.check_name(d.digest, "dataset digest")
            for what, text in (("source type", d.source_type), ("source", d.source),
                               ("schema", d.schema), ("profile", d.profile),
                               ("context", item.context)):
                v.optional_text(text, f"dataset {d.name!r} {what}")
            rows.append(self._b.store.rows.inputs(
                run_id=run_id, name=d.name, digest=d.digest, source_type=d.source_type,
                source=d.source, schema=d.schema, profile=d.profile, context=item.context,
                timestamp=now))
        self._b.store.writer.extend("inputs", rows)

    # ---- bulk -------------------------------------------------------------------
    def log_runs(self, experiment_id: str, data: Any, *,
                 tags: Mapping[str, Any] | None = None) -> list[str]:
        """Log one finished run per row of a DataFrame or Arrow table (see tracking.bulk).

        From 100,000 rows on, says on stderr that it runs and how long it took
        (see :mod:`lakeml.progress`).
        """
        from lakeml.tracking.bulk import log_runs

        with _bulk_progress(data, "runs"):
            return log_runs(self, experiment_id, data, tags=dict(tags or {}))

    def log_metric_histories(self, data: Any) -> int:
        """Append metric points (run_id, key, value, step, timestamp ms) in bulk."""
        from lakeml.tracking.bulk import log_metric_histories

        with _bulk_progress(data, "metric points"):
            return log_metric_histories(self, data)

    # ---- artifacts ------------------------------------------------------------
    def _artifacts(self, run_id: str) -> ArtifactRepository:
        return ArtifactRepository(self._state(run_id).artifact_uri,
                                  self._b.store.artifact_storage_options)

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        """The URI of the run's artifact root, or of ``artifact_path`` under it."""
        root = self._state(run_id).artifact_uri
        rel = clean_relative(artifact_path)
        return f"{root}/{rel}" if rel else root

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts."""
        self._writable(run_id)
        self._artifacts(run_id).log_artifact(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Copy a local folder's files into the run's artifacts."""
        self._writable(run_id)
        self._artifacts(run_id).log_artifacts(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save ``text`` as the artifact ``artifact_file``."""
        if not isinstance(text, str):
            raise InvalidArgument(f"log_text takes a str, got {type(text).__name__}")
        self._writable(run_id)
        self._artifacts(run_id).write_bytes(artifact_file, text.encode())

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """Save a dict as JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
        self._writable(run_id)
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_dump(dict(dictionary), sort_keys=False)
        else:
            data = json.dumps(dictionary, indent=2, default=str)
        self._artifacts(run_id).write_bytes(artifact_file, data.encode())

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (format from the file's extension)."""
        self._writable(run_id)
        suffix = os.path.splitext(artifact_file)[1] or ".png"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "figure" + suffix)
            if not hasattr(figure, "savefig"):
                raise InvalidArgument(f"log_figure takes a matplotlib figure, got "
                                      f"{type(figure).__name__}")
            figure.savefig(path)
            with open(path, "rb") as fh:
                self._artifacts(run_id).write_bytes(artifact_file, fh.read())

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` in the run's artifacts."""
        return self._artifacts(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str = "",
                           dst_path: str | os.PathLike[str] | None = None) -> str:
        """Copy artifacts to ``dst_path`` (a new temporary folder by default)."""
        dst = dst_path if dst_path is not None else tempfile.mkdtemp(prefix="lakeml-")
        return self._artifacts(run_id).download_artifacts(path, dst)


def _items(values: Any, entity: type, what: str) -> list[tuple[str, Any]]:
    if isinstance(values, Mapping):
        return list(values.items())
    items = []
    for item in values:
        if not isinstance(item, entity):
            raise InvalidArgument(f"{what} must be a dict or {entity.__name__} objects, "
                                  f"got {item!r}")
        items.append((item.key, item.value))
    return items


def _bulk_progress(data: Any, what: str) -> Any:
    """A progress phase for a bulk call of 100,000 rows or more, else nothing."""
    from contextlib import nullcontext

    try:
        rows = len(data)
    except TypeError:
        return nullcontext()
    if rows < 100_000:
        return nullcontext()
    from lakeml.progress import phase

    return phase(f"logging {rows:,} {what}")
