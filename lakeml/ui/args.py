"""The parameters of a UI API request, read with checks that name the bad value.

A GET carries them in its query string; a POST (for what a URL cannot hold, such as a
thousand run ids to compare) as a JSON object whose values are strings or lists."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml import arguments
from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    from starlette.datastructures import QueryParams


class Args:
    """A request's query parameters: ``get`` one, ``all`` of a repeated one, ``int``."""

    def __init__(self, params: QueryParams | dict[str, Any]) -> None:
        self._params = params

    def get(self, name: str, default: str | None = None) -> str | None:
        """The parameter ``name`` (its last value), or ``default``."""
        value = self._params.get(name)
        if isinstance(value, list):  # a JSON body's list: its last value
            value = value[-1] if value else None
        if value is not None and not isinstance(value, str):
            value = str(value)
        return default if value is None else value

    def replaced(self, name: str, value: str) -> Args:
        """These parameters with ``name`` set to ``value`` (repeated ones kept)."""
        getlist = getattr(self._params, "getlist", None)
        params: dict[str, Any] = ({k: getlist(k) for k in self._params.keys()} if getlist
                                  else dict(self._params))
        return Args({**params, name: value})

    def flag(self, name: str) -> bool:
        """The yes/no parameter ``name`` (false if absent): JSON true/false or the text
        "true"/"false" in any case; InvalidArgument naming anything else."""
        value = self._params.get(name)
        if isinstance(value, list):
            value = value[-1] if value else None
        return arguments.flag(value, name)

    def need(self, name: str) -> str:
        """The parameter ``name``; InvalidArgument when it is missing or empty."""
        value = self.get(name)
        if not value:
            raise InvalidArgument(f"the request needs the parameter {name!r}")
        return value

    def all(self, name: str) -> list[str]:
        """Every value of the repeated parameter ``name``, empty ones dropped."""
        getlist = getattr(self._params, "getlist", None)
        if getlist:
            values = getlist(name)
        else:
            value = self._params.get(name)
            values = value if isinstance(value, list) else [] if value is None else [value]
        return [str(v) for v in values if v not in (None, "")]

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
