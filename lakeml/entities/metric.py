"""A metric point."""

from __future__ import annotations

from typing import NamedTuple


class Metric(NamedTuple):
    """One point of a metric's history.

    A named tuple rather than a dataclass: histories run to millions of points
    and a tuple is built several times faster, while staying immutable.
    ``timestamp`` is in milliseconds since the epoch, as in MLflow.
    """

    key: str
    value: float
    timestamp: int
    step: int
    run_id: str | None = None
