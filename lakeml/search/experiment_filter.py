"""MLflow's ``search_experiments`` filter and order_by, read by the run filter's parser.

The grammar is the run filter's (:mod:`lakeml.search.filter_parser`: quoting,
literals, ``AND``, and lakeml's ``OR`` and parentheses) over the vocabulary of
experiments, which is MLflow's:

* attributes, bare or as ``attribute.<name>`` (also ``attributes.``, ``attr.``):
  ``name`` with ``= != LIKE ILIKE IN NOT IN``, and ``creation_time``,
  ``last_update_time`` (epoch milliseconds) with ``= != < <= > >=``;
* ``tags.<key>`` (also ``tag.``) with ``= != LIKE ILIKE IN NOT IN`` and
  ``IS [NOT] NULL``. As with runs, an experiment lacking the tag matches no
  comparison but ``IS NULL``. (``IN`` lists are a lakeml extension.)

``order_by`` entries are ``name``, ``experiment_id``, ``creation_time`` or
``last_update_time`` (bare or ``attribute.``), each ``ASC`` (default) or
``DESC``. With none, the order is MLflow's: newest first (``creation_time
DESC, experiment_id ASC``); otherwise ties go to ``experiment_id DESC``, as in
MLflow's SQL store. Ids compare as numbers.

The SQL reads the ``experiments`` view as ``e`` and ``experiment_tags``; every
user-given key and value is a ``?`` parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from lakeml.errors import InvalidArgument
from lakeml.search.filter_parser import _Parser, parse_with, syntax_error
from lakeml.search.filter_sql import Sql, _predicate
from lakeml.search.filter_tree import (
    ATTRIBUTES,
    NULL_OPS,
    NUMERIC_OPS,
    STRING_OPS,
    TAGS,
    And,
    Comparison,
    Node,
    Or,
)

STRING_ATTRIBUTES = ("name",)
TIME_ATTRIBUTES = ("creation_time", "last_update_time")
ORDER_ATTRIBUTES = ("name", "experiment_id", *TIME_ATTRIBUTES)
_ENTITIES = {"attribute": ATTRIBUTES, "attributes": ATTRIBUTES, "attr": ATTRIBUTES,
             "tag": TAGS, "tags": TAGS}
_COLUMNS = {"name": "e.name", "creation_time": "epoch_ms(e.creation_time)",
            "last_update_time": "epoch_ms(e.last_update_time)"}
_SORT_COLUMNS = {"name": "e.name", "creation_time": "e.creation_time",
                 "last_update_time": "e.last_update_time"}
DEFAULT_ORDER = ("creation_time DESC", "experiment_id ASC")


def _key_problem(entity: str, key: object) -> str | None:
    if entity not in (ATTRIBUTES, TAGS):
        return f"experiments are searched by attributes and tags, not {entity!r}"
    if not isinstance(key, str) or not key:
        return f"the key must be a non-empty string, got {key!r}"
    if entity == ATTRIBUTES and key not in STRING_ATTRIBUTES + TIME_ATTRIBUTES:
        return (f"unknown experiment attribute {key!r}; expected one of "
                f"{', '.join(STRING_ATTRIBUTES + TIME_ATTRIBUTES)}")
    return None


def _allowed_ops(entity: str, key: str) -> tuple[str, ...]:
    if entity == TAGS:
        return STRING_OPS + NULL_OPS
    return NUMERIC_OPS if key in TIME_ATTRIBUTES else STRING_OPS


def _value_kind(entity: str, key: str, op: str) -> str:
    if op in NULL_OPS:
        return "none"
    if op in ("IN", "NOT IN"):
        return "list"
    return "number" if entity == ATTRIBUTES and key in TIME_ATTRIBUTES else "string"


@dataclass(frozen=True)
class ExperimentComparison(Comparison):
    """One test of an experiment: ``attributes.name``, a time, or ``tags.<key>``."""

    def __post_init__(self) -> None:
        value = self._normalize_value()
        problem = _key_problem(self.entity, self.key)
        if problem is None and self.op not in _allowed_ops(self.entity, self.key):
            problem = f"operator {self.op!r} is not allowed for {self.entity}.{self.key}"
        kind = _value_kind(self.entity, self.key, self.op) if problem is None else ""
        if kind == "number" and (not isinstance(value, float) or math.isnan(value)):
            problem = f"{self.op} needs a number, got {value!r}"
        elif kind == "string" and not isinstance(value, str):
            problem = f"{self.op} needs a string, got {value!r}"
        elif kind == "list" and not (isinstance(value, tuple) and value
                                     and all(isinstance(v, str) for v in value)):
            problem = f"{self.op} needs a non-empty tuple of strings, got {value!r}"
        elif kind == "none" and value is not None:
            problem = f"{self.op} takes no value, got {value!r}"
        if problem:
            raise InvalidArgument(f"invalid comparison {self!r}: {problem}")


class _ExperimentParser(_Parser):
    node = ExperimentComparison
    key_problem = staticmethod(_key_problem)
    allowed_ops = staticmethod(_allowed_ops)
    value_kind = staticmethod(_value_kind)

    def __init__(self, text: str, what: str, *, order: bool = False) -> None:
        super().__init__(text, what)
        self.attributes = ORDER_ATTRIBUTES if order else STRING_ATTRIBUTES + TIME_ATTRIBUTES

    def resolve(self, first, entity: str | None, key: str) -> tuple[str, str]:  # noqa: ANN001
        canonical = ATTRIBUTES if entity is None else _ENTITIES.get(entity.lower())
        if canonical is None:
            raise self.error(first, f"unknown entity {entity!r}: experiments are searched by "
                                    f"attribute.<name> and tags.<key>")
        if canonical == ATTRIBUTES and key not in self.attributes:
            raise self.error(first, f"unknown experiment attribute {key!r}; expected one of "
                                    f"{', '.join(self.attributes)}")
        return canonical, key


def parse_experiment_filter(text: str | None) -> Node | None:
    """Parse a ``search_experiments`` filter; None for an empty or blank one.

    Raises:
        InvalidArgument: the filter is not valid (the message points at the problem).

    Example:
        >>> parse_experiment_filter("name LIKE 'churn%'")
        ExperimentComparison(entity='attributes', key='name', op='LIKE', value='churn%')
    """
    return parse_with(_ExperimentParser, text, "experiment filter")


def compile_experiment_filter(tree: Node | None) -> Sql:
    """A boolean SQL expression over ``experiments AS e`` (``TRUE`` for no filter)."""
    params: list[object] = []
    return Sql("TRUE" if tree is None else _compile(tree, params), params)


def _compile(node: Node, params: list[object]) -> str:
    if isinstance(node, (And, Or)):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(_compile(item, params) for item in node.items) + ")"
    if not isinstance(node, ExperimentComparison):
        raise InvalidArgument(f"expected an experiment filter node, got {node!r}")
    if node.entity == ATTRIBUTES:
        return _predicate(_COLUMNS[node.key], node, params)
    params.append(node.key)
    exists = ("EXISTS (SELECT 1 FROM experiment_tags AS k "
              "WHERE k.experiment_id = e.experiment_id AND k.key = ?")
    if node.op == "IS NULL":
        return f"NOT {exists})"
    if node.op == "IS NOT NULL":
        return f"{exists})"
    return f"{exists} AND {_predicate('k.value', node, params)})"


def compile_experiment_order_by(order_by: Sequence[str] | None) -> str:
    """The body of the ORDER BY clause over ``experiments AS e`` for MLflow order keys."""
    if isinstance(order_by, str):
        raise InvalidArgument(f"order_by must be a list of strings, got the string {order_by!r}")
    terms: list[str] = []
    keys: list[str] = []
    for clause in order_by or DEFAULT_ORDER:
        key, ascending = _parse_order_key(clause)
        if key in keys:
            raise InvalidArgument(f"order_by names {key} twice: {list(order_by or ())!r}")
        keys.append(key)
        terms.append(_sort_term(key, "ASC" if ascending else "DESC"))
    if "experiment_id" not in keys:
        terms.append(_sort_term("experiment_id", "DESC"))
    return ", ".join(terms)


def _sort_term(key: str, direction: str) -> str:
    if key == "experiment_id":
        return (f"TRY_CAST(e.experiment_id AS HUGEINT) {direction} NULLS LAST, "
                f"e.experiment_id {direction}")
    return f"{_SORT_COLUMNS[key]} {direction} NULLS LAST"


def _parse_order_key(clause: object) -> tuple[str, bool]:
    if not isinstance(clause, str):
        raise InvalidArgument(f"an order_by entry must be a string, got {clause!r}")
    parser = _ExperimentParser(clause, "order_by clause", order=True)
    first = parser.peek()
    entity, key = parser.identifier()
    if entity != ATTRIBUTES:
        raise syntax_error(clause, first.start, f"experiments are sorted by "
                                                f"{', '.join(ORDER_ATTRIBUTES)} only",
                           "order_by clause")
    ascending = True
    token = parser.peek()
    if parser.is_keyword(token, "ASC", "DESC"):
        ascending = token.text.upper() == "ASC"
        parser.advance()
    parser.expect_end("ASC, DESC or the end of the clause")
    return key, ascending
