"""A run parameter."""

from __future__ import annotations

from typing import NamedTuple


class Param(NamedTuple):
    """A parameter: its value is stored as a string and never changes."""

    key: str
    value: str
