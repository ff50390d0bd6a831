"""The SQL pieces every search's compiler shares: a comparison's predicate on a column,
a test through a key/value table, and the walk of And/Or nodes.

Every value becomes a ``?`` parameter appended to ``params`` in the order of
the text; column and relation names come from the caller's key set, never
from the filter. The rules (NULL matches nothing, NaN and ``!=``…) are stated
in :mod:`lakeml.search.filter_sql`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from lakeml.errors import InvalidArgument
from lakeml.search.filter_tree import And, Comparison, Node, Or

SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
           "LIKE": "LIKE", "ILIKE": "ILIKE", "IN": "IN", "NOT IN": "NOT IN"}


class Sql(NamedTuple):
    """A piece of SQL and the values of its ``?`` placeholders, in order."""

    sql: str
    params: list[Any]


# (node, params) -> the SQL of one comparison, its values appended to params
Leaf = Callable[[Comparison, list[Any]], str]


def compile_tree(tree: Node | None, leaf: Leaf) -> Sql:
    """The boolean SQL of ``tree`` (``TRUE`` for None), each comparison compiled by
    ``leaf``; And and Or nodes are parenthesised.

    Example:
        >>> from lakeml.search.filter_tree import Comparison
        >>> compile_tree(Comparison("params", "p", "=", "a"),
        ...              lambda node, params: predicate("v", node, params))
        Sql(sql='v = ?', params=['a'])
    """
    params: list[Any] = []
    return Sql("TRUE" if tree is None else walk(tree, leaf, params), params)


def walk(node: Node, leaf: Leaf, params: list[Any]) -> str:
    """The SQL of ``node``, appending its values to ``params``."""
    if isinstance(node, (And, Or)):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(walk(item, leaf, params) for item in node.items) + ")"
    if isinstance(node, Comparison):
        return leaf(node, params)
    raise InvalidArgument(f"expected a Comparison, And or Or node, got {node!r}")


def predicate(column: str, node: Comparison, params: list[Any]) -> str:
    """``column <op> ?`` (or ``IN (?, …)``) for the comparison's operator and value."""
    op = SQL_OPS[node.op]
    if isinstance(node.value, tuple):
        params.extend(node.value)
        return f"{column} {op} ({', '.join('?' * len(node.value))})"
    params.append(node.value)
    return f"{column} {op} ?"


def metric_predicate(node: Comparison, params: list[Any], column: str = "k.value") -> str:
    """NaN is unequal to every number and neither smaller nor larger than any."""
    params.append(node.value)
    if node.op == "!=":
        return f"(isnan({column}) OR {column} <> ?)"
    return f"NOT isnan({column}) AND {column} {SQL_OPS[node.op]} ?"


def keyed_exists(relation: str, join: str, node: Comparison, params: list[Any],
                 test: Leaf | None = None) -> str:
    """``node`` on a key/value relation (``k``: key, value) joined to the searched row by
    ``join``: some row of the key passes ``test`` (default: the predicate on
    ``k.value``); ``IS [NOT] NULL`` asks whether the key is absent (present)."""
    params.append(node.key)
    exists = f"EXISTS (SELECT 1 FROM {relation} AS k WHERE {join} AND k.key = ?"
    if node.op == "IS NULL":
        return f"NOT {exists})"
    if node.op == "IS NOT NULL":
        return f"{exists})"
    check = test(node, params) if test else predicate("k.value", node, params)
    return f"{exists} AND {check})"
