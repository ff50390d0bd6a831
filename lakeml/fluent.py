"""The module-level API: an active run per thread, MLflow's function names.

All state lives in one :class:`FluentState` object (``fluent.state``) that
tests reset with :func:`reset`. Every call goes through the state's
:class:`lakeml.Client` of the current store.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from lakeml import arguments, config
from lakeml.entities import DatasetInput, Experiment, Run, RunStatus, ViewType
from lakeml.errors import Deleted, InvalidArgument, InvalidState
from lakeml.system_tags import RUN_NOTE

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.entities import Dataset
    from lakeml.entities.model_version import ModelVersion


class ActiveRun:
    """The run returned by :func:`start_run`; ends it when used as a context manager.

    An exception inside ``with start_run():`` ends the run FAILED (KILLED for
    Ctrl-C) and propagates.
    """

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def info(self):  # noqa: ANN201 - RunInfo
        """The run's info as it was when started."""
        return self._run.info

    @property
    def data(self):  # noqa: ANN201 - RunData
        """The run's data as it was when started."""
        return self._run.data

    def __repr__(self) -> str:
        return f"<ActiveRun run_id={self.info.run_id!r} name={self.info.run_name!r}>"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        end_run(status, run_id=self.info.run_id)
        return False


class FluentState:
    """The process's store choice, active experiment and per-thread run stacks."""

    def __init__(self) -> None:
        self.store_uri: str | None = None
        self.storage_options: dict[str, str] | None = None
        self.experiment_id: str | None = None
        self.last_run_id: str | None = None
        self._client: Client | None = None
        self.local = threading.local()  # this thread's ``stack``, see stack()
        self.main_stack: list[ActiveRun] = []
        self.lock = threading.RLock()

    def stack(self) -> list[ActiveRun]:
        """This thread's stack of active runs (the main thread's stack is shared)."""
        stack = getattr(self.local, "stack", None)
        if stack is None:
            stack = self.main_stack if threading.current_thread() is threading.main_thread() \
                else []
            self.local.stack = stack
        return stack

    def client(self) -> Client:
        """The client of the current store (cached)."""
        client = self._client
        if client is None:
            from lakeml.client import Client

            client = self._client = Client(get_store_uri(),
                                           storage_options=self.storage_options)
        return client


state = FluentState()
SEARCH_MAX_RESULTS = 100_000  # search_runs's default, as MLflow's (SEARCH_MAX_RESULTS_PANDAS)


def reset() -> None:
    """Forget the store choice, experiment and active runs (without ending runs)."""
    global state
    state = FluentState()
    config.set_active_store(None)


# ---- store and experiment --------------------------------------------------
def set_store(uri: str | os.PathLike[str], *,
              storage_options: dict[str, str] | None = None) -> None:
    """Use the store at ``uri`` (a folder, file://, s3://…) for what follows.

    Example:
        >>> lakeml.set_store("/data/lake")   # doctest: +SKIP
    """
    from lakeml.store import normalize_uri

    normalized = normalize_uri(uri)
    with state.lock:
        if state.stack():
            raise InvalidState("cannot change the store while a run is active; end it first")
        state.store_uri = normalized
        config.set_active_store(normalized)
        state.storage_options = storage_options
        state._client = None
        state.experiment_id = None


def get_store_uri() -> str:
    """The store in force: set_store() > LAKEML_STORE > conf/lakeml.yaml > ./lakeml-store."""
    return state.store_uri or config.store_uri()


def set_experiment(experiment_name: str | None = None,
                   experiment_id: str | None = None) -> Experiment:
    """Make an experiment active, creating it by name if needed (as MLflow does)."""
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidArgument(f"give exactly one of experiment_name and experiment_id, got "
                              f"{experiment_name!r:.80} and {experiment_id!r:.80}")
    client = state.client()
    if experiment_id is not None:
        exp = client.get_experiment(experiment_id)
    else:
        exp = client.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
        if exp is None:
            from lakeml.errors import AlreadyExists

            try:
                client.create_experiment(experiment_name)  # type: ignore[arg-type]
            except AlreadyExists:
                pass  # a concurrent process created it first: use theirs
            exp = client.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
            assert exp is not None
    if exp.lifecycle_stage != "active":
        raise Deleted(f"experiment {exp.name!r} is deleted; restore it with "
                           f"Client().restore_experiment({exp.experiment_id!r}) first")
    state.experiment_id = exp.experiment_id
    return exp


def _current_experiment_id() -> str:
    if state.experiment_id is not None:
        return state.experiment_id
    exp_id = config.get("experiment_id")
    if exp_id:
        return str(exp_id)
    name = config.get("experiment_name")
    if name:
        return set_experiment(name).experiment_id
    return "0"


# ---- runs ------------------------------------------------------------------------
def start_run(run_id: str | None = None, experiment_id: str | None = None,
              run_name: str | None = None, nested: bool = False, *,
              parent_run_id: str | None = None, tags: Mapping[str, Any] | None = None,
              description: str | None = None) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it this thread's active run.

    Example:
        >>> with lakeml.start_run(run_name="ridge-1") as run:   # doctest: +SKIP
        ...     lakeml.log_metric("loss", 0.1)
    """
    client = state.client()
    stack = state.stack()
    if stack and not nested:
        raise InvalidState(f"run {stack[-1].info.run_id!r} is already active; end it first "
                           "or pass nested=True")
    if run_id is not None and not isinstance(run_id, str):
        raise InvalidArgument(f"run_id must be a string, got {type(run_id).__name__} "
                              f"{run_id!r:.80}")
    run_id = run_id or (config.get("run_id") if not stack else None)
    all_tags = arguments.mapping(tags, "tags")
    if description:
        if RUN_NOTE in all_tags:
            raise InvalidArgument(f"the description is given twice: as description= and as "
                                  f"the tag {RUN_NOTE!r}; give one of them")
        all_tags[RUN_NOTE] = description
    if run_id:
        run = client.get_run(run_id)
        if run.info.lifecycle_stage != "active":
            raise Deleted(f"run {run_id!r} is deleted; restore it before resuming")
        from lakeml.tracking import owners

        client.update_run(run_id, status=RunStatus.RUNNING, name=run_name)
        # this process owns the run too now (its creator may be gone: see owners.py)
        owner = owners.with_this_process(run.data.tags.get(owners.OWNER_TAG))
        client.log_batch(run_id, tags={owners.OWNER_TAG: owner, **all_tags})
        run = client.get_run(run_id)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        exp_id = _current_experiment_id() if experiment_id is None or experiment_id == "" \
            else arguments.experiment_id(experiment_id)
        run = client.create_run(exp_id, tags=all_tags, run_name=run_name, parent_run_id=parent)
    active = ActiveRun(run)
    stack.append(active)
    state.last_run_id = run.info.run_id
    return active


def active_run() -> ActiveRun | None:
    """This thread's active run, or None."""
    stack = state.stack()
    if stack:
        return stack[-1]
    return state.main_stack[-1] if state.main_stack else None


def last_active_run() -> Run | None:
    """The active run, or else the run that ended last in this process."""
    run = active_run()
    if run is not None:
        return state.client().get_run(run.info.run_id)
    if state.last_run_id is None:
        return None
    return state.client().get_run(state.last_run_id)


def end_run(status: str = RunStatus.FINISHED, *, run_id: str | None = None) -> None:
    """End the active run (or ``run_id`` on the stack) and commit what it logged."""
    stack = state.stack()
    if not stack:
        return
    if run_id is not None and stack[-1].info.run_id != run_id:
        ids = [r.info.run_id for r in stack]
        if run_id not in ids:
            return  # already ended
        while stack[-1].info.run_id != run_id:  # end nested runs left open first
            end_run(status)
    active = stack.pop()
    client = state.client()
    client.set_terminated(active.info.run_id, status)
    state.last_run_id = active.info.run_id
    client.flush()


def _check_mapping(value: object, call: str) -> None:
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{call} takes a dict of key -> value, got "
                              f"{type(value).__name__} {value!r:.80}")


def current_run_id(run_id: str | None = None) -> str:
    """``run_id``, else this thread's active run (the main thread's in a thread without
    one); a run is started if none is active, as MLflow's log calls do."""
    return _run_id(run_id)


def _run_id(run_id: str | None) -> str:
    if run_id is not None:
        return run_id
    stack = state.stack() or state.main_stack
    if stack:
        return stack[-1].info.run_id
    return start_run().info.run_id  # MLflow starts a run on the first log call


# ---- logging ------------------------------------------------------------------
def log_metric(key: str, value: float, step: int | None = None, *,
               timestamp: int | None = None, run_id: str | None = None) -> None:
    """Log a metric point to the active run (a run is started if none is active)."""
    stack = state.local.__dict__.get("stack") or state.main_stack
    rid = run_id or (stack[-1].info.run_id if stack else _run_id(None))
    state.client().log_metric(rid, key, value, timestamp, step)


def log_metrics(metrics: Mapping[str, float], step: int | None = None, *,
                timestamp: int | None = None, run_id: str | None = None) -> None:
    """Log several metrics at one step."""
    from lakeml.entities import Metric
    from lakeml.validation import timestamp_ms

    _check_mapping(metrics, "log_metrics")
    rid = _run_id(run_id)
    if timestamp is None:
        state.client().log_batch(rid, metrics=metrics, step=step)
        return
    ts = timestamp_ms(timestamp)
    state.client().log_batch(rid, metrics=[Metric(k, val, ts, step or 0)
                                           for k, val in metrics.items()])


def log_param(key: str, value: Any, *, run_id: str | None = None) -> Any:
    """Log a param to the active run and return its value."""
    return state.client().log_param(_run_id(run_id), key, value)


def log_params(params: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Log several params."""
    _check_mapping(params, "log_params")
    state.client().log_batch(_run_id(run_id), params=params)


def set_tag(key: str, value: Any, *, run_id: str | None = None) -> None:
    """Set a tag on the active run."""
    state.client().set_tag(_run_id(run_id), key, value)


def set_tags(tags: Mapping[str, Any], *, run_id: str | None = None) -> None:
    """Set several tags."""
    _check_mapping(tags, "set_tags")
    state.client().log_batch(_run_id(run_id), tags=tags)


def delete_tag(key: str, *, run_id: str | None = None) -> None:
    """Delete a tag from the active run."""
    state.client().delete_tag(_run_id(run_id), key)


def log_input(dataset: Dataset, context: str | None = None, *,
              run_id: str | None = None) -> None:
    """Record a dataset the active run used (see ``lakeml.data.from_pandas``)."""
    state.client().log_inputs(_run_id(run_id), [DatasetInput(dataset, context)])


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None, *,
                 run_id: str | None = None) -> None:
    """Copy a local file into the active run's artifacts."""
    state.client().log_artifact(_run_id(run_id), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None, *,
                  run_id: str | None = None) -> None:
    """Copy a local folder into the active run's artifacts."""
    state.client().log_artifacts(_run_id(run_id), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, *, run_id: str | None = None) -> None:
    """Save text as an artifact of the active run."""
    state.client().log_text(_run_id(run_id), text, artifact_file)


def log_dict(dictionary: Mapping[str, Any], artifact_file: str, *,
             run_id: str | None = None) -> None:
    """Save a dict as a JSON or YAML artifact of the active run."""
    state.client().log_dict(_run_id(run_id), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, run_id: str | None = None) -> None:
    """Save a matplotlib figure as an artifact of the active run."""
    state.client().log_figure(_run_id(run_id), figure, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The artifact URI of the active run (or of ``artifact_path`` under it)."""
    run = active_run()
    if run is None:
        raise InvalidState("no active run; start one with lakeml.start_run()")
    return state.client().get_artifact_uri(run.info.run_id, artifact_path)


def get_run(run_id: str) -> Run:
    """The run with id ``run_id``."""
    return state.client().get_run(run_id)


def register_model(model_uri: str, name: str, tags: dict[str, Any] | None = None
                   ) -> ModelVersion:
    """Register the model at ``model_uri`` as the next version of ``name`` (created if new).

    Example:
        >>> mv = lakeml.register_model(f"runs:/{run_id}/model", "churn")  # doctest: +SKIP
        >>> lakeml.pyfunc.load_model(f"models:/churn/{mv.version}")         # doctest: +SKIP
    """
    return state.client().register_model(model_uri, name, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with id ``experiment_id``."""
    return state.client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment named ``name``, or None."""
    return state.client().get_experiment_by_name(name)


def create_experiment(name: str, artifact_location: str | None = None,
                      tags: Mapping[str, Any] | None = None) -> str:
    """Create an experiment; returns its id."""
    return state.client().create_experiment(name, artifact_location, tags)


def delete_experiment(experiment_id: str) -> None:
    """Soft-delete an experiment."""
    state.client().delete_experiment(experiment_id)


def flush() -> None:
    """Commit everything logged so far in this process."""
    if state._client is not None:
        state._client.flush()


def sql(query: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
        as_of: Any = None) -> Any:
    """SQL over the current store's views; a DuckDB relation (see ``Client.sql``)."""
    return state.client().sql(query, params, as_of=as_of)


def store_versions() -> dict[str, int]:
    """The current Delta version of every table of the current store."""
    return state.client().store_versions()


def search_runs(experiment_ids: Sequence[str] | None = None, filter_string: str = "",
                run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                max_results: int | None = SEARCH_MAX_RESULTS, order_by: Sequence[str] | None = None,
                output_format: str = "pandas", search_all_experiments: bool = False,
                experiment_names: Sequence[str] | None = None) -> Any:
    """Search runs with MLflow's filter grammar; a wide table with MLflow's columns.

    ``output_format``: "pandas" (default), "arrow", "polars", or "list" (Run
    objects). Without experiment ids or names, searches the active experiment
    (or every experiment with ``search_all_experiments=True``).

    Example:
        >>> lakeml.search_runs(filter_string="metrics.m0 < 0.1 and params.p1 = 'a'",
        ...                    order_by=["metrics.m0 ASC"], max_results=10)  # doctest: +SKIP
    """
    if not isinstance(output_format, str) or \
            output_format not in ("pandas", "arrow", "polars", "list"):
        raise InvalidArgument(f"output_format must be 'pandas', 'arrow', 'polars' or 'list', "
                              f"got {output_format!r}")
    from lakeml.tracking.search import check_max_results

    max_results = check_max_results(max_results, default=SEARCH_MAX_RESULTS, limit=None)
    client = state.client()
    ids = arguments.string_list(experiment_ids, "experiment_ids", ints=True)
    names_given = bool(experiment_names) if isinstance(experiment_names, (list, tuple)) \
        else experiment_names is not None
    names = arguments.string_list(  # a None entry names nothing, as in MLflow
        [n for n in experiment_names if n is not None]
        if isinstance(experiment_names, (list, tuple)) else experiment_names,
        "experiment_names")
    for name in names:
        exp = client.get_experiment_by_name(name)
        if exp is not None:  # unknown names are left out, as MLflow does
            ids.append(exp.experiment_id)
    if not ids and not names_given:  # (names given, all unknown: no run, as in MLflow)
        if search_all_experiments:
            from lakeml.tracking.experiments import every_experiment

            ids = [e.experiment_id for e in every_experiment(client, ViewType.ALL)]
        else:
            ids = [_current_experiment_id()]
    if output_format == "list":
        runs, token = [], None
        while len(runs) < max_results:
            page = client.search_runs(ids, filter_string, run_view_type,
                                      min(1000, max_results - len(runs)), order_by, token)
            runs += page
            token = page.token
            if token is None:
                break
        return runs
    if output_format == "pandas":
        return client.search_runs_frame(ids, filter_string, run_view_type, max_results,
                                        order_by)
    table = client.search_runs_table(ids, filter_string, run_view_type, max_results, order_by)
    return _as_format(table, output_format)


def _as_format(table: Any, output_format: str) -> Any:
    if output_format == "arrow":
        return table
    import polars as pl

    return pl.from_arrow(table)
