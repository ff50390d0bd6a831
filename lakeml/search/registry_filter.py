"""The registry's search filters and order_by keys: the key sets of registered models
and model versions, read by the one filter parser and compiled to SQL.

Grammar (MLflow's, plus OR and parentheses as in run search; the quoting and
literals of :mod:`lakeml.search.filter_parser`)::

    filter     := and (OR and)*
    and        := primary (AND primary)*
    primary    := '(' filter ')' | key op value
    key        := name | version_number | run_id | source_path | current_stage
                  | user_id | status | tags.<key> | tags.`key with spaces`
                  (tag.<key> works as tags.<key>, as in MLflow)
    op         := = | != | <> | LIKE | ILIKE | IN | NOT IN   (and < <= > >= on version_number)

``version_number`` compares with whole numbers (``3`` or ``'3'``). Keys map
to fixed SQL columns of the searched relation ``x`` and every value is a
``?`` parameter: filter text never becomes SQL text. Registered-model search
knows ``name`` and ``tags.<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lakeml.errors import InvalidArgument
from lakeml.search.filter_parser import parse_with
from lakeml.search.filter_tree import ATTRIBUTES, And, Comparison, Node, Or
from lakeml.search.keysets import Attribute, TableComparison, TableKeys

_VERSION_KEYS = {"name": "name", "version_number": "version", "version": "version",
                 "run_id": "run_id", "source_path": "source", "source": "source",
                 "current_stage": "current_stage", "user_id": "user_id", "status": "status"}
_MODEL_KEYS = {"name": "name"}
VERSION_ORDER = {"name": "name", "version_number": "version", "version": "version",
                  "creation_timestamp": "creation_timestamp",
                  "last_updated_timestamp": "last_updated_timestamp",
                  "current_stage": "current_stage", "run_id": "run_id"}
MODEL_ORDER = {"name": "name", "creation_timestamp": "creation_timestamp",
                "last_updated_timestamp": "last_updated_timestamp",
                "timestamp": "last_updated_timestamp"}  # MLflow's alias


class RegistryKeys(TableKeys):
    """The vocabulary of a registry search: bare attribute names (no ``attribute.``
    prefix), ``tags.<key>``; the registry's wording of errors."""

    things = "models"
    identifier_expected = "a key such as name or tags.<key>"
    op_aliases = {"<>": "!="}
    terse_operator_errors = True

    def unknown(self, entity: str | None, key: str) -> str:
        name = key if entity is None else f"{entity}.{key}"
        return f"unknown key {name!r}; valid: {', '.join(self.attributes)}, tags.<key>"


@dataclass(frozen=True)
class VersionComparison(TableComparison):
    """One test of a model version: an attribute or ``tags.<key>``."""


@dataclass(frozen=True)
class ModelComparison(TableComparison):
    """One test of a registered model: ``name`` or ``tags.<key>``."""


def _attributes(keys: dict[str, str]) -> dict[str, Attribute]:
    return {key: Attribute(f"x.{column}", "integer" if column == "version" else "string")
            for key, column in keys.items()}


VERSION_KEYS = RegistryKeys(
    "model version filter", VersionComparison, _attributes(_VERSION_KEYS),
    tag_table="model_version_tags", tag_join="k.model_id = x.model_id AND k.version = x.version",
    tag_nulls=False, attribute_prefixes=())
VersionComparison.keys = VERSION_KEYS
MODEL_KEYS = RegistryKeys(
    "registered model filter", ModelComparison, _attributes(_MODEL_KEYS),
    tag_table="registered_model_tags", tag_join="k.model_id = x.model_id", tag_nulls=False,
    attribute_prefixes=())
ModelComparison.keys = MODEL_KEYS


@dataclass
class Compiled:
    """A WHERE clause, its parameters, and the model name it pins (if any)."""

    sql: str
    params: list[Any]
    pinned_name: str | None = None


def compile_filter(text: str | None, *, versions: bool) -> Compiled:
    """The WHERE clause of a registry search (``x`` is the searched relation)."""
    if text is None or not str(text).strip():
        return Compiled("TRUE", [])
    keys = VERSION_KEYS if versions else MODEL_KEYS
    tree = parse_with(keys, text)
    sql, params = keys.compile(tree)
    return Compiled(sql, params, _pinned_name(tree))


def _pinned_name(tree: Node | None) -> str | None:
    """The one name that ``name = '…'`` tests joined by AND alone require, if any (a
    search within one model: its events alone are folded)."""
    names: set[object] = set()
    pending = [] if tree is None else [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, Or):
            return None
        if isinstance(node, And):
            pending.extend(node.items)
        elif isinstance(node, Comparison) and (node.entity, node.key, node.op) == (
                ATTRIBUTES, "name", "="):
            names.add(node.value)
    return names.pop() if len(names) == 1 else None  # type: ignore[return-value]


def compile_order(order_by: list[str] | None, columns: dict[str, str], tie: list[str]) -> str:
    """ORDER BY clause from ``["name ASC", "version_number DESC"]``-style keys."""
    parts = []
    for item in order_by or []:
        words = str(item).split()
        if not words or len(words) > 2 or words[0] not in columns or (
                len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise InvalidArgument(f"invalid order_by {item!r}: use '<key> [ASC|DESC]' with "
                                  f"key one of {', '.join(columns)}")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        parts.append(f"x.{columns[words[0]]} {direction} NULLS LAST")
    used = {p.split()[0] for p in parts}
    parts += [t for t in tie if t.split()[0] not in used]
    return ", ".join(parts)
