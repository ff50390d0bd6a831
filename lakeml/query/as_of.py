"""What ``as_of`` may be: a point in time, or the exact table versions of a past read."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from lakeml.errors import InvalidArgument


def parse_as_of(as_of: Any) -> datetime | dict[str, int] | None:
    """None, an aware UTC datetime, or a {table: version} mapping.

    A datetime (naive means UTC) or an ISO 8601 string reads every table as
    it was at that time. A mapping pins each table's Delta version
    (``lakeml.store_versions()`` returns one); tables missing from it are read
    at version 0, their empty beginning. A bare number is refused: it cannot
    name a version of every table at once.
    """
    if as_of is None:
        return None
    if isinstance(as_of, datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)
    if isinstance(as_of, str):
        try:
            return parse_as_of(datetime.fromisoformat(as_of.replace("Z", "+00:00")))
        except ValueError:
            raise InvalidArgument(f"as_of {as_of!r} is not an ISO 8601 time such as "
                                  "'2026-03-01' or '2026-03-01T12:00:00Z'") from None
    if isinstance(as_of, Mapping):
        bad = {k: val for k, val in as_of.items()
               if not isinstance(val, int) or isinstance(val, bool) or val < 0}
        if bad:
            raise InvalidArgument(f"as_of versions must be integers >= 0, got {bad}")
        return {str(k): int(val) for k, val in as_of.items()}
    raise InvalidArgument(
        f"as_of must be a datetime, an ISO 8601 string or a {{table: version}} mapping "
        f"(from lakeml.store_versions()), got {type(as_of).__name__} {as_of!r}; one number "
        "cannot name a version of every table at once")


def version_for(as_of: datetime | dict[str, int], table: str) -> int | datetime:
    """What to load ``table`` at: its pinned version (0 if unpinned) or the time."""
    if isinstance(as_of, dict):
        return as_of.get(table, 0)
    return as_of
