"""Importing MLflow's model registry as events of lakeml's registry log.

Each MLflow registered model becomes the events that would have made it:
``create_model``, ``set_model_tag``, ``create_version`` (with MLflow's number,
creator, time, description, source and run), ``transition_stage`` to its
stage, ``set_version_tag`` and ``set_alias``, stamped with MLflow's times so
the registry's history and time travel read as in MLflow. A model lakeml
already has (a re-import) gets only the events that bring it level: missing
versions, a changed stage, description, tag or alias. Everything commits as
one append under the registry's guard, conflict-checked like every registry
write, so racing writers never see half an import.

Version sources: MLflow 3 records ``models:/m-<model id>`` (its logged model);
lakeml has no such URI, so the importer gives ``source_map`` the chance to
turn it (and each storage location) into where the model now lives in lakeml
(``runs:/<run id>/<name>`` and the copied folder).
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any, Callable

from lakeml.errors import CommitConflict
from lakeml.registry.base import GUARD, TABLE

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.client import Client
    from lakeml.migrate.source import RegisteredModelRecord, VersionRecord

SourceMap = Callable[["VersionRecord"], "tuple[str | None, str | None]"]


def _lakeml_state(client: Client, names: list[str]) -> dict[str, dict[str, Any]]:
    """name -> {model_id, description, tags, aliases, versions: {n: (stage, description,
    tags)}} of the live lakeml models among ``names``."""
    engine = client.tracking.engine
    state: dict[str, dict[str, Any]] = {}
    if not names:
        return state
    tables = ["registry_log"]
    for model_id, name, description in engine.rows(
            "SELECT model_id, name, description FROM registered_models WHERE name IN "
            "(SELECT unnest(?::VARCHAR[]))", [names], tables=tables):
        state[name] = {"model_id": model_id, "description": description, "tags": {},
                       "aliases": {}, "versions": {}}
    ids = [s["model_id"] for s in state.values()]
    by_id = {s["model_id"]: s for s in state.values()}
    where = "WHERE model_id IN (SELECT unnest(?::VARCHAR[]))"
    for model_id, key, value in engine.rows(
            f"SELECT model_id, key, value FROM registered_model_tags {where}", [ids],
            tables=tables):
        by_id[model_id]["tags"][key] = value
    for model_id, alias, version in engine.rows(
            f"SELECT model_id, alias, version FROM model_aliases {where}", [ids], tables=tables):
        by_id[model_id]["aliases"][alias] = version
    for model_id, version, stage, description in engine.rows(
            f"SELECT model_id, version, current_stage, description FROM model_versions {where}",
            [ids], tables=tables):
        by_id[model_id]["versions"][version] = [stage, description, {}]
    for model_id, version, key, value in engine.rows(
            f"SELECT model_id, version, key, value FROM model_version_tags {where}", [ids],
            tables=tables):
        found = by_id[model_id]["versions"].get(version)
        if found is not None:
            found[2][key] = value
    return state


def _events(model: RegisteredModelRecord, have: dict[str, Any] | None, source_map: SourceMap,
            new_id: Callable[[], str]) -> list[dict[str, Any]]:
    """The registry events that bring lakeml's copy of ``model`` level with MLflow's."""
    created = model.creation_time or 0
    updated = model.last_updated_time or created
    model_id = have["model_id"] if have else new_id()
    base = {"model_id": model_id, "name": model.name}
    events: list[dict[str, Any]] = []
    if have is None:
        events.append({**base, "action": "create_model", "ms": created,
                       "description": model.description})
        have = {"description": model.description, "tags": {}, "aliases": {}, "versions": {}}
    elif (have["description"] or None) != (model.description or None):
        events.append({**base, "action": "update_model", "ms": updated,
                       "description": model.description})
    for key, value in sorted(model.tags.items()):
        if have["tags"].get(key) != value:
            events.append({**base, "action": "set_model_tag", "ms": updated, "key": key,
                           "value": value})
    for v in model.versions:
        v_created = v.creation_time or created
        v_updated = v.last_updated_time or v_created
        current = have["versions"].get(v.version)
        if current is None:
            source, location = source_map(v)
            events.append({**base, "action": "create_version", "ms": v_created,
                           "version": v.version, "to_value": "None", "user_id": v.user_id,
                           "description": v.description, "source": source,
                           "storage_location": location, "run_id": v.run_id})
            current = ["None", v.description, {}]
        elif (current[1] or None) != (v.description or None):
            events.append({**base, "action": "update_version", "ms": v_updated,
                           "version": v.version, "description": v.description})
        if current[0] != v.stage:
            events.append({**base, "action": "transition_stage", "ms": v_updated,
                           "version": v.version, "from_value": current[0], "to_value": v.stage})
        for key, value in sorted(v.tags.items()):
            if current[2].get(key) != value:
                events.append({**base, "action": "set_version_tag", "ms": v_updated,
                               "version": v.version, "key": key, "value": value})
    for alias, version in sorted(model.aliases.items()):
        if have["aliases"].get(alias) != version:
            events.append({**base, "action": "set_alias", "ms": updated, "key": alias,
                           "version": version, "to_value": str(version)})
    return events


def _rows(client: Client, events: list[dict[str, Any]], first_seq: int) -> pa.Table:
    from lakeml.config import current_user

    store = client.store
    user = current_user()
    rows = []
    for i, e in enumerate(events):
        # a version keeps MLflow's creator (None if MLflow has none); other events are
        # the importing user's
        fields = {k: v for k, v in e.items() if k not in ("ms", "user_id")}
        rows.append(store.rows.registry_log(
            **fields, seq=first_seq + i, timestamp=e["ms"] * 1000,
            user_id=e["user_id"] if "user_id" in e else user, outcome="applied"))
    return store.rows.to_arrow("registry_log", rows)


def import_registry(client: Client, models: list[RegisteredModelRecord],
                    source_map: SourceMap) -> dict[str, int]:
    """Bring lakeml's registry level with ``models``; returns counts of what was added."""
    from lakeml import ids

    store = client.store
    for _attempt in range(50):
        guard_version, read_at = store.read_guard(TABLE, GUARD)
        have = _lakeml_state(client, [m.name for m in models])
        events = [e for m in models
                  for e in _events(m, have.get(m.name), source_map, ids.uuid7_hex)]
        counts = {"registered_models": sum(e["action"] == "create_model" for e in events),
                  "model_versions": sum(e["action"] == "create_version" for e in events),
                  "registry_events": len(events)}
        if not events:
            return counts
        last_seq = client.tracking.engine.rows("SELECT coalesce(max(seq), 0) FROM "
                                               "lake_registry_log", tables=[TABLE])[0][0]
        first = max(store.clock.next(), guard_version + 1, last_seq + 1)
        try:
            store.commit(TABLE, _rows(client, events, first), guard=GUARD,
                         guard_version=first, read_version=read_at)
        except CommitConflict:
            time.sleep(random.uniform(0, 0.05))
            continue
        store.maintenance.note_commit(TABLE)
        return counts
    raise CommitConflict("the registry import lost 50 races with other registry writers; "
                         "run it again (it continues where it stopped)")
