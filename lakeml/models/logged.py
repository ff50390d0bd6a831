"""MLflow 3's logged models: a model with an id, created before its files exist.

MLflow's client logs a model in steps: it creates the model (PENDING) and learns where
to upload it, uploads the folder, then finalizes it READY (or FAILED). Each change is
one row of ``logged_model_states`` holding the model's whole state; the latest row
(highest ``seq``) of a model id is its current state, so every server worker reads the
same thing from the table.

Where the files go: a model with a source run and a name that is free in that run
lives at ``<run artifacts>/<name>`` -- exactly where ``lakeml.<flavor>.log_model``
puts a model -- so ``runs:/<run_id>/<name>`` finds it in lakeml and in MLflow alike.
Otherwise (no run, or the name is taken) it lives at ``<experiment artifact
location>/models/<model_id>/artifacts``, MLflow's own layout. Finalizing a model READY
also appends its lineage row to ``logged_models``, as lakeml's ``log_model`` does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from lakeml.errors import Deleted, InvalidArgument, NotFound
from lakeml.times import now_us
from lakeml.uris import MLMODEL, clean_relative

if TYPE_CHECKING:
    from lakeml.client import Client

PENDING, READY, FAILED = "PENDING", "READY", "FAILED"
STATUSES = (PENDING, READY, FAILED)
TABLE = "logged_model_states"
_COLUMNS = ("model_id, experiment_id, name, source_run_id, model_type, artifact_location, "
            "status, status_message, tags, params, deleted, creation_time, timestamp")


@dataclass(frozen=True)
class LoggedModelState:
    """One logged model as it stands now. Times are epoch milliseconds, as in MLflow."""

    model_id: str
    experiment_id: str
    name: str
    source_run_id: str | None
    model_type: str | None
    artifact_location: str  # where its files are (a local path or a scheme:// URI)
    status: str
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    deleted: bool = False
    creation_time: int = 0
    last_updated_time: int = 0


def new_model_id() -> str:
    """An id in MLflow's form, ``m-`` and 32 hex digits."""
    return f"m-{uuid.uuid4().hex}"


def _text_map(values: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    out = {}
    for key, value in (values or {}).items():
        if not isinstance(key, str) or not key:
            raise InvalidArgument(f"logged model {what} keys must be non-empty strings, got "
                                  f"{key!r}")
        out[key] = "" if value is None else str(value)
    return out


def create(client: Client, experiment_id: str, *, name: str | None = None,
           source_run_id: str | None = None, model_type: str | None = None,
           tags: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None
           ) -> LoggedModelState:
    """Create a PENDING logged model in ``experiment_id`` and decide where its files go."""
    experiment = client.get_experiment(experiment_id)  # NotFound names an unknown one
    if experiment.lifecycle_stage != "active":
        raise Deleted(f"experiment {experiment_id!r} is deleted; restore it first")
    if name is None or name == "":
        from lakeml.tracking.names import generate_run_name

        name = generate_run_name()
    path = clean_relative(name, "logged model name")
    if not path:
        raise InvalidArgument(f"logged model name must be a relative path, got {name!r}")
    model_id = new_model_id()
    location = None
    if source_run_id:
        run = client.get_run(source_run_id)
        if run.info.experiment_id != experiment.experiment_id:
            raise InvalidArgument(f"run {source_run_id!r} belongs to experiment "
                                  f"{run.info.experiment_id!r}, not {experiment_id!r}")
        if not _taken(client, source_run_id, path):
            location = f"{run.info.artifact_uri}/{path}"
    if location is None:
        location = f"{experiment.artifact_location}/models/{model_id}/artifacts"
    now = now_us()
    state = LoggedModelState(model_id, experiment.experiment_id, name, source_run_id or None,
                             model_type or None, location, PENDING,
                             tags=_text_map(tags, "tag"), params=_text_map(params, "param"),
                             creation_time=now // 1000, last_updated_time=now // 1000)
    _append(client, state, now)
    return state


def _taken(client: Client, run_id: str, path: str) -> bool:
    """Whether run ``run_id`` already holds a model (or a logged model claims) at ``path``."""
    if any(info.path == f"{path}/{MLMODEL}" for info in client.list_artifacts(run_id, path)):
        return True
    rows = client.sql(f"SELECT count(*) FROM ({_LATEST}) WHERE source_run_id = ? AND "
                      "name = ? AND NOT deleted", [run_id, path]).fetchall()
    return bool(rows[0][0])


def _append(client: Client, state: LoggedModelState, now: int) -> None:
    store = client.store
    store.append(TABLE, store.rows.logged_model_states(
        model_id=state.model_id, experiment_id=state.experiment_id, name=state.name,
        source_run_id=state.source_run_id, model_type=state.model_type,
        artifact_location=state.artifact_location, status=state.status,
        status_message=state.status_message, tags=state.tags, params=state.params,
        deleted=state.deleted,
        creation_time=state.creation_time * 1000, timestamp=now, seq=store.clock.next()))


def _state(row: tuple[Any, ...]) -> LoggedModelState:
    (model_id, experiment_id, name, run_id, model_type, location, status, message, tags,
     params, deleted, created, updated) = row
    return LoggedModelState(model_id, experiment_id, name, run_id, model_type, location, status,
                            message, dict(tags or {}), dict(params or {}),
                            bool(deleted), _ms(created), _ms(updated))


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if value is not None else 0


_LATEST = (f"SELECT {_COLUMNS} FROM lake_{TABLE} QUALIFY row_number() OVER "
           "(PARTITION BY model_id ORDER BY seq DESC) = 1")


def _current(client: Client, where: str, params: list[Any]) -> list[LoggedModelState]:
    query = (f"SELECT * FROM ({_LATEST}) AS m WHERE {where} "
             "ORDER BY creation_time DESC, model_id")
    return [_state(row) for row in client.sql(query, params).fetchall()]


def get(client: Client, model_id: str, *, allow_deleted: bool = False) -> LoggedModelState:
    """The logged model ``model_id``; NotFound if there is none (or it was deleted)."""
    if not isinstance(model_id, str) or not model_id:
        raise InvalidArgument(f"model_id must be a non-empty string, got {model_id!r}")
    found = _current(client, "model_id = ?", [model_id])
    if not found or (found[0].deleted and not allow_deleted):
        raise NotFound(f"Logged model with ID '{model_id}' not found.")
    return found[0]


def search(client: Client, experiment_ids: Sequence[str], filter_string: str | None = None,
           order_by: Sequence[Any] | None = None) -> list[LoggedModelState]:
    """The live logged models of ``experiment_ids`` that pass MLflow's logged-model
    ``filter_string`` (see :mod:`lakeml.search.logged_model_filter`), newest first unless
    ``order_by`` (MLflow's ``{field_name, ascending}`` entries) says otherwise."""
    from lakeml.search.logged_model_filter import (
        compile_logged_model_filter,
        compile_logged_model_order,
    )

    ids = [str(e) for e in experiment_ids]
    test = compile_logged_model_filter(filter_string)
    query = (f"WITH m AS (SELECT * FROM ({_LATEST}) WHERE NOT deleted AND "
             "list_contains(?, experiment_id)), "
             "model_tags AS (SELECT m.model_id, e.key, e.value FROM m, "
             "unnest(map_entries(m.tags)) AS u(e)) "
             f"SELECT {_COLUMNS} FROM m WHERE {test.sql} "
             f"ORDER BY {compile_logged_model_order(order_by)}")
    return [_state(row) for row in client.sql(query, [ids, *test.params]).fetchall()]


def update(client: Client, model_id: str, **changes: Any) -> LoggedModelState:
    """Append the model's new state: its current one with ``changes`` applied."""
    state = replace(get(client, model_id), **changes)
    now = now_us()
    state = replace(state, last_updated_time=now // 1000)
    _append(client, state, now)
    return state


def finalize(client: Client, model_id: str, status: str) -> LoggedModelState:
    """Set the model READY or FAILED; a model READY gets its ``logged_models`` lineage row."""
    if status not in STATUSES:
        raise InvalidArgument(f"logged model status must be one of {list(STATUSES)}, got "
                              f"{status!r}")
    was = get(client, model_id).status
    state = update(client, model_id, status=status)
    if status == READY and was != READY and state.source_run_id:  # one lineage row a model
        _record_lineage(client, state)
    return state


def _record_lineage(client: Client, state: LoggedModelState) -> None:
    """The model's row in ``logged_models``, read from the MLmodel it uploaded (none if it
    uploaded no MLmodel: then it is no model folder lakeml could load)."""
    from lakeml.models.lineage import record_logged_model

    run_root = client.get_artifact_uri(state.source_run_id)
    if not state.artifact_location.startswith(run_root + "/"):
        return  # kept in MLflow's layout: runs:/ does not reach it, so no runs:/ lineage
    path = state.artifact_location[len(run_root) + 1:]
    try:
        record_logged_model(client, state.source_run_id, path, model_uuid=state.model_id)
    except NotFound:
        return


def set_tags(client: Client, model_id: str, tags: Mapping[str, Any]) -> LoggedModelState:
    current = get(client, model_id)
    return update(client, model_id, tags={**current.tags, **_text_map(tags, "tag")})


def delete_tag(client: Client, model_id: str, key: str) -> LoggedModelState:
    current = get(client, model_id)
    if key not in current.tags:
        raise NotFound(f"logged model {model_id!r} has no tag {key!r}")
    return update(client, model_id, tags={k: v for k, v in current.tags.items() if k != key})


def log_params(client: Client, model_id: str, params: Mapping[str, Any]) -> LoggedModelState:
    current = get(client, model_id)
    return update(client, model_id, params={**current.params, **_text_map(params, "param")})


def delete(client: Client, model_id: str) -> None:
    update(client, model_id, deleted=True)
