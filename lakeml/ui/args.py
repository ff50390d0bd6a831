"""The query parameters of a UI API request, read with checks that name the bad value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams


class Args:
    """A request's query parameters: ``get`` one, ``all`` of a repeated one, ``int``."""

    def __init__(self, params: QueryParams | dict[str, str]) -> None:
        self._params = params

    def get(self, name: str, default: str | None = None) -> str | None:
        """The parameter ``name`` (its last value), or ``default``."""
        value = self._params.get(name)
        return default if value is None else value

    def need(self, name: str) -> str:
        """The parameter ``name``; InvalidArgument when it is missing or empty."""
        value = self.get(name)
        if not value:
            raise InvalidArgument(f"the request needs the parameter {name!r}")
        return value

    def all(self, name: str) -> list[str]:
        """Every value of the repeated parameter ``name``, empty ones dropped."""
        getlist = getattr(self._params, "getlist", None)
        values = getlist(name) if getlist else ([self._params[name]] if name in self._params
                                                else [])
        return [v for v in values if v]

    def int(self, name: str, default: int, *, low: int = 0, high: int = 1_000_000) -> int:
        """The integer parameter ``name`` from ``low`` to ``high`` (``default`` if absent)."""
        raw = self.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidArgument(f"{name} must be an integer, got {raw!r:.40}") from None
        if not low <= value <= high:
            raise InvalidArgument(f"{name} must be from {low} to {high}, got {value}")
        return value
