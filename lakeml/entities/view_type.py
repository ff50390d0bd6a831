"""Lifecycle stages and the view types that filter on them."""

from __future__ import annotations

import enum

from lakeml.errors import InvalidArgument


class LifecycleStage:
    """The lifecycle of experiments and runs: soft delete keeps the rows."""

    ACTIVE = "active"
    DELETED = "deleted"


class ViewType(enum.IntEnum):
    """Which lifecycle stages a listing shows (MLflow's values)."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    @classmethod
    def parse(cls, value: ViewType | int | str) -> ViewType:
        """Accept the enum, its number or its name (any case)."""
        if isinstance(value, str):
            try:
                return cls[value.upper()]
            except KeyError:
                raise InvalidArgument(f"unknown view type {value!r}; valid: "
                                      f"{[v.name for v in cls]}") from None
        try:
            return cls(value)
        except (ValueError, TypeError, OverflowError):
            raise InvalidArgument(f"unknown view type {value!r}; valid: "
                                  f"{[(v.name, v.value) for v in cls]}") from None

    def stages(self) -> tuple[str, ...]:
        """The lifecycle stages this view shows."""
        if self is ViewType.ACTIVE_ONLY:
            return (LifecycleStage.ACTIVE,)
        if self is ViewType.DELETED_ONLY:
            return (LifecycleStage.DELETED,)
        return (LifecycleStage.ACTIVE, LifecycleStage.DELETED)
