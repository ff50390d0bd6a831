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

from dataclasses import dataclass
from typing import Sequence

from lakeml.errors import InvalidArgument
from lakeml.search.filter_parser import Parser, parse_with, syntax_error
from lakeml.search.filter_tree import ATTRIBUTES, Node
from lakeml.search.keysets import Attribute, TableComparison, TableKeys
from lakeml.search.predicates import Sql

STRING_ATTRIBUTES = ("name",)
TIME_ATTRIBUTES = ("creation_time", "last_update_time")
ORDER_ATTRIBUTES = ("name", "experiment_id", *TIME_ATTRIBUTES)
_ATTRIBUTES = {"name": Attribute("e.name"),
               "creation_time": Attribute("epoch_ms(e.creation_time)", "number"),
               "last_update_time": Attribute("epoch_ms(e.last_update_time)", "number")}
_SORT_COLUMNS = {"name": "e.name", "creation_time": "e.creation_time",
                 "last_update_time": "e.last_update_time"}
DEFAULT_ORDER = ("creation_time DESC", "experiment_id ASC")


class ExperimentKeys(TableKeys):
    """The experiments' vocabulary (its messages name experiments)."""

    things = "experiments"

    def unknown(self, entity: str | None, key: str) -> str:
        if entity is None or entity.lower() in self.prefixes:
            return (f"unknown experiment attribute {key!r}; expected one of "
                    f"{', '.join(self.attributes)}")
        return super().unknown(entity, key)


@dataclass(frozen=True)
class ExperimentComparison(TableComparison):
    """One test of an experiment: ``attributes.name``, a time, or ``tags.<key>``."""


EXPERIMENT_KEYS = ExperimentKeys(
    "experiment filter", ExperimentComparison, _ATTRIBUTES, tag_table="experiment_tags",
    tag_join="k.experiment_id = e.experiment_id", tag_nulls=True)
ExperimentComparison.keys = EXPERIMENT_KEYS
# order_by names the id too (not a filter key: MLflow's filters do not)
_ORDER_KEYS = ExperimentKeys(
    "order_by clause", ExperimentComparison,
    {key: _ATTRIBUTES.get(key, Attribute("e.experiment_id")) for key in ORDER_ATTRIBUTES},
    tag_table="experiment_tags", tag_join="k.experiment_id = e.experiment_id", tag_nulls=True)


def parse_experiment_filter(text: str | None) -> Node | None:
    """Parse a ``search_experiments`` filter; None for an empty or blank one.

    Raises:
        InvalidArgument: the filter is not valid (the message points at the problem).

    Example:
        >>> parse_experiment_filter("name LIKE 'churn%'")
        ExperimentComparison(entity='attributes', key='name', op='LIKE', value='churn%')
    """
    return parse_with(EXPERIMENT_KEYS, text)


def compile_experiment_filter(tree: Node | None) -> Sql:
    """A boolean SQL expression over ``experiments AS e`` (``TRUE`` for no filter)."""
    return EXPERIMENT_KEYS.compile(tree)


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
    parser = Parser(clause, _ORDER_KEYS)
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
