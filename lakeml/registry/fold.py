"""One registered model's events folded into its current state, in Python.

Point reads (a version, an alias, the latest per stage) fetch the few events
of one model through an index and fold them here: a millisecond at a million
versions, where folding the whole log in SQL takes a fraction of a second.
The rules are exactly those of the views in sql/views/ (registered_models,
model_versions, model_aliases, …); test_fold_matches_the_sql_views in
tests/registry/test_bulk_and_fold.py checks that both agree on a random history.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from lakeml.entities.model_version import (
    Comment,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)

# The columns model_events() returns, in order.
EVENT_COLUMNS = ("seq", "timestamp", "user_id", "action", "name", "version", "key", "value",
                 "from_value", "to_value", "description", "source", "storage_location",
                 "run_id", "comment")
_RESOLUTIONS = {"approve_request": "APPROVED", "reject_request": "REJECTED",
                "cancel_request": "CANCELLED"}


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_ms(ts: Any) -> int | None:
    """A timestamp as epoch milliseconds, rounded to the nearest as DuckDB's epoch_ms does."""
    if ts is None or isinstance(ts, int):
        return ts
    return ((ts - _EPOCH) // timedelta(microseconds=1) + 500) // 1000


@dataclass
class VersionState:
    """A version as its events leave it."""

    version: int
    created: int | None = None
    updated: int = 0
    stage: str | None = None
    description: str | None = None
    source: str | None = None
    storage_location: str | None = None
    run_id: str | None = None
    user_id: str | None = None
    deleted: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.created is not None and not self.deleted


@dataclass
class ModelState:
    """A registered model as its events leave it (``live`` unless deleted or never created)."""

    model_id: str
    name: str | None = None
    description: str | None = None
    created: int | None = None
    updated: int = 0
    deleted: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, VersionState] = field(default_factory=dict)
    requests: dict[str, TransitionRequest] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    last_version: int = 0  # highest number ever created, deleted ones included
    last_seq: int = 0  # seq of the last event folded in

    @property
    def live(self) -> bool:
        return self.created is not None and not self.deleted

    def live_versions(self) -> list[VersionState]:
        return [v for _, v in sorted(self.versions.items()) if v.live]

    # ---- entities -------------------------------------------------------------------
    def model_version(self, number: int) -> ModelVersion:
        v = self.versions[number]
        aliases = sorted(a for a, n in self.aliases.items() if n == number)
        return ModelVersion(self.name or "", v.version, v.stage or "None", v.source or "",
                            v.storage_location or "", v.run_id, "READY", v.user_id,
                            v.created or 0, v.updated, v.description, dict(v.tags), aliases)

    def latest(self, stages: Sequence[str]) -> list[ModelVersion]:
        """The newest live version in each of ``stages``, by version number."""
        best: dict[str, int] = {}
        for v in self.live_versions():
            if v.stage in stages:
                best[v.stage] = v.version
        return [self.model_version(n) for n in sorted(best.values())]

    def registered_model(self, stages: Sequence[str]) -> RegisteredModel:
        return RegisteredModel(self.name or "", self.created or 0, self.updated,
                               self.description, dict(sorted(self.tags.items())),
                               dict(sorted(self.aliases.items())), self.latest(stages))


def fold(model_id: str, events: Sequence[tuple], start: ModelState | None = None
         ) -> ModelState:
    """The state of model ``model_id`` after ``events`` (rows of EVENT_COLUMNS by seq).

    With ``start``, the events continue from that state; ``start`` itself is
    left unchanged (another thread may be reading it), parts are copied on write.
    """
    m = ModelState(model_id) if start is None else replace(
        start, tags=dict(start.tags), aliases=dict(start.aliases),
        versions=dict(start.versions), requests=dict(start.requests),
        comments=list(start.comments))
    copied: set[int] = set()

    def version_state(number: int) -> VersionState:
        v = m.versions.get(number)
        if v is None:
            v = m.versions[number] = VersionState(number)
        elif number not in copied:
            v = m.versions[number] = replace(v, tags=dict(v.tags))
        copied.add(number)
        return v

    for (seq, ts, user, action, name, version, key, value, _from, to, description, source,
         location, run_id, comment) in events:
        when = to_ms(ts)
        m.updated = max(m.updated, when)
        if action in ("create_model", "rename_model"):
            m.name = name
            if action == "create_model":
                m.created = when if m.created is None else min(m.created, when)
                m.description = description
        elif action == "update_model":
            m.description = description
        elif action == "delete_model":
            m.deleted = True
        elif action == "set_model_tag":
            m.tags[key] = value
        elif action == "delete_model_tag":
            m.tags.pop(key, None)
        elif action == "set_alias":
            m.aliases[key] = version
        elif action == "delete_alias":
            m.aliases.pop(key, None)
        elif action in ("create_version", "update_version", "delete_version",
                        "transition_stage"):
            v = version_state(version)
            v.updated = max(v.updated, when)
            if action == "create_version":
                v.created, v.stage, v.description = when, to, description
                v.source, v.storage_location, v.run_id, v.user_id = source, location, run_id, user
                m.last_version = max(m.last_version, version)
            elif action == "update_version":
                v.description = description
            elif action == "delete_version":
                v.deleted = True
            else:
                v.stage = to
        elif action == "set_version_tag":
            version_state(version).tags[key] = value
        elif action == "delete_version_tag":
            version_state(version).tags.pop(key, None)
        elif action == "request_transition":
            m.requests[key] = TransitionRequest(key, "", version, to, user, when, comment,
                                                "PENDING")
        elif action in _RESOLUTIONS and key in m.requests:
            r = m.requests[key]
            m.requests[key] = TransitionRequest(r.request_id, "", r.version, r.stage,
                                                r.requested_by, r.requested_at, r.comment,
                                                _RESOLUTIONS[action], user, when, comment)
        elif action == "comment":
            m.comments.append(Comment(key, "", version, comment, user, when))
        m.last_seq = seq
    return m
