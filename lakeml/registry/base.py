"""What every part of the lake registry shares: the mirror, guarded writes, permission
checks, and the tracking service of the same store (for ``runs:/`` sources).

Every change is a list of events committed in one Delta commit under the app
transaction ``lakeml.registry``. A commit that another guarded commit beat
fails and is retried from a fresh read, so registry writes are serializable
(across threads, processes and machines): each one validates against the
state it extends. That is what makes version
numbers 1, 2, 3… unique with no gaps when processes race, and what keeps two
reviewers from both resolving one request.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Protocol

from lakeml.arguments import utf8_text
from lakeml.errors import CommitConflict, InvalidArgument, NotFound, PermissionDenied
from lakeml.registry.fold import EVENT_COLUMNS, ModelState, fold
from lakeml.registry.permissions import Policy, current_policy
from lakeml.times import now_us

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from lakeml.query import QueryEngine
    from lakeml.query.registry_state import RegistryState
    from lakeml.store import Store

log = logging.getLogger(__name__)

GUARD = "lakeml.registry"
TABLE = "registry_log"
MAX_ATTEMPTS = 200
# How a PermissionDenied message words each action: "user 'x' may not <verb> <target>".
_VERBS = {
    "create_model": "create", "rename_model": "rename", "update_model": "describe",
    "delete_model": "delete", "set_model_tag": "tag", "delete_model_tag": "untag",
    "create_version": "register a version of", "update_version": "describe",
    "delete_version": "delete", "set_version_tag": "tag", "delete_version_tag": "untag",
    "transition_stage": "move", "set_alias": "set an alias of",
    "delete_alias": "delete an alias of", "request_transition": "request a transition of",
    "approve_request": "approve", "reject_request": "reject", "cancel_request": "cancel",
}
_NAME_FORBIDDEN = re.compile(r"[/@:\x00-\x1f\x7f-\x9f]")
_ALIAS_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,254}")
_RESERVED_ALIAS = re.compile(r"(latest|v[0-9]+)", re.IGNORECASE)


def check_model_name(name: object) -> str:
    """A registered model name: non-empty, <= 256 characters, without ``/ @ :``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"registered model name must be a non-empty string, got {name!r}")
    if len(name) > 256 or _NAME_FORBIDDEN.search(name) or name != name.strip():
        raise InvalidArgument(f"invalid registered model name {name!r}: at most 256 "
                              "characters, no '/', '@', ':' or control characters, and no "
                              "leading or trailing spaces (they would break models:/ URIs)")
    return utf8_text(name, "registered model name")


def check_version(version: object) -> int:
    """A version number: a positive integer (or its decimal string)."""
    try:
        number = int(str(version).strip()) if not isinstance(version, bool) else None
    except ValueError:
        number = None
    if number is None or number < 1:
        raise InvalidArgument(f"model version must be a positive integer, got {version!r}")
    return number


def check_alias(alias: object) -> str:
    """An alias: a letter or underscore then letters, digits, ``_`` or ``-``; not latest/vN."""
    if not isinstance(alias, str) or not _ALIAS_RE.fullmatch(alias):
        raise InvalidArgument(f"invalid alias {alias!r}: start with a letter or underscore, "
                              "then letters, digits, '_' or '-' (at most 255)")
    if _RESERVED_ALIAS.fullmatch(alias):
        raise InvalidArgument(f"alias {alias!r} is reserved: 'latest' and 'v<number>' "
                              "already mean something in models:/ URIs")
    return alias


def check_text(value: object, what: str) -> str | None:
    """A description or comment: a string, or None."""
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string, got {type(value).__name__} {value!r}")
    return value if value is None else utf8_text(value, what)


@dataclass
class Event:
    """One row of the registry log, before it gets its seq and time."""

    action: str
    model_id: str
    name: str | None
    version: int | None = None
    key: str | None = None
    value: str | None = None
    from_value: str | None = None
    to_value: str | None = None
    description: str | None = None
    source: str | None = None
    storage_location: str | None = None
    run_id: str | None = None
    comment: str | None = None


class LakeRuns(Protocol):
    """What the lake registry takes from the tracking service of its store.

    The registry sits beside tracking, not above it, so it names here the part it
    uses of :class:`lakeml.services.TrackingService` (the store, a run's artifact
    location for ``runs:/`` sources) and of the lake's LakeTrackingService (the
    store's query engine, which bulk registration joins to the runs view, and a
    per-store slot that keeps the registry's mirror once per process).
    """

    @property
    def store(self) -> Store: ...

    @property
    def store_uri(self) -> str: ...

    @property
    def engine(self) -> QueryEngine: ...

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str: ...

    def shared(self, key: str, make: Callable[[], Any]) -> Any: ...


class RegistryBase:
    """State, writes and checks behind every part of the lake registry service.

    Each part (models, versions, review, search, bulk) is one of these over the
    same tracking service, so all of them share one mirror of the store's log.
    ``as_of`` makes a read-only view of the registry as it was then.
    """

    def __init__(self, tracking: LakeRuns, as_of: datetime | None = None) -> None:
        self._tracking = tracking
        self._store = tracking.store
        self._registry_as_of = as_of

    # ---- state ------------------------------------------------------------------
    def _registry_state(self) -> RegistryState:
        """The mirror of this store's registry log (one per store in a process)."""
        store = self._store

        def make() -> RegistryState:
            from lakeml.query.registry_state import RegistryState

            return RegistryState(store, fold, EVENT_COLUMNS)

        return self._tracking.shared("registry", make)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        return self._registry_state().cursor(self._registry_as_of)

    @staticmethod
    def _user() -> str:
        from lakeml.config import current_user

        return current_user()

    # ---- lookups ------------------------------------------------------------------
    def _fold(self, cur: duckdb.DuckDBPyConnection, model_id: str) -> ModelState:
        """The state of one model from its events (fetched through the model_id index).

        The mirror only grows, so a cached state that has seen its first ``n``
        rows is brought up to date by folding in the model's rows from ``n`` on:
        nothing at all when no commit arrived since.
        """
        columns = f"rowid, outcome, {', '.join(EVENT_COLUMNS)}"
        if self._registry_as_of is not None:
            # Only "model_id = ?" lets DuckDB use the index (another predicate makes it
            # scan every row): the rest is filtered here.
            rows = cur.execute(f"SELECT {columns} FROM reg_log WHERE model_id = ?",
                               [model_id]).fetchall()
            return fold(model_id, sorted((r[2:] for r in rows if r[1] == "applied"
                                          and r[3] <= self._registry_as_of),
                                         key=lambda r: r[0]))
        state = self._registry_state()
        n = state.rows
        cached = state.folds.get(model_id)
        if cached is not None and cached[1] == n:
            return cached[0]
        if cached is None:
            rows = cur.execute(f"SELECT {columns} FROM reg_log WHERE model_id = ?",
                               [model_id]).fetchall()
            start, last = None, -1
        else:
            rows = cur.execute(f"SELECT {columns} FROM reg_log WHERE rowid >= ? AND rowid < ? "
                               "AND model_id = ?", [cached[1], n, model_id]).fetchall()
            start, last = cached[0], cached[0].last_seq
        new = sorted((r[2:] for r in rows if r[0] < n and r[1] == "applied" and r[2] > last),
                     key=lambda r: r[0])
        folded = fold(model_id, new, start) if new or start is None else start
        state.folds.put(model_id, folded, n)
        return folded

    def _model(self, cur: duckdb.DuckDBPyConnection, name: str, *,
               missing_ok: bool = False) -> ModelState | None:
        """The live model named ``name``; NotFound (or None) if there is none."""
        name = check_model_name(name)
        for model_id in self._registry_state().model_ids_named(name):
            state = self._fold(cur, model_id)
            if state.live and state.name == name:
                return state
        if missing_ok:
            return None
        raise NotFound(f"registered model {name!r} does not exist")

    def _read(self, name: str) -> ModelState:
        """The live model named ``name``, for a read: NotFound if there is none.

        A process that has not loaded the registry log (a fresh CI or scoring job)
        reads only this model's events, from the registry snapshot and the files
        after it (see lakeml.query.registry_snapshot); otherwise, or without a usable
        snapshot, the mirror answers.
        """
        name = check_model_name(name)
        if self._registry_as_of is None:
            states = self._registry_state().point_states(name)
            if states is not None:
                for state in states:
                    if state.live and state.name == name:
                        return state
                raise NotFound(f"registered model {name!r} does not exist")
        found = self._model(self._cursor(), name)
        assert found is not None
        return found

    def _read_version(self, name: str, version: object) -> tuple[ModelState, int]:
        """The live model ``name`` and the number of its live version ``version``, for a
        read (see :meth:`_read`)."""
        state = self._read(name)
        number = check_version(version)
        found = state.versions.get(number)
        if found is None or not found.live:
            raise NotFound(f"registered model {name!r} has no version {number}")
        return state, number

    def _model_version(self, cur: duckdb.DuckDBPyConnection, name: str, version: object
                       ) -> tuple[ModelState, int]:
        """The live model ``name`` and the number of its live version ``version``."""
        state = self._model(cur, name)
        number = check_version(version)
        found = state.versions.get(number)
        if found is None or not found.live:
            raise NotFound(f"registered model {name!r} has no version {number}")
        return state, number

    # ---- writes -----------------------------------------------------------------
    def _refuse_past(self) -> None:
        if self._registry_as_of is not None:
            raise InvalidArgument(f"this registry view is as of {self._registry_as_of}: "
                                  "it is read-only")

    def _write(self, plan: Callable[[duckdb.DuckDBPyConnection], list[Event]]
               ) -> pa.Table | None:
        """Commit the events ``plan`` derives from the latest state; retry if beaten.

        Returns the rows committed (None if the plan had nothing to do).

        ``plan`` reads through the cursor it gets and raises to refuse; it is
        called again after every lost race, so it sees the winner's changes.
        """
        self._refuse_past()
        store = self._store
        state = self._registry_state()
        for attempt in range(MAX_ATTEMPTS):
            cur, read_version = state.versioned_cursor()
            events = plan(cur)
            if not events:
                return None
            data = self._rows(events, state.max_seq)
            try:
                # Any guarded commit after read_version makes this one fail: the plan
                # would have to see it. (The guard's number itself only has to grow.)
                store.commit(TABLE, data, guard=GUARD, guard_version=data["seq"][0].as_py(),
                             read_version=read_version)
            except CommitConflict:
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 25)))
                continue
            self._after_commit()
            return data  # the next read catches up with this commit
        raise CommitConflict(f"registry write lost {MAX_ATTEMPTS} races in a row; try again")

    def _after_commit(self) -> None:
        """Count the commit; compact the log once this process has added many files
        (as the batched writer does for the tracking tables)."""
        from lakeml import config
        from lakeml.store.maintenance import SMALL_FILE_BYTES  # (the store loads pyarrow)

        maintenance = self._store.maintenance
        maintenance.note_commit(TABLE)
        if not config.get("auto_maintenance"):
            return
        self._registry_state().save_soon()  # new processes read one model from it
        try:
            # Merge the small files of single changes only: rewriting the large files of
            # bulk registrations would stall this call for seconds at a million versions.
            maintenance.auto([TABLE], target_size=SMALL_FILE_BYTES)
        except Exception as exc:  # noqa: BLE001 - the change is committed; never fail it now
            log.warning("automatic compaction of %s skipped: %s", TABLE, exc)

    def _rows(self, events: list[Event], floor: int, outcome: str = "applied"):  # noqa: ANN202
        store = self._store
        now = now_us()
        first = max(store.clock.next(), floor + 1)
        user = self._user()
        return store.rows.to_arrow("registry_log", [
            store.rows.registry_log(**vars(event), seq=first + i, timestamp=now, user_id=user,
                                    outcome=outcome)
            for i, event in enumerate(events)])

    # ---- permissions ----------------------------------------------------------------
    def _policy(self) -> Policy:
        return current_policy()

    def _require(self, capability: str, event: Event, target: str,
                 stage: str | None = None) -> None:
        """Raise PermissionDenied (recorded as a denied event) unless the user may act."""
        self._refuse_past()
        policy = self._policy()
        user = self._user()
        try:
            policy.check(user, capability, _VERBS.get(event.action, event.action), target, stage)
        except PermissionDenied as exc:
            event.comment = str(exc)
            self._record_denied(event)
            raise

    def _record_denied(self, event: Event) -> None:
        """Append a denied event to the log; a failure to do so is logged, not raised
        (the PermissionDenied is what the caller must see)."""
        try:
            state = self._registry_state()
            state.refresh()
            self._store.commit(TABLE, self._rows([event], state.max_seq, outcome="denied"))
        except Exception as exc:  # noqa: BLE001
            log.warning("could not record denied %s by %s: %s", event.action, self._user(), exc)

    def record_denied(self, action: str, reason: str, *, name: str | None = None,
                      key: str | None = None, value: str | None = None,
                      from_value: str | None = None, to_value: str | None = None,
                      run_id: str | None = None) -> None:
        """Record in the audit log a denial decided outside the registry's own checks (the
        tracking server's permissions: ``action`` ``api_request``, ``key`` the route,
        ``value`` the resource, ``from_value``/``to_value`` the level held and needed)."""
        self._record_denied(Event(action, "", name, key=key, value=value,
                                  from_value=from_value, to_value=to_value, run_id=run_id,
                                  comment=reason))

    def require(self, capability: str, action: str, name: str) -> None:
        """Raise PermissionDenied, and record it, unless the acting user holds
        ``capability`` (e.g. ``register``) on model ``name``; for callers that must
        check before doing work (``log_model(registered_model_name=…)``)."""
        self._require(capability, Event(action, "", check_model_name(name)), f"model {name!r}")
