"""One edge of the lineage graph (the ``lineage_edges`` view), as found by a walk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LineageEdge:
    """``src`` came first and ``dst`` was made from it (a dataset version and the run
    that read it, a run and its model, ...). ``kind``: input, logged_model, registered,
    alias, workflow_input, workflow_output. ``depth``: 1 for an edge touching the node
    the walk started from, 2 for the next, ..."""

    src: str
    dst: str
    kind: str
    detail: str | None
    time: datetime | None
    depth: int
