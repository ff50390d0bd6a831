"""Model versions: register, read, describe, tag, move between stages, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Protocol

from lakeml.entities.model_version import (
    ARCHIVED,
    ARCHIVING_STAGES,
    NONE,
    STAGES,
    ModelVersion,
    canonical_stage,
)
from lakeml.errors import InvalidArgument, NotFound
from lakeml.registry.base import (
    Event,
    LakeRuns,
    RegistryBase,
    check_model_name,
    check_text,
    check_version,
)
from lakeml.registry.fold import ModelState, to_ms
from lakeml.registry.models import tag_events

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb


class VersionLookup(Protocol):
    """The registry reads a ``models:/`` URI needs (a RegistryService, or a Client)."""

    def get_model_version(self, name: str, version: object) -> ModelVersion: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    def get_latest_versions(self, name: str, stages: Iterable[str] | None = None
                            ) -> list[ModelVersion]: ...


def resolve_models_uri(registry: VersionLookup, model_uri: str) -> ModelVersion:
    """The version a ``models:/`` URI names now in ``registry``."""
    from lakeml.uris import parse_models_uri

    name, kind, ref = parse_models_uri(model_uri, canonical_stage)
    if kind == "version":
        return registry.get_model_version(name, ref)
    if kind == "alias":
        return registry.get_model_version_by_alias(name, ref)
    found = registry.get_latest_versions(name, None if kind == "latest" else [ref])
    if not found:
        raise NotFound(f"registered model {name!r} has no version in stage {ref!r}"
                       if kind == "stage" else f"registered model {name!r} has no versions")
    return max(found, key=lambda mv: mv.version)


def resolve_source(source: str, calls: ModelVersionCalls) -> tuple[str, str | None]:
    """(storage location, run id) of a model URI given as a version's source.

    ``runs:/<run>/<path>`` resolves through the run's artifact location and
    ``models:/…`` through the registry, both in the store of ``calls`` (never the
    global one: a Client of another store registers from its own runs); the
    folder must hold an MLmodel file when it is local.
    """
    import os

    from lakeml.uris import MLMODEL, model_location, parse_runs_uri

    if not isinstance(source, str) or not source.strip():
        raise InvalidArgument(f"model source must be a non-empty URI or path, got {source!r}")
    run_id = parse_runs_uri(source)[0] if source.startswith("runs:") else None
    location = model_location(source, calls._run_location, calls._version_location)
    if "://" not in location:
        location = os.path.abspath(os.path.expanduser(location))
        if not os.path.isfile(os.path.join(location, MLMODEL)):
            raise NotFound(f"no model at {source!r}: {location} has no {MLMODEL} file")
    return location, run_id


class ModelVersionCalls(RegistryBase):
    """Model versions: a part of the lake registry service. ``registry`` (the whole
    service) answers the ``models:/`` URIs given as sources."""

    def __init__(self, tracking: LakeRuns, as_of: datetime | None,
                 registry: VersionLookup) -> None:
        super().__init__(tracking, as_of)
        self._registry = registry

    def _run_location(self, run_id: str, path: str) -> str:
        """Where ``runs:/<run_id>/<path>`` is: found by listing a local store's default
        layout, else the run's artifact location."""
        from lakeml.uris import default_layout_model

        fast = default_layout_model(self._tracking.store_uri, run_id, path)
        return fast if fast is not None else self._tracking.get_artifact_uri(run_id, path)

    def _version_location(self, model_uri: str) -> str:
        return resolve_models_uri(self._registry, model_uri).storage_location

    # ---- reads --------------------------------------------------------------------
    def get_model_version(self, name: str, version: object) -> ModelVersion:
        """Version ``version`` of registered model ``name``."""
        state, number = self._read_version(name, version)
        return state.model_version(number)

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every live version of ``name``, oldest first."""
        state = self._read(name)
        return [state.model_version(v.version) for v in state.live_versions()]

    def get_latest_versions(self, name: str, stages: Iterable[str] | None = None
                            ) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage), by version."""
        if isinstance(stages, str):
            stages = [stages]
        wanted = tuple(STAGES if not stages else dict.fromkeys(canonical_stage(s)
                                                               for s in stages))
        return self._read(name).latest(wanted)

    def get_model_version_download_uri(self, name: str, version: object) -> str:
        """The version's source, as MLflow returns it (``runs:/…`` stays a ``runs:/`` URI);
        ``ModelVersion.storage_location`` is where its files are."""
        return self.get_model_version(name, version).source

    # ---- writes ---------------------------------------------------------------------
    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, object] | None = None,
                             description: str | None = None) -> ModelVersion:
        """Register the model at ``source`` as the next version of the existing model ``name``."""
        return self._register(name, source, run_id, tags, description, create_model=False)

    def register_model(self, model_uri: str, name: str,
                       tags: dict[str, object] | None = None) -> ModelVersion:
        """Register ``model_uri`` as a new version of ``name``, creating the model if needed.

        Example:
            >>> lakeml.register_model(f"runs:/{run_id}/model", "churn")   # doctest: +SKIP
            ModelVersion(name='churn', version=1, current_stage='None', ...)
        """
        return self._register(name, model_uri, None, tags, None, create_model=True)

    def _register(self, name: str, source: str, run_id: str | None,
                  tags: dict[str, object] | None, description: str | None, *,
                  create_model: bool) -> ModelVersion:
        from lakeml.ids import uuid7_hex

        name = check_model_name(name)
        check_text(description, "description")
        location, source_run = resolve_source(source, self)
        run_id = run_id or source_run
        self._require("register", Event("create_version", "", name, source=source),
                      f"model {name!r}")
        new_id = uuid7_hex()
        created: list[int] = []

        def plan(cur: duckdb.DuckDBPyConnection) -> list[Event]:
            events: list[Event] = []
            state = self._model(cur, name, missing_ok=create_model)
            if state is None:
                state = ModelState(new_id, name)
                events.append(Event("create_model", new_id, name))
            number = state.last_version + 1
            events.append(Event("create_version", state.model_id, name, version=number,
                                source=source, storage_location=location, run_id=run_id,
                                description=description, to_value=NONE))
            events += tag_events("set_version_tag", state, name, tags, number)
            created[:] = [number]
            return events

        data = self._write(plan)
        when = to_ms(data["timestamp"][0].as_py())
        return ModelVersion(name, created[0], NONE, source, location, run_id, "READY",
                            data["user_id"][0].as_py(), when, when, description,
                            {e.key: e.value for e in tag_events("set_version_tag", "", name,
                                                                tags, created[0])})

    def _version_write(self, name: str, version: object, capability: str, action: str,
                       build: Callable[[duckdb.DuckDBPyConnection, ModelState, int],
                                       list[Event]],
                       stage: str | None = None) -> None:
        """Check ``capability`` on the version, then commit the events ``build`` makes."""
        name = check_model_name(name)
        number = check_version(version)
        state, _ = self._model_version(self._cursor(), name, number)
        self._require(capability, Event(action, state.model_id, name, version=number,
                                        to_value=stage),
                      f"version {number} of model {name!r}", stage)
        self._write(lambda cur: build(cur, *self._model_version(cur, name, number)))

    def update_model_version(self, name: str, version: object,
                             description: str | None) -> ModelVersion:
        """Replace the version's description (markdown)."""
        check_text(description, "description")
        self._version_write(name, version, "register", "update_version",
                            lambda cur, state, n: [Event(
                                "update_version", state.model_id, name, version=n,
                                description=description or "")])
        return self.get_model_version(name, version)

    def delete_model_version(self, name: str, version: object) -> None:
        """Delete the version and the aliases that point at it (the log keeps the history)."""
        def build(cur: duckdb.DuckDBPyConnection, state: ModelState, n: int) -> list[Event]:
            return [Event("delete_version", state.model_id, name, version=n),
                    *(Event("delete_alias", state.model_id, name, version=n, key=alias,
                            from_value=str(n))
                      for alias, target in sorted(state.aliases.items()) if target == n),
                    *(Event("cancel_request", state.model_id, name, version=n,
                            key=r.request_id, to_value=r.stage, comment="version deleted")
                      for r in state.requests.values()
                      if r.version == n and r.status == "PENDING")]

        self._version_write(name, version, "admin", "delete_version", build)

    def set_model_version_tag(self, name: str, version: object, key: str, value: object) -> None:
        """Set tag ``key`` of the version."""
        self._version_write(name, version, "register", "set_version_tag",
                            lambda cur, state, n: tag_events(
                                "set_version_tag", state, name, {key: value}, n))

    def delete_model_version_tag(self, name: str, version: object, key: str) -> None:
        """Delete tag ``key`` of the version; a key it lacks is a no-op (as in MLflow)."""
        def build(cur: duckdb.DuckDBPyConnection, state: ModelState, n: int) -> list[Event]:
            if key not in state.versions[n].tags:
                return []
            return [Event("delete_version_tag", state.model_id, name, version=n, key=key)]

        self._version_write(name, version, "register", "delete_version_tag", build)

    def transition_model_version_stage(self, name: str, version: object, stage: str,
                                       archive_existing_versions: bool = False,
                                       comment: str | None = None) -> ModelVersion:
        """Move the version into ``stage`` (None/Development, Staging, Production, Archived).

        With ``archive_existing_versions`` (Staging and Production only), the
        other versions in that stage move to Archived in the same commit.
        """
        stage = canonical_stage(stage)
        check_archive(stage, archive_existing_versions)
        check_text(comment, "comment")
        if archive_existing_versions:  # it moves other versions to Archived too
            self._require("transition", Event("transition_stage", "", check_model_name(name),
                                              to_value=ARCHIVED),
                          f"the other {stage} versions of model {name!r}", ARCHIVED)
        self._version_write(name, version, "transition", "transition_stage",
                            lambda cur, state, n: transition_events(
                                state, n, stage, archive_existing_versions, comment),
                            stage=stage)
        return self.get_model_version(name, version)


def check_archive(stage: str, archive_existing_versions: bool) -> None:
    """archive_existing_versions only makes sense for Staging and Production."""
    if archive_existing_versions and stage not in ARCHIVING_STAGES:
        raise InvalidArgument(f"archive_existing_versions applies to Staging and Production, "
                              f"not to {stage!r}")


def transition_events(state: ModelState, number: int, stage: str,
                      archive_existing_versions: bool, comment: str | None) -> list[Event]:
    """The events that move version ``number`` into ``stage``, archiving the others if asked."""
    name = state.name
    events = [Event("transition_stage", state.model_id, name, version=number,
                    from_value=state.versions[number].stage, to_value=stage, comment=comment)]
    if archive_existing_versions:
        for other in state.live_versions():
            if other.stage == stage and other.version != number:
                events.append(Event("transition_stage", state.model_id, name,
                                    version=other.version, from_value=stage, to_value=ARCHIVED,
                                    comment=f"archived: version {number} moved to {stage}"))
    return events
