"""Importing MLflow experiments with their ids, names, times, lifecycle and tags.

A new experiment claims its name under the same guard as
``create_experiment`` (so a racing creation of the same name cannot slip in)
and keeps MLflow's id, so every run lands in the experiment it had. Its
artifacts move to the store's artifact root (``<store>/artifacts/<id>``).
An experiment lakeml already has under the same id and name (a re-import,
or "Default", id 0, in both) gets only a lifecycle change, MLflow's creation
time if earlier, and the tags it lacks. The same name under another id, or
the same id under another name, is a conflict: refused, naming both, before
any run is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.entities import ViewType
from lakeml.errors import AlreadyExists, CommitConflict, NotFound
from lakeml.tracking.experiments import name_guard

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.entities import Experiment
    from lakeml.migrate.source import ExperimentRecord


def existing_experiments(client: Client) -> dict[str, Experiment]:
    found: dict[str, Experiment] = {}
    token = None
    while True:
        page = client.search_experiments(ViewType.ALL, max_results=1000, page_token=token)
        found.update((e.experiment_id, e) for e in page)
        token = page.token
        if not token:
            return found


def check_conflicts(client: Client, records: list[ExperimentRecord]) -> None:
    """Raise AlreadyExists if an MLflow experiment's id or name is taken in lakeml by
    another experiment."""
    have = existing_experiments(client)
    by_name = {e.name: e for e in have.values()}
    for rec in records:
        same_id = have.get(rec.experiment_id)
        same_name = by_name.get(rec.name)
        if same_id is not None and same_id.name != rec.name:
            raise AlreadyExists(f"cannot import MLflow experiment {rec.name!r} (id "
                                f"{rec.experiment_id}): lakeml's experiment "
                                f"{rec.experiment_id} is named {same_id.name!r}")
        if same_name is not None and same_name.experiment_id != rec.experiment_id:
            raise AlreadyExists(f"cannot import MLflow experiment {rec.name!r} (id "
                                f"{rec.experiment_id}): lakeml already has an experiment of "
                                f"that name with id {same_name.experiment_id}; rename one")


def import_experiments(client: Client, records: list[ExperimentRecord]) -> tuple[int, dict]:
    """Create or bring level every experiment; returns (how many were created, experiment
    id -> its artifact location in lakeml)."""
    check_conflicts(client, records)
    store = client.store
    have = existing_experiments(client)
    created = 0
    tag_rows = []
    for rec in records:
        exp = have.get(rec.experiment_id)
        if exp is None:
            _create(client, rec)
            created += 1
            current_tags: dict[str, str] = {}
        else:
            current_tags = dict(exp.tags)
            # MLflow's creation time when it is earlier ("Default", made by both): the
            # experiments view keeps the smallest
            earlier = rec.creation_time is not None and (
                exp.creation_time is None or rec.creation_time < exp.creation_time)
            if exp.lifecycle_stage != rec.lifecycle_stage or earlier:
                store.commit("experiments", store.rows.to_arrow("experiments", [
                    store.rows.experiments(experiment_id=rec.experiment_id,
                                           lifecycle_stage=rec.lifecycle_stage,
                                           creation_time=_us(rec.creation_time),
                                           last_update_time=_us(rec.last_update_time),
                                           seq=store.clock.next())]))
        stamp = _us(rec.last_update_time or rec.creation_time) or 0
        tag_rows += [store.rows.experiment_tags(experiment_id=rec.experiment_id, key=k,
                                                value=v, deleted=False, timestamp=stamp,
                                                seq=store.clock.next())
                     for k, v in sorted(rec.tags.items()) if current_tags.get(k) != v]
    if tag_rows:
        store.commit("experiment_tags", store.rows.to_arrow("experiment_tags", tag_rows))
    locations = {e.experiment_id: e.artifact_location
                 for e in existing_experiments(client).values()}
    return created, locations


def _us(ms: int | None) -> int | None:
    return None if ms is None else int(ms) * 1000


def _create(client: Client, rec: ExperimentRecord) -> None:
    store = client.store
    row = store.rows.experiments(
        experiment_id=rec.experiment_id, name=rec.name,
        artifact_location=f"{store.artifact_root}/{rec.experiment_id}",
        lifecycle_stage=rec.lifecycle_stage, creation_time=_us(rec.creation_time),
        last_update_time=_us(rec.last_update_time or rec.creation_time),
        seq=store.clock.next())
    data = store.rows.to_arrow("experiments", [row])
    guard = name_guard(rec.name)
    for _ in range(50):
        version, read_at = store.read_guard("experiments", guard)
        try:
            found = client.get_experiment_by_name(rec.name)
        except NotFound:
            found = None
        if found is not None:
            raise AlreadyExists(f"cannot import MLflow experiment {rec.name!r}: lakeml got an "
                                f"experiment of that name (id {found.experiment_id}) meanwhile")
        try:
            store.commit("experiments", data, guard=guard, guard_version=version + 1,
                         read_version=read_at)
            return
        except CommitConflict:
            continue
    raise CommitConflict(f"could not claim experiment name {rec.name!r} after 50 attempts")
