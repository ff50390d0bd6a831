"""The vocabularies of lakeml's searches: what a filter of each may name, and how.

One parser (:mod:`lakeml.search.filter_parser`) reads every search's filters:
runs, experiments, registered models and model versions. What differs is the
*key set*: which prefixes and names exist, which operators and values each
takes, the SQL column of each attribute and the relation of each keyed entity
(tags). A key set answers the parser's questions and makes the tree's nodes.

:class:`RunKeys` is the run search's (metrics, params, tags, attributes,
datasets; see :mod:`lakeml.search.filter_tree`). :class:`TableKeys` describes
a search over one relation ``x`` whose attributes are columns and whose tags
sit in a key/value table: experiments (:mod:`lakeml.search.experiment_filter`)
and the registry's models and versions (:mod:`lakeml.search.registry_filter`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from lakeml.errors import InvalidArgument
from lakeml.search.filter_tree import (
    ATTRIBUTE_ALIASES,
    ATTRIBUTES,
    DATASETS,
    ENTITY_ALIASES,
    LIST_OPS,
    NULL_OPS,
    NUMERIC_OPS,
    STRING_ATTRIBUTES,
    STRING_OPS,
    TAGS,
    TIME_ATTRIBUTES,
    Comparison,
    Node,
    allowed_ops,
    attribute_problem,
    entity_list,
    key_problem,
    value_kind,
)
from lakeml.search.predicates import Sql, compile_tree, keyed_exists, predicate


class KeySet:
    """A search's vocabulary, as the parser asks it; the run search's by default.

    Attributes:
        what: how error messages name the text ("filter", "experiment filter"…).
        identifier_expected: what an error says belongs where a name is missing.
        op_aliases: other spellings of operators this search accepts (``<>``).
        terse_operator_errors: a wrong operator is reported as "expected one of
            <the key's operators>, found …" (the registry's wording).
        node: the Comparison class the parser builds (it checks itself).
    """

    what = "filter"
    identifier_expected = ("an identifier such as metrics.<key>, params.<key>, tags.<key>, "
                           "attributes.<name>, datasets.<field> or a run attribute")
    op_aliases: Mapping[str, str] = {}
    terse_operator_errors = False
    node: type[Comparison] = Comparison

    def resolve(self, entity: str | None, key: str) -> tuple[str, str] | str:
        """The canonical ``(entity, key)`` of a split identifier (entity None: a bare
        name), or the message saying why it names nothing."""
        if entity is None:
            canonical = ATTRIBUTE_ALIASES.get(key, key)
            if canonical == "lifecycle_stage":
                return attribute_problem(canonical)
            if canonical not in STRING_ATTRIBUTES + TIME_ATTRIBUTES:
                return (f"unknown identifier {key!r}: expected metrics.<key>, params.<key>, "
                        f"tags.<key>, attributes.<name>, datasets.<field>, or one of the run "
                        f"attributes {', '.join(STRING_ATTRIBUTES + TIME_ATTRIBUTES)}")
            return ATTRIBUTES, canonical
        canonical_entity = ENTITY_ALIASES.get(entity.lower())
        if canonical_entity is None:
            return (f"unknown entity {entity!r}: expected one of {entity_list()} (or metric, "
                    f"param, tag, attribute, attr, run, dataset)")
        if canonical_entity == ATTRIBUTES:
            key = ATTRIBUTE_ALIASES.get(key, key)
        return canonical_entity, key

    def key_problem(self, entity: str, key: object) -> str | None:
        """Why ``entity.key`` cannot be searched, or None."""
        return key_problem(entity, key)

    def allowed_ops(self, entity: str, key: str) -> tuple[str, ...]:
        """The operators ``entity.key`` takes."""
        return allowed_ops(entity, key)

    def value_kind(self, entity: str, key: str, op: str) -> str:
        """What follows ``op``: ``number``, ``integer``, ``string``, ``list``,
        ``integer list`` or ``none``."""
        return value_kind(entity, key, op)

    def subject(self, entity: str, key: str) -> str:
        """How messages name what ``entity.key`` is."""
        if entity == ATTRIBUTES:
            return f"the attribute {key}"
        if entity == DATASETS:
            return f"datasets.{key}"
        return entity


RUN_KEYS = KeySet()


@dataclass(frozen=True)
class Attribute:
    """A searchable attribute of a :class:`TableKeys` search: its SQL column (over the
    searched relation) and kind: ``string``, ``number`` (a time in epoch ms) or
    ``integer``."""

    column: str
    kind: str = "string"


class TableKeys(KeySet):
    """The vocabulary of a search over one relation: attributes that are its columns
    (bare, or after one of ``attribute_prefixes``) and tags (after one of
    ``tag_prefixes``) in a key/value ``tag_table`` joined by ``tag_join``.

    ``tag_nulls``: tags also take ``IS [NOT] NULL``. ``node`` is the
    :class:`TableComparison` subclass whose ``keys`` is this key set. Subclasses
    word the messages for unknown names (:meth:`unknown`).
    """

    things = "rows"  # what messages call the searched things
    entity_prefixes = "attribute.<name> and tags.<key>"

    def __init__(self, what: str, node: type[TableComparison],
                 attributes: Mapping[str, Attribute], *,
                 tag_table: str, tag_join: str, tag_nulls: bool,
                 attribute_prefixes: tuple[str, ...] = ("attribute", "attributes", "attr"),
                 tag_prefixes: tuple[str, ...] = ("tag", "tags")) -> None:
        self.what = what
        self.node = node
        self.attributes = dict(attributes)
        self.tag_table, self.tag_join, self.tag_nulls = tag_table, tag_join, tag_nulls
        self.prefixes = {**{p: ATTRIBUTES for p in attribute_prefixes},
                         **{p: TAGS for p in tag_prefixes}}

    def unknown(self, entity: str | None, key: str) -> str:
        """The message for a name this search does not know."""
        if entity is not None and entity.lower() not in self.prefixes:
            return (f"unknown entity {entity!r}: {self.things} are searched by "
                    f"{self.entity_prefixes}")
        return f"unknown attribute {key!r}; expected one of {', '.join(self.attributes)}"

    def resolve(self, entity: str | None, key: str) -> tuple[str, str] | str:
        canonical = ATTRIBUTES if entity is None else self.prefixes.get(entity.lower())
        if canonical is None or (canonical == ATTRIBUTES and key not in self.attributes):
            return self.unknown(entity, key)
        return canonical, key

    def key_problem(self, entity: str, key: object) -> str | None:
        if entity not in (ATTRIBUTES, TAGS):
            return f"{self.things} are searched by attributes and tags, not {entity!r}"
        if not isinstance(key, str) or not key:
            return f"the key must be a non-empty string, got {key!r}"
        if entity == ATTRIBUTES and key not in self.attributes:
            return self.unknown(None, key)
        return None

    def allowed_ops(self, entity: str, key: str) -> tuple[str, ...]:
        if entity == TAGS:
            return STRING_OPS + NULL_OPS if self.tag_nulls else STRING_OPS
        kind = self.attributes[key].kind
        if kind == "integer":
            return NUMERIC_OPS + LIST_OPS
        return NUMERIC_OPS if kind == "number" else STRING_OPS

    def value_kind(self, entity: str, key: str, op: str) -> str:
        kind = "string" if entity == TAGS else self.attributes[key].kind
        if op in NULL_OPS:
            return "none"
        if op in LIST_OPS:
            return "integer list" if kind == "integer" else "list"
        return kind

    def problem(self, node: Comparison, value: object) -> str | None:
        """Why ``node`` (holding ``value``) is no valid comparison of this search, or None."""
        problem = self.key_problem(node.entity, node.key)
        if problem is None and node.op not in self.allowed_ops(node.entity, node.key):
            problem = f"operator {node.op!r} is not allowed for {node.entity}.{node.key}"
        kind = self.value_kind(node.entity, node.key, node.op) if problem is None else ""
        if kind == "number" and (not isinstance(value, float) or math.isnan(value)):
            return f"{node.op} needs a number, got {value!r}"
        if kind == "integer" and not _is_int(value):
            return f"{node.op} needs a whole number, got {value!r}"
        if kind in ("list", "integer list"):
            item_ok = _is_int if kind == "integer list" else (lambda v: isinstance(v, str))
            if not (isinstance(value, tuple) and value and all(item_ok(v) for v in value)):
                what = "whole numbers" if kind == "integer list" else "strings"
                return f"{node.op} needs a non-empty tuple of {what}, got {value!r}"
        if kind == "string" and not isinstance(value, str):
            return f"{node.op} needs a string, got {value!r}"
        if kind == "none" and value is not None:
            return f"{node.op} takes no value, got {value!r}"
        return problem

    def compile(self, tree: Node | None) -> Sql:
        """A boolean SQL expression over the searched relation (``TRUE`` for no filter);
        every key and value a ``?`` parameter."""
        return compile_tree(tree, self._leaf)

    def _leaf(self, node: Node, params: list[Any]) -> str:
        if not isinstance(node, self.node):
            raise InvalidArgument(f"expected a {self.what} node, got {node!r}")
        if node.entity == ATTRIBUTES:
            return predicate(self.attributes[node.key].column, node, params)
        return keyed_exists(self.tag_table, self.tag_join, node, params)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class TableComparison(Comparison):
    """One test of a :class:`TableKeys` search (an attribute or ``tags.<key>``), checked
    against the subclass's key set ``keys`` when built."""

    keys: ClassVar[TableKeys]

    def __post_init__(self) -> None:
        value = self._normalize_value()
        problem = self.keys.problem(self, value)
        if problem:
            raise InvalidArgument(f"invalid comparison {self!r}: {problem}")

    def _normalize_value(self) -> float | str | tuple | None:
        """Lists as tuples, and ints as floats where a number (not a whole one) is due."""
        value = self.value
        if isinstance(value, list):
            value = tuple(value)
        if _is_int(value) and self._kind() == "number":
            value = float(value)  # type: ignore[arg-type]
        object.__setattr__(self, "value", value)
        return value

    def _kind(self) -> str:
        keys = self.keys
        if keys.key_problem(self.entity, self.key) is not None or \
                self.op not in keys.allowed_ops(self.entity, self.key):
            return ""
        return keys.value_kind(self.entity, self.key, self.op)
