"""Views over the tables whose columns grow (``inference_log``, ``inference_labels``,
``monitor_metrics``; see :mod:`lakeml.store.open_tables`).

The fixed tables' ``lake_<table>`` views select the columns their schema names. A
growing table gains a column per model input, so its view's columns are read per
Delta version: the table's schema at that version, in its order. The data files of an
older version lack the newer columns (DuckDB's ``union_by_name`` fills NULLs); a
column that no file holds (its files were all replaced) is a typed NULL, so a query
naming it still binds. Types come from the schema through the one Arrow→DuckDB map
(:func:`lakeml.query.lake.duckdb_type`) and, for the model-chosen types it does not
list (int32, float32, …), through DuckDB's own Arrow conversion. (The map is handed
in: lake.py imports this module.)
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from lakeml.sqltext import identifier, read_files

if TYPE_CHECKING:
    import pyarrow as pa


def duckdb_types(schema: pa.Schema, type_of: Callable[[Any], str]) -> dict[str, str]:
    """Each column of ``schema`` with its DuckDB type: by ``type_of`` (the lake's map)
    when it knows every column's type, else by DuckDB's own Arrow conversion."""
    try:
        return {f.name: type_of(f.type) for f in schema}
    except TypeError:
        import duckdb

        with duckdb.connect() as con:  # closed: a view refresh calls this often
            relation = con.from_arrow(schema.empty_table())
            return {name: str(kind) for name, kind in zip(relation.columns, relation.types)}


def empty_ddl(schema: pa.Schema, type_of: Callable[[Any], str]) -> str:
    """The columns of a CREATE TABLE holding no rows of ``schema``."""
    return ", ".join(f"{identifier(name)} {kind}"
                     for name, kind in duckdb_types(schema, type_of).items())


def source(schema: pa.Schema, files: list[str], type_of: Callable[[Any], str]) -> str:
    """A FROM item with the columns of ``schema`` over ``files`` (never empty)."""
    scan = read_files(files)
    in_files = set().union(*(file_columns(f) for f in files))
    missing = [f for f in schema if f.name not in in_files]
    if not missing:
        return scan
    types = duckdb_types(schema, type_of)
    nulls = ", ".join(f"CAST(NULL AS {types[f.name]}) AS {identifier(f.name)}" for f in missing)
    return f"(SELECT *, {nulls} FROM {scan})"


_COLUMNS: dict[str, frozenset[str]] = {}  # data files never change: read each footer once
_COLUMNS_KEPT = 200_000
_columns_lock = threading.Lock()


def file_columns(path: str) -> frozenset[str]:
    """The column names in the Parquet footer of data file ``path`` (remembered: a
    logger committing every second adds a file a second, and a view follows each)."""
    import pyarrow.parquet as pq

    with _columns_lock:
        known = _COLUMNS.get(path)
    if known is None:
        known = frozenset(pq.read_schema(path).names)
        with _columns_lock:
            if len(_COLUMNS) >= _COLUMNS_KEPT:
                _COLUMNS.clear()
            _COLUMNS[path] = known
    return known
