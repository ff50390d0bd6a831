"""Compile a parsed run filter and ``order_by`` keys into parameterised DuckDB SQL.

The SQL runs in a query of the form::

    SELECT r.*, <OrderBy.columns> FROM runs AS r <OrderBy.joins>
    WHERE <compile_filter(...).sql> ORDER BY <OrderBy.clause> LIMIT ? OFFSET ?

:func:`compile_search` builds exactly that. User text never becomes SQL text:
every key and value is a ``?`` parameter; relation names come from
:class:`Relations` (checked to be plain identifiers) and attribute columns from
a fixed list.

Semantics, chosen to match MLflow's SQL store unless noted:

* Missing keys never match. A run without ``params.x`` matches neither
  ``params.x = 'a'`` nor ``params.x != 'a'`` nor ``params.x NOT IN ('a')``
  (MLflow inner-joins each comparison). ``IS NULL`` is the way to ask for it.
  A NULL attribute (``end_time`` of a running run, a run without a name) is
  the same: no comparison matches it.
* Metrics compare with the run's latest value. NaN follows IEEE/Python rules:
  it is not ``=``, ``<``, ``<=``, ``>`` or ``>=`` to any number, and it is
  ``!=`` every number. (DuckDB itself orders NaN above every number, so the
  compiled SQL guards with ``isnan``; MLflow's SQL store stores NaN as 0 and
  would match ``metrics.m = 0``, its file store agrees with lakeml.)
  ``inf``/``-inf`` compare as the largest/smallest numbers.
* ``start_time``/``end_time`` compare as epoch milliseconds: DuckDB's
  ``epoch_ms``, which rounds to the nearest millisecond, the value lakeml's
  reads report as ``RunInfo.start_time``. A NULL ``end_time`` matches nothing.
* ``LIKE`` is case-sensitive, ``ILIKE`` is not; ``%`` and ``_`` are always
  wildcards (no escape character). ``=`` is case-sensitive.
* Each ``datasets.*`` comparison asks whether *some* input of the run matches,
  independently of the other comparisons, as in MLflow.

Ordering (MLflow's rules): each key ascending unless ``DESC``; runs lacking the
key come last in either direction; a metric's NaN comes after every number and
before the runs lacking the metric, in either direction. Times sort by their
full (microsecond) value. Ties are broken by ``start_time DESC`` (unless
``start_time`` is already a key) and then ``run_id``, so the order is total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from lakeml.errors import InvalidArgument
from lakeml.search.filter_parser import parse_filter, parse_order_by
from lakeml.search.filter_tree import (
    ATTRIBUTES,
    DATASETS,
    METRICS,
    PARAMS,
    STRING_ATTRIBUTES,
    TAGS,
    TIME_ATTRIBUTES,
    Comparison,
    Node,
    OrderKey,
)
from lakeml.search.predicates import (
    Sql,
    compile_tree,
    keyed_exists,
    metric_predicate,
    predicate,
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")

# Columns by attribute or dataset field: SQL text comes from here, never from the filter.
_RUN_COLUMNS = {name: f"r.{name}" for name in STRING_ATTRIBUTES + TIME_ATTRIBUTES}
_INPUT_COLUMNS = {"name": "k.name", "digest": "k.digest", "context": "k.context"}
_WIDE_COLUMN = re.compile(r"c[0-9]+")
_NULL_OF = {METRICS: "NULL::DOUBLE", PARAMS: "NULL::VARCHAR", TAGS: "NULL::VARCHAR"}

# (entity, key) -> generated column of a one-row-per-run relation (see wide_value)
WideColumns = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class Relations:
    """The relations the compiled SQL reads; swap in materialised tables by name.

    Each name is a plain (optionally schema-qualified) identifier. The
    key/value relations have columns ``(run_id, key, value)`` with at most one
    row per ``(run_id, key)``; ``inputs`` has ``(run_id, name, digest,
    context, ...)``; ``runs`` has the run attributes.

    Example:
        >>> Relations(metrics="latest_metrics_mat").metrics
        'latest_metrics_mat'
    """

    metrics: str = "latest_metrics"
    params: str = "params"
    tags: str = "tags"
    inputs: str = "inputs"
    runs: str = "runs"

    def __post_init__(self) -> None:
        for field, name in vars(self).items():
            if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
                raise InvalidArgument(
                    f"Relations.{field} must be a plain SQL identifier such as "
                    f"'latest_metrics' or 'main.latest_metrics', got {name!r}")


@dataclass(frozen=True)
class OrderBy:
    """The pieces a search query needs to sort runs.

    Attributes:
        keys: the parsed order keys.
        columns: optional extra SELECT expressions (``o1.value AS order_1``…)
            that expose each sort value; ``clause`` does not depend on them.
        joins: ``LEFT JOIN`` clauses to put after ``FROM runs AS r`` (may be "").
        params: values of the ``?`` in ``joins``, in order; they come before
            the filter's parameters in the final query.
        clause: the body of the ORDER BY clause (without ``ORDER BY``).
    """

    keys: tuple[OrderKey, ...]
    columns: tuple[str, ...]
    joins: str
    params: tuple[Any, ...]
    clause: str


_DEFAULT_RELATIONS = Relations()


def _relations(relations: Relations | None) -> Relations:
    if relations is None:
        return _DEFAULT_RELATIONS
    if not isinstance(relations, Relations):
        raise InvalidArgument(f"relations must be a Relations, got {relations!r}")
    return relations


def compile_filter(tree: Node | str | None, relations: Relations | None = None, *,
                   wide: WideColumns | None = None) -> Sql:
    """A boolean SQL expression over ``runs AS r`` for a filter tree (or filter text).

    An empty filter compiles to ``TRUE``. With ``wide``, ``r`` has one row
    per run and a column per metric, param and tag key (see :func:`wide_value`)
    instead of the key/value relations.

    Raises:
        InvalidArgument: the filter text does not parse.

    Example:
        >>> compile_filter("metrics.m0 < 0.1 and params.p1 = 'a'").params
        ['m0', 0.1, 'p1', 'a']
    """
    if isinstance(tree, str):
        tree = parse_filter(tree)
    relations = _relations(relations)

    def leaf(node: Comparison, params: list[Any]) -> str:
        if wide is not None and node.entity in (METRICS, PARAMS, TAGS):
            return _compile_wide(node, wide_value(wide, node.entity, node.key), params)
        return _compile_comparison(node, relations, params)

    return compile_tree(tree, leaf)


def wide_value(wide: WideColumns, entity: str, key: str) -> str:
    """The SQL of ``entity.key``'s value in a wide relation ``r``: its generated column
    (``c0``, ``c1``…), or a typed NULL when no run has the key."""
    column = wide.get((entity, key))
    if column is None:
        return _NULL_OF[entity]
    if not _WIDE_COLUMN.fullmatch(column):
        raise InvalidArgument(f"wide column names are generated (c0, c1…), got {column!r}")
    return f"r.{column}"


def _compile_wide(node: Comparison, value: str, params: list[Any]) -> str:
    """A key comparison on a wide row: a missing key (NULL) matches nothing but IS NULL."""
    if node.op == "IS NULL":
        return f"{value} IS NULL"
    if node.op == "IS NOT NULL":
        return f"{value} IS NOT NULL"
    if node.entity == METRICS:
        test = metric_predicate(node, params, value)
    else:
        test = predicate(value, node, params)
    return f"({value} IS NOT NULL AND {test})"


def _compile_comparison(node: Comparison, relations: Relations, params: list[Any]) -> str:
    if node.entity == ATTRIBUTES:
        column = _RUN_COLUMNS[node.key]
        if node.key in TIME_ATTRIBUTES:
            column = f"epoch_ms({column})"
        return predicate(column, node, params)
    if node.entity == DATASETS:
        condition = predicate(_INPUT_COLUMNS[node.key], node, params)
        return (f"EXISTS (SELECT 1 FROM {relations.inputs} AS k "
                f"WHERE k.run_id = r.run_id AND {condition})")
    relation = {METRICS: relations.metrics, PARAMS: relations.params,
                TAGS: relations.tags}[node.entity]
    return keyed_exists(relation, "k.run_id = r.run_id", node, params,
                        metric_predicate if node.entity == METRICS else None)


def compile_order_by(order_by: Sequence[str] | None, relations: Relations | None = None, *,
                     wide: WideColumns | None = None) -> OrderBy:
    """The joins, columns and ORDER BY clause for MLflow ``order_by`` strings.

    Keys are ``metrics.<k>``, ``params.<k>``, ``tags.<k>``, ``attributes.<name>``
    or a bare attribute name (``start_time DESC``), each optionally followed
    by ``ASC`` or ``DESC``. A key may appear once.

    Raises:
        InvalidArgument: a clause does not parse or a key repeats.

    Example:
        >>> compile_order_by(["metrics.m0 ASC"]).clause  # doctest: +NORMALIZE_WHITESPACE
        'CASE WHEN o1.value IS NULL THEN 2 WHEN isnan(o1.value) THEN 1 ELSE 0 END,
         o1.value ASC, r.start_time DESC NULLS LAST, r.run_id ASC'
    """
    relations = _relations(relations)
    if isinstance(order_by, str):
        raise InvalidArgument(f"order_by must be a list of strings, got the string {order_by!r}")
    keys: list[OrderKey] = []
    for clause in order_by or ():
        key = parse_order_by(clause)
        if any((k.entity, k.key) == (key.entity, key.key) for k in keys):
            raise InvalidArgument(f"order_by names {key.entity}.{key.key} twice: "
                                  f"{list(order_by or ())!r}")
        keys.append(key)
    columns: list[str] = []
    joins: list[str] = []
    params: list[Any] = []
    terms: list[str] = []
    for number, key in enumerate(keys, start=1):
        direction = "ASC" if key.ascending else "DESC"
        if key.entity == ATTRIBUTES:
            value = _RUN_COLUMNS[key.key]
        elif wide is not None:
            value = wide_value(wide, key.entity, key.key)
        else:
            alias = f"o{number}"
            relation = {METRICS: relations.metrics, PARAMS: relations.params,
                        TAGS: relations.tags}[key.entity]
            joins.append(f"LEFT JOIN {relation} AS {alias} "
                         f"ON {alias}.run_id = r.run_id AND {alias}.key = ?")
            params.append(key.key)
            value = f"{alias}.value"
        columns.append(f"{value} AS order_{number}")
        if key.entity == METRICS:
            terms.append(f"CASE WHEN {value} IS NULL THEN 2 WHEN isnan({value}) THEN 1 "
                         f"ELSE 0 END")
            terms.append(f"{value} {direction}")
        else:
            terms.append(f"{value} {direction} NULLS LAST")
    if not any(k.entity == ATTRIBUTES and k.key == "start_time" for k in keys):
        terms.append("r.start_time DESC NULLS LAST")
    terms.append("r.run_id ASC")
    return OrderBy(tuple(keys), tuple(columns), " ".join(joins), tuple(params),
                   ", ".join(terms))


def compile_search(search_filter: Node | str | None = None, order_by: Sequence[str] | None = None,
                   relations: Relations | None = None, *, limit: int | None = None,
                   offset: int = 0, wide: WideColumns | None = None) -> Sql:
    """The whole search query: matching runs (``r.*`` and the sort values), in order.

    Example:
        >>> query = compile_search("params.p = 'a'", ["metrics.m DESC"], limit=10)
        >>> query.params
        ['m', 'p', 'a', 10, 0]
    """
    relations = _relations(relations)
    where = compile_filter(search_filter, relations, wide=wide)
    order = compile_order_by(order_by, relations, wide=wide)
    columns = "".join(f", {c}" for c in order.columns)
    joins = f" {order.joins}" if order.joins else ""
    sql = (f"SELECT r.*{columns} FROM {relations.runs} AS r{joins} "
           f"WHERE {where.sql} ORDER BY {order.clause}")
    params = [*order.params, *where.params]
    if limit is not None or offset:
        for name, number in (("limit", limit), ("offset", offset)):
            if number is not None and (not isinstance(number, int) or isinstance(number, bool)
                                       or number < 0):
                raise InvalidArgument(f"{name} must be a non-negative integer, got {number!r}")
        sql += " LIMIT ? OFFSET ?"
        params += [limit, offset]
    return Sql(sql, params)
