"""lakeml's tables and views in Spark: the sql/ files, translated from DuckDB's dialect.

The views of sql/views/ are written once, in DuckDB's dialect; sqlglot
translates them (QUALIFY into a subquery, null ordering made explicit) so
the same definitions serve Spark. Each table is a temporary view
``lake_<table>`` over ``delta.`<path>```, re-read on every query, so the
views always show the latest commit.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from lakeml.errors import InvalidArgument
from lakeml.query import sqlfiles
from lakeml.spark.session import spark_path, table_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakeml.client import Client
    from lakeml.store.store import Store

# The session setting that remembers which store the views point at.
_VIEWS_STORE = "lakeml.views.store"


@cache
def to_spark(query: str) -> str:
    """DuckDB-dialect SQL as Spark SQL; ``$name`` parameters become ``:name``."""
    import sqlglot

    return sqlglot.transpile(query, read="duckdb", write="spark", comments=False)[0]


def resolve_store(store: Store | Client | str | None) -> Store:
    """The opened Store of a Client, a URI, a Store, or the configured default (None)."""
    from lakeml import fluent
    from lakeml.client import Client
    from lakeml.store.store import Store

    if isinstance(store, Store):
        return store.open()
    if isinstance(store, Client):
        return store.store
    if store is None or isinstance(store, str) or hasattr(store, "__fspath__"):
        return Client(store if store is not None else fluent.get_store_uri()).store
    raise InvalidArgument(f"store must be a URI, a Client or a Store, got {type(store).__name__}")


def _quoted_path(path: str) -> str:
    return "`" + path.replace("`", "``") + "`"


def register_views(spark: SparkSession, store: Store | Client | str | None = None) -> list[str]:
    """Register ``lake_<table>`` for every table and the views of sql/views/ as temporary
    views of ``spark``; returns the names of the views.

    Example:
        >>> lakeml.spark.register_views(spark, "/data/lake")    # doctest: +SKIP
        >>> spark.sql("SELECT count(*) FROM runs").show()       # doctest: +SKIP
    """
    resolved = resolve_store(store)
    for name in resolved.tables:
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW lake_{name} AS "
                  f"SELECT * FROM delta.{_quoted_path(table_path(resolved, name))}")
    for name, handle in resolved.grown.items():  # the growing tables, once written
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW lake_{name} AS " + (
            f"SELECT * FROM delta.{_quoted_path(spark_path(handle.uri))}" if handle.exists()
            else _empty_select(handle.schema)))
    names = []
    for name, statement in sqlfiles.view_definitions():
        spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {_view_body(statement)}")
        names.append(name)
    spark.conf.set(_VIEWS_STORE, resolved.uri)
    return names


@cache
def _view_body(statement: str) -> str:
    """The SELECT of a ``CREATE VIEW … AS SELECT`` file, in Spark's dialect."""
    import sqlglot

    create = sqlglot.parse_one(statement, read="duckdb")
    return create.expression.sql(dialect="spark", comments=False)


def _empty_select(schema: Any) -> str:
    """A SELECT of no rows with the columns of Arrow ``schema`` (a table not yet made)."""
    import pyarrow as pa

    def kind(t: Any) -> str:
        if pa.types.is_timestamp(t):
            return "TIMESTAMP"
        return {pa.string(): "STRING", pa.int64(): "BIGINT", pa.float64(): "DOUBLE",
                pa.bool_(): "BOOLEAN"}[t]

    columns = ", ".join(f"CAST(NULL AS {kind(f.type)}) AS `{f.name}`" for f in schema)
    return f"SELECT {columns} WHERE 1 = 0"


def _ensure_views(spark: SparkSession, store: Store | Client | str | None) -> None:
    wanted = resolve_store(store).uri
    if spark.conf.get(_VIEWS_STORE, None) != wanted:
        register_views(spark, wanted)


def view(spark: SparkSession, name: str,
         store: Store | Client | str | None = None) -> DataFrame:
    """View ``name`` of sql/views/ (or ``lake_<table>``) of ``store`` as a DataFrame."""
    known = [n for n, _ in sqlfiles.view_definitions()]
    resolved = resolve_store(store)
    if name not in known and name.removeprefix("lake_") not in resolved.tables:
        raise InvalidArgument(f"no lakeml view {name!r}; known: {known}")
    _ensure_views(spark, resolved)
    return spark.table(name)


def query(spark: SparkSession, name: str, store: Store | Client | str | None = None,
          **params: Any) -> DataFrame:
    """Run sql/queries/<name>.sql in Spark with named parameters.

    Example:
        >>> lakeml.spark.query(spark, "leaderboard", experiment_id="1", metric="rmse",
        ...                    ascending=True, limit=10)    # doctest: +SKIP
    """
    _ensure_views(spark, store)
    return spark.sql(to_spark(sqlfiles.query(name)), args=params)


def table(spark: SparkSession, name: str,
          store: Store | Client | str | None = None) -> DataFrame:
    """The raw append-only Delta table ``name`` (every row ever written)."""
    resolved = resolve_store(store)
    return spark.read.format("delta").load(table_path(resolved, name))
