"""The tree a run filter parses into, the rules a valid tree obeys, and its text form.

Nodes are frozen dataclasses that check themselves when built, so a tree made
by hand can no more hold a bad key, operator or value than a parsed one. The
grammar and its meaning are described in :mod:`lakeml.search.filter_parser`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from lakeml.errors import InvalidArgument

METRICS = "metrics"
PARAMS = "params"
TAGS = "tags"
ATTRIBUTES = "attributes"
DATASETS = "datasets"

ENTITY_ALIASES: dict[str, str] = {
    "metric": METRICS, "metrics": METRICS,
    "param": PARAMS, "params": PARAMS, "parameter": PARAMS, "parameters": PARAMS,
    "tag": TAGS, "tags": TAGS,
    "attribute": ATTRIBUTES, "attributes": ATTRIBUTES, "attr": ATTRIBUTES, "run": ATTRIBUTES,
    "dataset": DATASETS, "datasets": DATASETS,
}
STRING_ATTRIBUTES = ("run_id", "run_name", "status", "user_id", "artifact_uri")
TIME_ATTRIBUTES = ("start_time", "end_time")
ATTRIBUTE_ALIASES: dict[str, str] = {
    "created": "start_time", "Created": "start_time",
    "run name": "run_name", "Run name": "run_name", "Run Name": "run_name",
}
DATASET_FIELDS = ("name", "digest", "context")

NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
LIST_OPS = ("IN", "NOT IN")
NULL_OPS = ("IS NULL", "IS NOT NULL")
WORD_PUNCTUATION = "_.-/:"  # what an unquoted key may hold besides letters, digits


@dataclass(frozen=True)
class Comparison:
    """One test of a run: ``<entity>.<key> <op> <value>``.

    ``value`` is a float for numeric comparisons, a str for ``= != LIKE ILIKE``
    on strings, a tuple of str for ``IN``/``NOT IN`` and None for ``IS [NOT]
    NULL``. Attribute keys are canonical (``created`` becomes ``start_time``).
    A Comparison that could not have come from a valid filter cannot be built.
    """

    entity: str
    key: str
    op: str
    value: float | str | tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        value = self._normalize_value()
        problem = _comparison_problem(self.entity, self.key, self.op, value)
        if problem:
            raise InvalidArgument(f"invalid comparison {self!r}: {problem}")

    def _normalize_value(self) -> float | str | tuple[str, ...] | None:
        """Store ``value`` in its one form (lists as tuples, ints as floats); return it."""
        value = self.value
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        object.__setattr__(self, "value", value)
        return value


@dataclass(frozen=True)
class And:
    """True when every item is (``items`` has at least one node)."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        _check_items(self, self.items)


@dataclass(frozen=True)
class Or:
    """True when any item is (``items`` has at least one node)."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        _check_items(self, self.items)


Node = Comparison | And | Or


@dataclass(frozen=True)
class OrderKey:
    """One ``order_by`` entry: sort by ``entity.key``, ascending unless told otherwise."""

    entity: str
    key: str
    ascending: bool = True

    def __post_init__(self) -> None:
        problem = order_key_problem(self.entity, self.key)
        if problem:
            raise InvalidArgument(f"invalid order key {self!r}: {problem}")


def _check_items(node: And | Or, items: object) -> None:
    if isinstance(items, list):
        items = tuple(items)
        object.__setattr__(node, "items", items)
    if not isinstance(items, tuple) or not items:
        raise InvalidArgument(
            f"{type(node).__name__} needs a non-empty tuple of nodes, got {items!r}")
    for item in items:
        if not isinstance(item, (Comparison, And, Or)):
            raise InvalidArgument(
                f"{type(node).__name__} items must be Comparison, And or Or nodes, got {item!r}")


def allowed_ops(entity: str, key: str) -> tuple[str, ...]:
    """The operators MLflow (plus lakeml's extensions) allows on ``entity.key``."""
    if entity == METRICS:
        return NUMERIC_OPS + NULL_OPS
    if entity in (PARAMS, TAGS):
        return STRING_OPS + NULL_OPS
    if entity == ATTRIBUTES:
        return NUMERIC_OPS if key in TIME_ATTRIBUTES else STRING_OPS
    return STRING_OPS


def key_problem(entity: str, key: object) -> str | None:
    if entity not in (METRICS, PARAMS, TAGS, ATTRIBUTES, DATASETS):
        return f"unknown entity {entity!r}; expected one of {entity_list()}"
    if not isinstance(key, str) or not key:
        return f"the key must be a non-empty string, got {key!r}"
    if entity == ATTRIBUTES and key not in STRING_ATTRIBUTES + TIME_ATTRIBUTES:
        return attribute_problem(key)
    if entity == DATASETS and key not in DATASET_FIELDS:
        return (f"unknown dataset field {key!r}; expected one of "
                f"{', '.join(DATASET_FIELDS)}")
    return None


def attribute_problem(key: str) -> str:
    names = ", ".join(STRING_ATTRIBUTES + TIME_ATTRIBUTES)
    if key == "lifecycle_stage":
        return (f"the attribute 'lifecycle_stage' is not searchable (deleted runs are chosen "
                f"by the run view type, as in MLflow); searchable attributes are {names}")
    return f"unknown run attribute {key!r}; expected one of {names}"


def _comparison_problem(entity: str, key: str, op: str, value: object) -> str | None:
    problem = key_problem(entity, key)
    if problem:
        return problem
    ops = allowed_ops(entity, key)
    if op not in ops:
        return f"operator {op!r} is not allowed for {entity}; use one of {', '.join(ops)}"
    kind = value_kind(entity, key, op)
    if kind == "number":
        if not isinstance(value, float) or math.isnan(value):
            return f"{op} on {entity} needs a number (not NaN), got {value!r}"
    elif kind == "string":
        if not isinstance(value, str):
            return f"{op} on {entity} needs a string, got {value!r}"
    elif kind == "list":
        if (not isinstance(value, tuple) or not value
                or not all(isinstance(v, str) for v in value)):
            return f"{op} needs a non-empty tuple of strings, got {value!r}"
    elif value is not None:
        return f"{op} takes no value, got {value!r}"
    return None


def order_key_problem(entity: str, key: str) -> str | None:
    if entity == DATASETS:
        return "datasets cannot be sorted on; use metrics, params, tags or attributes"
    return key_problem(entity, key)


def value_kind(entity: str, key: str, op: str) -> str:
    """``number``, ``string``, ``list`` or ``none``: what must follow ``op``."""
    if op in NULL_OPS:
        return "none"
    if op in LIST_OPS:
        return "list"
    if entity == METRICS or (entity == ATTRIBUTES and key in TIME_ATTRIBUTES):
        return "number"
    return "string"


def entity_list() -> str:
    return "metrics, params, tags, attributes, datasets"


def keys_of(tree: Node | None, order_keys: Iterable[OrderKey] = (),
            entities: Iterable[str] = (METRICS, PARAMS, TAGS, ATTRIBUTES)
            ) -> dict[str, set[str]]:
    """The keys of each of ``entities`` that ``tree`` tests or ``order_keys`` sort by:
    what a search must have loaded.

    Example:
        >>> from lakeml.search import parse_filter
        >>> keys_of(parse_filter("metrics.a > 1 OR params.b = 'x'"), entities=["metrics"])
        {'metrics': {'a'}}
    """
    found: dict[str, set[str]] = {entity: set() for entity in entities}
    pending: list[Node] = [] if tree is None else [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, Comparison):
            if node.entity in found:
                found[node.entity].add(node.key)
        else:
            pending.extend(node.items)
    for key in order_keys:
        if key.entity in found:
            found[key.entity].add(key.key)
    return found


# --------------------------------------------------------------------------- rendering


def quote_string(value: str) -> str:
    """``value`` as a single-quoted filter literal (quotes doubled).

    Example:
        >>> quote_string("it's")
        "'it''s'"
    """
    return "'" + value.replace("'", "''") + "'"


def format_filter(node: Node | None) -> str:
    """The canonical filter text of a tree; ``parse_filter`` gives the tree back.

    Example:
        >>> from lakeml.search import parse_filter
        >>> format_filter(parse_filter("metrics.`a b` < 1 AND (params.p = 'x' or status = 'OK')"))
        "metrics.`a b` < 1.0 AND (params.p = 'x' OR attributes.status = 'OK')"
    """
    if node is None:
        return ""
    if isinstance(node, Comparison):
        return _format_comparison(node)
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(
        _format_comparison(item) if isinstance(item, Comparison) else f"({format_filter(item)})"
        for item in node.items)


def _format_comparison(node: Comparison) -> str:
    subject = f"{node.entity}.{_format_key(node.key)}"
    value = node.value
    if value is None:
        return f"{subject} {node.op}"
    if isinstance(value, tuple):
        return f"{subject} {node.op} ({', '.join(quote_string(v) for v in value)})"
    if isinstance(value, float):
        text = repr(value) if math.isfinite(value) else ("1e999" if value > 0 else "-1e999")
        return f"{subject} {node.op} {text}"
    return f"{subject} {node.op} {quote_string(value)}"


def _format_key(key: str) -> str:
    simple = (key[0].isalpha() or key[0] == "_") and all(
        c.isalnum() or c in WORD_PUNCTUATION for c in key)
    return key if simple else "`" + key.replace("`", "``") + "`"
