"""Registered models: create, read, rename, describe, tag, alias, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from lakeml.entities.model_version import STAGES, ModelVersion, RegisteredModel
from lakeml.errors import AlreadyExists, InvalidArgument, NotFound
from lakeml.registry.base import (
    Event,
    RegistryBase,
    check_alias,
    check_model_name,
    check_text,
    check_version,
)
from lakeml.registry.fold import ModelState

if TYPE_CHECKING:
    import duckdb


def tag_events(action: str, state: ModelState | str, name: str,
               tags: dict[str, object] | None, version: int | None = None) -> list[Event]:
    """One tag event per item of ``tags``, keys and values checked."""
    from collections.abc import Mapping

    from lakeml import validation as v

    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidArgument(f"tags must be a mapping of key to value, got "
                              f"{type(tags).__name__} {tags!r}")
    model_id = state if isinstance(state, str) else state.model_id
    return [Event(action, model_id, name, version=version, key=v.check_key(k, "tag key"),
                  value=v.tag_value(k, val)) for k, val in (tags or {}).items()]


class RegisteredModelCalls(RegistryBase):
    """Registered models: a part of the lake registry service."""

    # ---- reads --------------------------------------------------------------------
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model ``name`` with its tags, aliases and latest version per stage."""
        return self._read(name).registered_model(STAGES)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version that ``name@alias`` points at."""
        alias = check_alias(alias)
        state = self._read(name)
        if alias not in state.aliases:
            raise NotFound(f"registered model {name!r} has no alias {alias!r}")
        return state.model_version(state.aliases[alias])

    # ---- writes ---------------------------------------------------------------------
    def create_registered_model(self, name: str, tags: dict[str, object] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create an empty registered model; AlreadyExists if the name is taken."""
        from lakeml.ids import uuid7_hex

        name = check_model_name(name)
        check_text(description, "description")
        model_id = uuid7_hex()
        self._require("register", Event("create_model", "", name), f"model {name!r}")

        def plan(cur: duckdb.DuckDBPyConnection) -> list[Event]:
            if self._model(cur, name, missing_ok=True) is not None:
                raise AlreadyExists(f"registered model {name!r} already exists")
            return [Event("create_model", model_id, name, description=description),
                    *tag_events("set_model_tag", model_id, name, tags)]

        self._write(plan)
        return self.get_registered_model(name)

    def _model_write(self, name: str, capability: str, action: str,
                     build: Callable[[duckdb.DuckDBPyConnection, ModelState], list[Event]]
                     ) -> None:
        """Check ``capability`` on model ``name``, then commit the events ``build`` makes."""
        name = check_model_name(name)
        state = self._model(self._cursor(), name)
        self._require(capability, Event(action, state.model_id, name), f"model {name!r}")
        self._write(lambda cur: build(cur, self._model(cur, name)))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give the model a new, unused name (versions, aliases and tags follow it)."""
        new_name = check_model_name(new_name)

        def build(cur: duckdb.DuckDBPyConnection, state: ModelState) -> list[Event]:
            if new_name != name and self._model(cur, new_name, missing_ok=True):
                raise AlreadyExists(f"cannot rename {name!r}: registered model {new_name!r} "
                                    "already exists")
            return [Event("rename_model", state.model_id, new_name, from_value=name,
                          to_value=new_name)]

        self._model_write(name, "admin", "rename_model", build)
        return self.get_registered_model(new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        """Replace the model's description (markdown)."""
        check_text(description, "description")
        self._model_write(name, "register", "update_model", lambda cur, state: [
            Event("update_model", state.model_id, name, description=description or "")])
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        """Delete the model with its versions, aliases and tags (the log keeps the history)."""
        self._model_write(name, "admin", "delete_model", lambda cur, state: [
            Event("delete_model", state.model_id, name)])

    def set_registered_model_tag(self, name: str, key: str, value: object) -> None:
        """Set tag ``key`` of the registered model."""
        self._model_write(name, "register", "set_model_tag", lambda cur, state: tag_events(
            "set_model_tag", state, name, {key: value}))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete tag ``key`` of the registered model; a key it lacks is a no-op (as in
        MLflow)."""
        def build(cur: duckdb.DuckDBPyConnection, state: ModelState) -> list[Event]:
            if key not in state.tags:
                return []
            return [Event("delete_model_tag", state.model_id, name, key=key)]

        self._model_write(name, "register", "delete_model_tag", build)

    def set_registered_model_alias(self, name: str, alias: str, version: object) -> None:
        """Point ``name@alias`` at ``version`` (moving it if it pointed elsewhere)."""
        alias = check_alias(alias)
        number = check_version(version)

        def build(cur: duckdb.DuckDBPyConnection, state: ModelState) -> list[Event]:
            found = state.versions.get(number)
            if found is None or not found.live:
                raise NotFound(f"registered model {name!r} has no version {number}")
            old = state.aliases.get(alias)
            return [Event("set_alias", state.model_id, name, version=number, key=alias,
                          from_value=None if old is None else str(old),
                          to_value=str(number))]

        self._model_write(name, "alias", "set_alias", build)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias``; NotFound if the model has no such alias."""
        alias = check_alias(alias)

        def build(cur: duckdb.DuckDBPyConnection, state: ModelState) -> list[Event]:
            if alias not in state.aliases:
                raise NotFound(f"registered model {name!r} has no alias {alias!r}")
            old = state.aliases[alias]
            return [Event("delete_alias", state.model_id, name, version=old, key=alias,
                          from_value=str(old))]

        self._model_write(name, "alias", "delete_alias", build)
