"""Walking the lineage graph: the edges of ``lineage_edges`` reachable from one node.

The view is read once per walk (one scan of the tables it joins), then the walk goes
level by level with Arrow's ``is_in`` over the edge columns, so a deep walk costs no more
SQL than a shallow one. A node is a URI (see sql/views/lineage_edges.sql); a Delta
table's path without ``@v<N>`` starts from every version of it, and downstream of an alias
is downstream of the version it points to (what ``models:/churn@champion`` scored).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lakeml.entities.lineage import LineageEdge
from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

DIRECTIONS = ("upstream", "downstream", "both")
EDGE_COLUMNS = ("src", "dst", "kind", "detail", "time")
NAMED_NODES = ("runs:/", "models:/", "dataset:")
EDGES_QUERY = "SELECT src, dst, kind, detail, time FROM lineage_edges"


def walk(edges: pa.Table, uri: str, direction: str = "upstream",
         depth: int = 10) -> list[LineageEdge]:
    """Edges reachable from ``uri`` against (upstream) or along (downstream) their
    direction, or both, up to ``depth`` steps, nearest first."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if direction not in DIRECTIONS:
        raise InvalidArgument(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise InvalidArgument(f"depth must be a positive integer, got {depth!r}")
    found: list[LineageEdge] = []
    seen_edges: set[tuple[str, str, str]] = set()
    for way in (("upstream", "downstream") if direction == "both" else (direction,)):
        near, far = ("dst", "src") if way == "upstream" else ("src", "dst")
        frontier = start_nodes(edges, uri, near)
        if way == "downstream":  # an alias is used as the version it points to
            frontier |= aliased_versions(edges, frontier)
        visited = set(frontier)
        for level in range(1, depth + 1):
            if not frontier:
                break
            hits = edges.filter(pc.is_in(edges.column(near),
                                         value_set=pa.array(sorted(frontier), pa.string())))
            step: set[str] = set()
            for row in hits.to_pylist():
                key = (row["src"], row["dst"], row["kind"])
                if key not in seen_edges:
                    seen_edges.add(key)
                    found.append(LineageEdge(**row, depth=level))
                if row[far] not in visited:
                    step.add(row[far])
            visited |= step
            frontier = step
    return found


def start_nodes(edges: pa.Table, uri: str, column: str) -> set[str]:
    """The nodes ``uri`` names: a runs:/, models:/ or dataset: node as given; a table
    path (made absolute when local) with ``@v<N>`` as given, and without it every
    ``<path>@v<N>`` node of that table too."""
    import pyarrow.compute as pc

    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArgument(f"lineage needs a URI (runs:/, models:/, a table path), got "
                              f"{uri!r}")
    text = uri.strip()
    if text.startswith(NAMED_NODES):
        return {text}
    path, at, version = text.rpartition("@v")
    if not (at and version.isdigit()):
        path, version = text, ""
    if "://" not in path:
        path = os.path.abspath(path)
    if version:
        return {f"{path}@v{version}"}
    values = edges.column(column)
    every_version = edges.filter(pc.starts_with(values, path + "@v")).column(column)
    return {path, *every_version.to_pylist()}


def aliased_versions(edges: pa.Table, nodes: set[str]) -> set[str]:
    """The registered versions that the aliases among ``nodes`` point to: what a model
    scored "as ``models:/churn@champion``" was scored by those versions."""
    import pyarrow as pa
    import pyarrow.compute as pc

    aliases = [n for n in nodes if n.startswith("models:/") and "@" in n]
    if not aliases:
        return set()
    hits = edges.filter(pc.and_(pc.equal(edges.column("kind"), "alias"),
                                pc.is_in(edges.column("dst"),
                                         value_set=pa.array(aliases, pa.string()))))
    return set(hits.column("src").to_pylist())
