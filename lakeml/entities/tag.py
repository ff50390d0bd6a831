"""A run tag."""

from __future__ import annotations

from typing import NamedTuple


class RunTag(NamedTuple):
    """A tag on a run; unlike a parameter it may be overwritten or deleted."""

    key: str
    value: str
