"""The REST implementation of :class:`lakeml.services.TrackingService`: a tracking server's
client.

``RestTrackingService("http://host:port")`` speaks MLflow's REST API 2.0 where it has
the call, and lakeml's extensions (``/api/2.0/lakeml/...``, lakeml/server/lakeml_api.py)
for the rest. Log calls are checked here with the lake service's rules and messages
(lakeml.validation) and buffered (lakeml/rest/buffer.py); every other call sends the
buffer first, so this process reads its own writes. What this process knows of a run
(its status, lifecycle, artifact root, params) is kept per run id, as the lake service
keeps it, so a log call costs no request: a run this process created is known at once,
another is read once on its first log call.

Experiments, reads and analytics, and artifacts are parts (lakeml/rest/experiments.py,
reads.py, artifacts.py) whose calls the service binds as its own, like the lake
service's parts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from lakeml import arguments, config, system_tags
from lakeml import validation as v
from lakeml.entities import DatasetInput, LifecycleStage, Metric, Param, Run, RunStatus, RunTag
from lakeml.errors import Deleted, InvalidArgument, NotSupported
from lakeml.rest import wire
from lakeml.rest.artifacts import RestArtifacts
from lakeml.rest.buffer import LogBuffer
from lakeml.rest.experiments import RestExperiments
from lakeml.rest.http import LAKEML, Http, Remote
from lakeml.rest.reads import RestReads
from lakeml.times import now_ms

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.entities import Experiment
    from lakeml.store import Store

_RUNNING = RunStatus.RUNNING


@dataclass
class RunState:
    """What this process knows of a run: enough to check a log call without a request.

    ``params`` is None until the run's params were read (runs created here start with
    an empty, complete dict)."""

    status: str
    lifecycle_stage: str
    artifact_uri: str
    params: dict[str, str] | None = None


class RestTrackingService:
    """Tracking through a lakeml tracking server (``lakeml server``) at ``url``.

    Args:
        url: ``http://host:port`` or ``https://host:port`` (a path prefix is kept).

    Example:
        >>> tracking = RestTrackingService("http://127.0.0.1:5000")     # doctest: +SKIP
        >>> run = tracking.create_run(tracking.create_experiment("a"))   # doctest: +SKIP
    """

    def __init__(self, url: str) -> None:
        self._http = Http(url)
        self._buffer = LogBuffer(self._http, interval=config.get("flush_interval"),
                                 flush_rows=config.get("flush_rows"),
                                 max_buffered_rows=config.get("max_buffered_rows"))
        # every request sends the buffer first; refusals wait for an explicit flush()
        # (end_run, Client.flush), as the lake's reads leave them to it
        self._remote = Remote(self._http, self._send_buffer)
        self._runs: dict[str, RunState] = {}
        self._runs_lock = threading.Lock()
        self._bind_parts()

    def _bind_parts(self) -> None:
        """Make the parts and bind their public calls as this service's."""
        remote = self._remote
        experiments = RestExperiments(remote, self._forget_runs)
        reads = RestReads(remote)
        artifacts = RestArtifacts(self._http, self._state, self._writable, self._send_buffer)
        for part, names in ((experiments, RestExperiments.CALLS), (reads, RestReads.CALLS),
                            (artifacts, RestArtifacts.CALLS)):
            for name in names:
                setattr(self, name, getattr(part, name))

    # ---- the store ----------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """A REST service has no lake store of its own: a stand-in whose every attribute
        raises NotSupported saying so."""
        return _NoStore(self.store_uri)  # type: ignore[return-value]

    @property
    def store_uri(self) -> str:
        """The server's URL."""
        return self._http.url

    def flush(self) -> None:
        """Send every buffered log row to the server now (one log-batch per run).

        Raises the server's error for rows it refused since the last flush (the class
        and message the lake service raises for them), or StoreUnavailable if the
        server cannot be reached (the rows stay buffered and are sent again).
        """
        self._buffer.flush()

    def _send_buffer(self) -> None:
        self._buffer.flush(report=False)

    # ---- run state ------------------------------------------------------------------------
    def _state(self, run_id: str) -> RunState:
        state = self._runs.get(run_id) if type(run_id) is str else None
        if state is not None:
            return state
        v.check_id(run_id, "run_id")
        run = wire.run(self._remote.get("/runs/get", {"run_id": run_id})["run"])
        state = RunState(run.info.status, run.info.lifecycle_stage, run.info.artifact_uri,
                         dict(run.data.params))
        with self._runs_lock:
            return self._runs.setdefault(run_id, state)

    def _writable(self, run_id: str) -> RunState:
        state = self._state(run_id)
        # MLflow's rule: a run takes log calls until it is deleted, whatever its status
        # (metrics of an evaluation, tags of a review, added after the run ended)
        if state.lifecycle_stage != LifecycleStage.ACTIVE:
            raise Deleted(f"run {run_id!r} is deleted; restore it before logging")
        return state

    def _forget_runs(self) -> None:
        """Drop what is known of runs (an experiment's delete or restore changed them)."""
        with self._runs_lock:
            self._runs.clear()

    def check_run_writable(self, run_id: str) -> None:
        """Raise unless the run takes log calls: NotFound, or InvalidState if it is
        deleted (the server is asked: another process may have deleted the run)."""
        self._remote.get("/runs/check-writable", {"run_id": run_id}, api=LAKEML)

    def active_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, which must be active (InvalidState if deleted)."""
        return wire.experiment(self._remote.get(
            "/experiments/get-active", {"experiment_id": experiment_id},
            api=LAKEML)["experiment"])

    # ---- run lifecycle ----------------------------------------------------------------
    def create_run(self, experiment_id: str | None = None, start_time: int | None = None,
                   tags: Mapping[str, Any] | None = None, run_name: str | None = None,
                   *, parent_run_id: str | None = None) -> Run:
        """Start a new RUNNING run in ``experiment_id`` (the Default experiment if None)."""
        tags = arguments.mapping(tags, "tags")
        user = str(tags.get(system_tags.USER) or config.current_user())
        # this process's source, git commit and user, as a lake run of it would have them
        tags = {**system_tags.default_tags(user), **tags}
        body = {"experiment_id": None if experiment_id is None
                else arguments.experiment_id(experiment_id),
                "start_time": start_time, "run_name": run_name,
                "parent_run_id": parent_run_id,
                "tags": [{"key": k, "value": val} for k, val in tags.items()]}
        body["user_id"] = user
        run = wire.run(self._remote.post("/runs/create", body, api=LAKEML)["run"])
        with self._runs_lock:
            self._runs[run.info.run_id] = RunState(_RUNNING, LifecycleStage.ACTIVE,
                                                   run.info.artifact_uri, {})
        return run

    def update_run(self, run_id: str, status: str | None = None,
                   name: str | None = None) -> None:
        """Change a run's status and/or name (None or "" leaves the name as it is)."""
        self._remote.post("/runs/update", {"run_id": run_id, "status": status,
                                           "run_name": name or None}, api=LAKEML)
        state = self._runs.get(run_id)
        if state is not None and status is not None:
            state.status = status

    def set_terminated(self, run_id: str, status: str = RunStatus.FINISHED,
                       end_time: int | None = None) -> None:
        """End a run as FINISHED (or FAILED / KILLED)."""
        self._remote.post("/runs/set-terminated", {"run_id": run_id, "status": status,
                                                   "end_time": end_time}, api=LAKEML)
        state = self._runs.get(run_id)
        if state is not None:
            state.status = status

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run: its rows stay, it leaves ACTIVE_ONLY listings."""
        self._remote.post("/runs/delete", {"run_id": run_id})
        self._runs.pop(run_id, None)

    def restore_run(self, run_id: str) -> None:
        """Undo a soft delete."""
        self._remote.post("/runs/restore", {"run_id": run_id})
        self._runs.pop(run_id, None)

    # ---- logging: buffered ------------------------------------------------------------
    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        """Log one metric point (``timestamp`` in ms, ``step`` default 0).

        Costs about a microsecond: the point is checked and buffered; a flush sends it.
        """
        state = self._runs.get(run_id) if type(run_id) is str else None
        if state is None or state.lifecycle_stage != "active":
            self._writable(run_id)
        if type(value) is not float:
            value = v.metric_value(key, value)
        if type(key) is not str or key not in v.valid_keys:
            v.check_key(key, "metric key")
        ts = now_ms() if timestamp is None else v.timestamp_ms(timestamp)
        step = 0 if step is None else (
            step if type(step) is int and -0x8000000000000000 <= step <= 0x7FFFFFFFFFFFFFFF
            else v.step_value(key, step))
        self._buffer.append_metric(run_id, key, value, ts, step)

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param; logging a different value for a logged key is an error."""
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a tag (overwrites an earlier value)."""
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def log_batch(self, run_id: str,
                  metrics: Mapping[str, float] | Sequence[Metric] = (),
                  params: Mapping[str, Any] | Sequence[Param] = (),
                  tags: Mapping[str, Any] | Sequence[RunTag] = (),
                  *, step: int | None = None) -> None:
        """Log metrics, params and tags together; all are checked before any is logged.

        Each may be a dict or a list of Metric / Param / RunTag (None: none). For a
        dict of metrics, ``step`` applies to all (default 0) and the time is now.
        """
        state = self._writable(run_id)
        metrics = arguments.collection(metrics, "metrics", "Metric objects")
        params = arguments.collection(params, "params", "Param objects")
        tags = arguments.collection(tags, "tags", "RunTag objects")
        metric_rows = _metric_rows(run_id, metrics, step, now_ms())
        param_items = self._param_items(run_id, state, params)
        tag_rows = []
        for key, value in _items(tags, RunTag, "tags"):
            v.check_key(key, "tag key")
            text = v.tag_value(key, value)
            if key == system_tags.RUN_NAME:
                v.check_name(text, "run name")
            tag_rows.append((run_id, key, text))
        if param_items:
            assert state.params is not None
            state.params.update(param_items)
        self._buffer.extend(metric_rows, [(run_id, k, val) for k, val in param_items],
                            tag_rows)

    def _param_items(self, run_id: str, state: RunState, params: Any) -> list[tuple[str, str]]:
        items = [(v.check_key(k, "param key"), v.param_value(k, val))
                 for k, val in _items(params, Param, "params")]
        if not items:
            return []
        if state.params is None:
            state.params = dict(self.get_run(run_id).data.params)  # type: ignore[attr-defined]
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

    # ---- logging: requests ----------------------------------------------------------------
    def delete_tag(self, run_id: str, key: str) -> None:
        """Delete a tag; NotFound if the run has no such tag."""
        self._remote.post("/runs/delete-tag", {"run_id": run_id, "key": key})

    def log_inputs(self, run_id: str, datasets: Iterable[DatasetInput]) -> None:
        """Record datasets the run used (name, digest, source, schema, context)."""
        self._writable(run_id)
        items = []
        for item in datasets:
            if not isinstance(item, DatasetInput):
                raise InvalidArgument(f"log_inputs takes DatasetInput objects, got {item!r}")
            items.append(wire.dataset_input_json(item))
        self._remote.post("/runs/log-inputs", {"run_id": run_id, "datasets": items},
                          api=LAKEML)

    def log_runs(self, experiment_id: str, data: Any, *,
                 tags: Mapping[str, Any] | None = None) -> list[str]:
        """Log one finished run per row of a DataFrame or Arrow table; returns their ids."""
        return list(self._remote.post_arrow(
            "/runs/log-runs", bulk_arrow(data, "log_runs"),
            {"experiment_id": arguments.experiment_id(experiment_id),
             "tags": dict(arguments.mapping(tags, "tags")) or None})["run_ids"])

    def log_metric_histories(self, data: Any) -> int:
        """Append metric points (run_id, key, value, step, timestamp ms) in bulk."""
        return int(self._remote.post_arrow("/metrics/log-histories",
                                           bulk_arrow(data, "log_metric_histories"))["count"])


class _NoStore:
    """What ``store`` gives over REST: any use of it raises NotSupported, naming the server."""

    def __init__(self, url: str) -> None:
        self._url = url

    def __getattr__(self, name: str) -> Any:
        raise NotSupported(f"{self._url} is a tracking server: its store is the server's, "
                           f"not this process's (no store.{name} here; maintenance runs on "
                           "the server's machine: `lakeml maintenance --store <its store>`)")

    def __repr__(self) -> str:
        return f"<no lake store: tracking server {self._url}>"


def _metric_rows(run_id: str, metrics: Any, step: int | None, now: int
                 ) -> list[tuple[str, str, float, int, int]]:
    """Checked metric rows (run_id, key, value, timestamp ms, step), as the lake's rules."""
    rows = []
    if isinstance(metrics, Mapping):
        s = 0 if step is None else v.step_value("step", step)
        for key, value in metrics.items():
            rows.append((run_id, v.check_key(key, "metric key"), v.metric_value(key, value),
                         now, s))
        return rows
    for m in metrics:
        if not isinstance(m, Metric):
            raise InvalidArgument(f"metrics must be a dict or Metric objects, got {m!r}")
        ts = now if m.timestamp is None else v.timestamp_ms(m.timestamp)
        rows.append((run_id, v.check_key(m.key, "metric key"), v.metric_value(m.key, m.value),
                     ts, v.step_value(m.key, m.step or 0)))
    return rows


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


def bulk_arrow(data: Any, call: str) -> pa.Table:
    """What a bulk call was given, as the Arrow table to send: an Arrow table, a DuckDB
    relation, a polars or pandas DataFrame (float columns keep NaN as NaN, as the lake's
    bulk calls keep it), or a list of dicts (every key of every row)."""
    import pyarrow as pa

    try:
        if isinstance(data, pa.Table):
            return data
        if isinstance(data, list) and all(isinstance(row, Mapping) for row in data):
            keys = dict.fromkeys(k for row in data for k in row)
            return pa.table({str(k): pa.array([row.get(k) for row in data]) for k in keys})
        if hasattr(data, "to_arrow"):  # polars, a DuckDB relation
            return data.to_arrow()
        if type(data).__module__.startswith("pandas") and hasattr(data, "columns"):
            return pa.table({str(c): pa.array(data[c].to_numpy(), from_pandas=False)
                             if data[c].dtype.kind == "f"
                             else pa.array(data[c], from_pandas=True) for c in data.columns})
    except (UnicodeEncodeError, OverflowError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidArgument(f"bulk logging: a value cannot be stored: {exc}") from None
    raise InvalidArgument(f"{call} takes a pandas or polars DataFrame or an Arrow table, "
                          f"got {type(data).__name__}")
