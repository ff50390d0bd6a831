"""The review workflow: transition requests, their approval or rejection, and comments.

A request names a version and a target stage; at most one request per
(version, stage) is pending at a time. Approving performs the transition in
the same commit. Under a permissions file, reviewers may not approve or
reject their own requests (admins may), and approving with
``archive_existing_versions`` also needs ``transition Archived``, as moving
the other versions directly would.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from lakeml.entities.model_version import ARCHIVED, Comment, TransitionRequest, canonical_stage
from lakeml.errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied
from lakeml.registry.base import (
    Event,
    LakeRuns,
    RegistryBase,
    check_model_name,
    check_text,
    check_version,
)
from lakeml.registry.fold import ModelState, to_ms
from lakeml.registry.versions import ModelVersionCalls, check_archive, transition_events

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb

_STATUSES = ("PENDING", "APPROVED", "REJECTED", "CANCELLED")
_REQUEST_COLUMNS = ("request_id, name, version, stage, requested_by, requested_at, comment, "
                    "status, resolved_by, resolved_at, resolution_comment")


def _pending(state: ModelState, number: int, stage: str) -> TransitionRequest | None:
    for request in state.requests.values():
        if request.version == number and request.stage == stage and request.status == "PENDING":
            return request
    return None


def _named(request: TransitionRequest, name: str) -> TransitionRequest:
    return replace(request, name=name)


class ReviewCalls(RegistryBase):
    """Transition requests and comments: a part of the lake registry service (its writes go
    through the versions part)."""

    def __init__(self, tracking: LakeRuns, as_of: datetime | None,
                 versions: ModelVersionCalls) -> None:
        super().__init__(tracking, as_of)
        self._versions = versions

    def get_transition_requests(self, name: str | None = None, version: object = None,
                                status: str | None = "PENDING") -> list[TransitionRequest]:
        """Requests (default: the pending ones) of every model, or of one model or version,
        oldest first."""
        if status is not None:
            status = str(status).upper()
            if status not in _STATUSES:
                raise InvalidArgument(f"status {status!r} is not one of {', '.join(_STATUSES)}")
        number = None if version is None else check_version(version)
        if name is None:
            if number is not None:
                raise InvalidArgument("get_transition_requests: a version needs a model name")
            cur = self._cursor()
            where, params = ("WHERE status = ?", [status]) if status else ("", [])
            rows = cur.execute(f"SELECT {_REQUEST_COLUMNS} FROM transition_requests {where} "
                               "ORDER BY requested_at, request_id", params).fetchall()
            return [TransitionRequest(*r[:5], to_ms(r[5]), *r[6:9], to_ms(r[9]), r[10])
                    for r in rows]
        state = self._read(name)
        found = [_named(r, state.name) for r in state.requests.values()
                 if (number is None or r.version == number)
                 and (status is None or r.status == status)]
        return sorted(found, key=lambda r: (r.requested_at, r.request_id))

    def request_transition(self, name: str, version: object, stage: str,
                           comment: str | None = None) -> TransitionRequest:
        """Ask reviewers to move the version into ``stage``."""
        from lakeml.ids import uuid7_hex

        stage = canonical_stage(stage)
        check_text(comment, "comment")
        request_id = uuid7_hex()

        def build(cur: duckdb.DuckDBPyConnection, state: ModelState, n: int) -> list[Event]:
            if state.versions[n].stage == stage:
                raise InvalidArgument(f"version {n} of model {name!r} is already in {stage}")
            if _pending(state, n, stage) is not None:
                raise AlreadyExists(f"a request to move version {n} of model {name!r} to "
                                    f"{stage} is already pending")
            return [Event("request_transition", state.model_id, name, version=n,
                          key=request_id, to_value=stage, comment=comment)]

        self._versions._version_write(name, version, "request", "request_transition", build,
                                      stage=stage)
        state = self._model(self._cursor(), name)
        return _named(state.requests[request_id], state.name)

    def _resolve(self, name: str, version: object, stage: str, action: str, capability: str,
                 comment: str | None, archive_existing_versions: bool = False
                 ) -> TransitionRequest:
        self._refuse_past()
        stage = canonical_stage(stage)
        name = check_model_name(name)
        check_text(comment, "comment")
        state, number = self._model_version(self._cursor(), name, version)
        pending = _pending(state, number, stage)
        if pending is None:
            raise NotFound(f"no pending request to move version {number} of model {name!r} "
                           f"to {stage}")
        user = self._user()
        target = f"the request to move version {number} of model {name!r} to {stage}"
        denied = Event(action, state.model_id, name, version=number, key=pending.request_id,
                       to_value=stage)
        if capability == "cancel":
            if pending.requested_by != user:
                self._require("admin", denied, target)
        else:
            self._require(capability, denied, target, stage)
            policy = self._policy()
            if (pending.requested_by == user and policy.path is not None
                    and not policy.allows(user, "admin")):
                exc = PermissionDenied(f"user {user!r} may not {action.split('_')[0]} "
                                       f"{target}: it is their own request (policy "
                                       f"{policy.path})")
                denied.comment = str(exc)
                self._record_denied(denied)
                raise exc
            if archive_existing_versions:  # it moves other versions too, as the direct path
                self._require("transition", Event("transition_stage", state.model_id, name,
                                                  to_value=ARCHIVED),
                              f"the other {stage} versions of model {name!r}", ARCHIVED)

        def plan(cur: duckdb.DuckDBPyConnection) -> list[Event]:
            state, n = self._model_version(cur, name, number)
            current = _pending(state, n, stage)
            if current is None or current.request_id != pending.request_id:
                raise NotFound(f"the request to move version {n} of model {name!r} to "
                               f"{stage} is no longer pending")
            events = [Event(action, state.model_id, name, version=n, key=pending.request_id,
                            to_value=stage, comment=comment)]
            if action == "approve_request":
                events += transition_events(state, n, stage, archive_existing_versions,
                                            comment or f"approved request {pending.request_id}")
            return events

        self._write(plan)
        state = self._model(self._cursor(), name)
        return _named(state.requests[pending.request_id], state.name)

    def approve_transition_request(self, name: str, version: object, stage: str,
                                   comment: str | None = None,
                                   archive_existing_versions: bool = False
                                   ) -> TransitionRequest:
        """Approve the pending request and move the version into ``stage``, in one commit."""
        check_archive(canonical_stage(stage), archive_existing_versions)
        return self._resolve(name, version, stage, "approve_request", "approve", comment,
                             archive_existing_versions)

    def reject_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Reject the pending request; the version stays where it is."""
        return self._resolve(name, version, stage, "reject_request", "approve", comment)

    def cancel_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Withdraw a pending request (its requester or an admin)."""
        return self._resolve(name, version, stage, "cancel_request", "cancel", comment)

    # ---- comments -------------------------------------------------------------------
    def create_comment(self, name: str, version: object, comment: str) -> Comment:
        """Comment on a model version (anyone may)."""
        from lakeml.ids import uuid7_hex

        if not isinstance(comment, str) or not comment.strip():
            raise InvalidArgument(f"comment must be a non-empty string, got {comment!r}")
        comment_id = uuid7_hex()
        self._versions._version_write(name, version, "comment", "comment",
                                      lambda cur, state, n: [Event(
                                          "comment", state.model_id, name, version=n,
                                          key=comment_id, comment=comment)])
        return [c for c in self.get_comments(name, version) if c.comment_id == comment_id][0]

    def get_comments(self, name: str, version: object) -> list[Comment]:
        """The comments on a version, oldest first."""
        state, number = self._read_version(name, version)
        return [replace(c, name=state.name) for c in state.comments if c.version == number]
