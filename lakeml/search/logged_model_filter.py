"""MLflow's ``search_logged_models`` filter and order keys, read by the run filter's parser.

The grammar is the run filter's (:mod:`lakeml.search.filter_parser`) over the
vocabulary of MLflow 3's logged models:

* attributes, bare or as ``attribute.<name>``: ``name``, ``model_id``, ``model_type``,
  ``status`` (``PENDING``, ``READY``, ``FAILED``) and ``source_run_id`` with
  ``= != LIKE ILIKE IN NOT IN``; ``creation_timestamp`` and ``last_updated_timestamp``
  (epoch milliseconds) with ``= != < <= > >=``;
* ``tags.<key>`` with ``= != LIKE ILIKE IN NOT IN`` and ``IS [NOT] NULL``.

MLflow's ``metrics.`` and ``params.`` filters on logged models are not served (an
error names them). The SQL reads the searched models as ``m`` and their tags as the
key/value relation ``model_tags`` (``model_id, key, value``); every user-given key and
value is a ``?`` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from lakeml.errors import InvalidArgument
from lakeml.search.filter_parser import parse_with
from lakeml.search.keysets import Attribute, TableComparison, TableKeys
from lakeml.search.predicates import Sql

_ATTRIBUTES = {
    "name": Attribute("m.name"), "model_id": Attribute("m.model_id"),
    "model_type": Attribute("m.model_type"), "status": Attribute("m.status"),
    "source_run_id": Attribute("m.source_run_id"),
    "creation_timestamp": Attribute("epoch_ms(m.creation_time)", "number"),
    "last_updated_timestamp": Attribute("epoch_ms(m.timestamp)", "number"),
}
DEFAULT_ORDER = "m.creation_time DESC, m.model_id ASC"


class LoggedModelKeys(TableKeys):
    """The logged models' vocabulary (its messages name logged models)."""

    things = "logged models"

    def unknown(self, entity: str | None, key: str) -> str:
        if entity is None or entity.lower() in self.prefixes:
            return (f"unknown logged model attribute {key!r}; expected one of "
                    f"{', '.join(self.attributes)}")
        return super().unknown(entity, key)


@dataclass(frozen=True)
class LoggedModelComparison(TableComparison):
    """One test of a logged model: an attribute or ``tags.<key>``."""


LOGGED_MODEL_KEYS = LoggedModelKeys(
    "logged model filter", LoggedModelComparison, _ATTRIBUTES, tag_table="model_tags",
    tag_join="k.model_id = m.model_id", tag_nulls=True)
LoggedModelComparison.keys = LOGGED_MODEL_KEYS


def compile_logged_model_filter(text: str | None) -> Sql:
    """A boolean SQL expression over the models ``m`` for filter ``text``."""
    return LOGGED_MODEL_KEYS.compile(parse_with(LOGGED_MODEL_KEYS, text))


def compile_logged_model_order(order_by: Sequence[Any] | None) -> str:
    """The ORDER BY body for MLflow's order entries ``{field_name, ascending}`` (newest
    first by default; ties by model id)."""
    terms = []
    for entry in order_by or ():
        if not isinstance(entry, dict) or not isinstance(entry.get("field_name"), str):
            raise InvalidArgument(f"each order_by entry must be an object with a string "
                                  f"'field_name', got {entry!r:.80}")
        name = entry["field_name"].removeprefix("attributes.").removeprefix("attribute.")
        if name not in _ATTRIBUTES:
            raise InvalidArgument(f"logged models are sorted by {', '.join(_ATTRIBUTES)}, not "
                                  f"{entry['field_name']!r}")
        direction = "ASC" if entry.get("ascending", True) is not False else "DESC"
        terms.append(f"{_ATTRIBUTES[name].column} {direction} NULLS LAST")
    return ", ".join([*terms, DEFAULT_ORDER]) if terms else DEFAULT_ORDER
