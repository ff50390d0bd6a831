"""SQL over the lake for the Client: ``client.sql(...)``, now or as of the past."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    import duckdb

    from lakeml.query import QueryEngine
    from lakeml.tracking.backend import Backend

_MAX_PAST_ENGINES = 8  # one DuckDB database each; the oldest are dropped
_past_lock = threading.Lock()


class SqlAccess:
    """SQL over the lake for the lake tracking service (a part of it, sharing its backend)."""

    def __init__(self, backend: Backend) -> None:
        self._b = backend

    def _engine(self, as_of: Any = None) -> QueryEngine:
        if as_of is None:
            return self._b.engine
        from lakeml.query import QueryEngine
        from lakeml.query.as_of import parse_as_of

        key = repr(parse_as_of(as_of))
        with _past_lock:
            engines = self._b.past_engines
            engine = engines.pop(key, None) or QueryEngine(self._b.store, as_of=as_of)
            engines[key] = engine  # most recently used last
            while len(engines) > _MAX_PAST_ENGINES:
                engines.pop(next(iter(engines)))
        return engine

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None, *,
            as_of: Any = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the lake's views; returns a DuckDB relation (.df(), .arrow(), .pl()).

        Views: experiments, runs, params, metrics (full history), latest_metrics,
        tags, inputs, experiment_tags, and the raw append-only tables as
        ``lake_<table>``. ``as_of`` (a datetime, ISO string or
        ``store_versions()`` mapping) reads the store as it was then.

        Read-only: one query per call, reading only the store's tables (see
        :mod:`lakeml.query.sandbox`); any other statement, several statements,
        or a read of another file raises InvalidArgument naming it.

        Example:
            >>> lakeml.Client().sql("SELECT status, count(*) FROM runs GROUP BY 1").df()
            ... # doctest: +SKIP
        """
        if not isinstance(query, str):
            raise InvalidArgument(f"sql takes the query as a string, got "
                                  f"{type(query).__name__} {query!r:.80}")
        if params is not None and not isinstance(params, (list, tuple, Mapping)):
            raise InvalidArgument(f"sql params must be a list (for ?) or a dict (for $name), "
                                  f"got {type(params).__name__} {params!r:.80}")
        return self._engine(as_of).sql(query, params)

    def store_versions(self) -> dict[str, int]:
        """The current Delta version of every table: pass it as ``as_of`` to reread this state."""
        engine = self._b.engine
        engine.refresh()
        return engine.versions()
