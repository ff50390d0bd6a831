"""Search: MLflow's filter and order-by grammar, parsed into a tree and compiled to SQL.

``parse_filter`` turns filter text into immutable ``Comparison``/``And``/``Or``
nodes; ``compile_filter``, ``compile_order_by`` and ``compile_search`` turn
those into DuckDB SQL whose every user-given key and value is a parameter.

One parser (:mod:`~lakeml.search.filter_parser`) reads the filters of every
search; each search is described by its key set (:mod:`~lakeml.search.keysets`):
runs here, experiments in :mod:`~lakeml.search.experiment_filter`, registered
models and model versions in :mod:`~lakeml.search.registry_filter`.
"""

from __future__ import annotations

from lakeml.search.filter_parser import parse_filter, parse_order_by
from lakeml.search.filter_sql import (
    OrderBy,
    Relations,
    Sql,
    compile_filter,
    compile_order_by,
    compile_search,
)
from lakeml.search.filter_tree import (
    And,
    Comparison,
    Node,
    Or,
    OrderKey,
    format_filter,
    keys_of,
    quote_string,
)

__all__ = [
    "And",
    "Comparison",
    "Node",
    "Or",
    "OrderBy",
    "OrderKey",
    "Relations",
    "Sql",
    "compile_filter",
    "compile_order_by",
    "compile_search",
    "format_filter",
    "keys_of",
    "parse_filter",
    "parse_order_by",
    "quote_string",
]
