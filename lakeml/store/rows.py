"""One row builder per table, generated from store/schemas.py: column order is written once.

A writer builds a row by keyword and gets what the batched writer takes, a
plain tuple in the table's column order with None for each column not given::

    rows.tags(run_id=run_id, key=key, value=text, deleted=False, timestamp=now_us(),
              seq=store.clock.next())

A column the table lacks raises InvalidArgument naming it. Adding a column is
then a change to schemas.py and to the writers that fill it, never to a list
of positions. ``to_arrow`` turns such rows into an Arrow table of the schema.

Why a generated keyword function, not a NamedTuple: building a namedtuple by
keyword costs about four times as much (the class call, then ``__new__``), on
paths that log thousands of rows a second, and the writer zips plain tuples into
Arrow columns just the same. The one row built without a builder is
log_metric's: Writer.append_metric takes the columns positionally, in the order
its signature documents and a test holds to the schema.
"""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from lakeml.errors import InvalidArgument
from lakeml.store import schemas

if TYPE_CHECKING:
    import pyarrow as pa

RowBuilder = Callable[..., tuple[Any, ...]]


def _refuse(table: str, unknown: Mapping[str, Any]) -> None:
    columns = ", ".join(schemas.TABLES[table].names)
    raise InvalidArgument(f"table {table!r} has no column {', '.join(map(repr, unknown))}; "
                          f"its columns: {columns}")


def _builder(table: str, schema: pa.Schema) -> RowBuilder:
    """``table(*, col=None, ...) -> tuple``: its columns as keyword-only parameters.

    Generated source (as ``collections.namedtuple`` does) so that a call costs what
    a hand-written function would: no per-call walk over the column names.
    """
    names = schema.names
    for name in names:
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ValueError(f"column {name!r} of table {table!r} cannot be a keyword; "
                             "name columns like Python identifiers")
    source = (f"def {table}(*, {', '.join(f'{n}=None' for n in names)}, **_unknown):\n"
              f"    if _unknown:\n"
              f"        _refuse({table!r}, _unknown)\n"
              f"    return ({', '.join(names)},)\n")
    namespace: dict[str, Any] = {"_refuse": _refuse}
    exec(source, namespace)  # noqa: S102 - the source is built from schemas.py alone
    build = namespace[table]
    build.__module__ = __name__
    build.__qualname__ = table
    build.__doc__ = (f"A row of table {table!r}: the tuple ({', '.join(names)}), "
                     "None for the columns not given.")
    return build


# table name -> its row builder, for every table of schemas.TABLES
ROWS: dict[str, RowBuilder] = {name: _builder(name, schema)
                               for name, schema in schemas.TABLES.items()}

experiments = ROWS["experiments"]
experiment_tags = ROWS["experiment_tags"]
runs = ROWS["runs"]
params = ROWS["params"]
tags = ROWS["tags"]
inputs = ROWS["inputs"]
metrics = ROWS["metrics"]
logged_models = ROWS["logged_models"]
logged_model_states = ROWS["logged_model_states"]
registry_log = ROWS["registry_log"]
workflow_steps = ROWS["workflow_steps"]
workflow_lineage = ROWS["workflow_lineage"]


def to_arrow(table: str, rows: Sequence[tuple[Any, ...]],
             schema: pa.Schema | None = None) -> pa.Table:
    """``rows`` (tuples in column order, as the builders make them) as an Arrow table of
    ``table``'s schema (or ``schema``); ValueError naming a non-nullable column that
    holds a null (Arrow itself would accept it)."""
    import pyarrow as pa

    schema = schemas.TABLES[table] if schema is None else schema
    columns = list(zip(*rows))
    arrays = [pa.array(col, type=field.type) for col, field in zip(columns, schema)]
    for array, field in zip(arrays, schema):
        if array.null_count and not field.nullable:
            raise ValueError(f"column {field.name!r} of table {table!r} must not be null")
    return pa.Table.from_arrays(arrays, schema=schema)
