"""search_registered_models and search_model_versions, one page at a time.

The filter grammar and its SQL live in :mod:`lakeml.search.registry_filter`, loaded
on first search (its parser is not needed by ``import lakeml``).
"""

from __future__ import annotations

from typing import Any

from lakeml import arguments
from lakeml.entities.model_version import STAGES
from lakeml.errors import InvalidArgument
from lakeml.registry.base import RegistryBase


class RegistrySearch(RegistryBase):
    """Registry search: a part of the lake registry service."""

    def _registry_page(self, query: str, params: list[Any], max_results: int,
                       page_token: str | None,
                       fingerprint: str) -> tuple[list[tuple], str | None]:
        """One page of ``query``'s rows (``max_results`` already checked by the caller)."""
        from lakeml.search.paging import decode_page_token, encode_page_token

        page_token = arguments.page_token(page_token)
        offset = decode_page_token(page_token, fingerprint) if page_token else 0
        cur = self._cursor()
        rows = cur.execute(f"{query} LIMIT ? OFFSET ?",
                           [*params, max_results + 1, offset]).fetchall()
        token = encode_page_token(offset + max_results, fingerprint) if len(rows) > max_results \
            else None
        return rows[:max_results], token

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = 10_000,
                              order_by: list[str] | None = None,
                              page_token: str | None = None):  # noqa: ANN201 - PagedList
        """Model versions matching ``filter_string`` (e.g. ``"name = 'churn' AND
        tags.team = 'risk'"``), one page; ``.token`` fetches the next."""
        from lakeml.search import registry_filter as filters
        from lakeml.search.paging import PagedList

        filter_string = arguments.filter_string(filter_string)
        order_by = arguments.string_list(order_by, "order_by")
        max_results = arguments.count(max_results, default=10_000)
        where = filters.compile_filter(filter_string, versions=True)
        params = list(where.params)
        pin = ""
        if where.pinned_name is not None:  # lets DuckDB fold one model's events only
            try:
                found = self._model(self._cursor(), where.pinned_name, missing_ok=True)
            except InvalidArgument:  # a name no model can have: nothing matches
                found = None
            pin, params = "x.model_id = ? AND ", [found.model_id if found else "", *params]
        # MLflow's default order: the latest change first
        order = filters.compile_order(order_by or ["last_updated_timestamp DESC"],
                                      filters.VERSION_ORDER, ["x.name ASC", "x.version DESC"])
        query = (f"SELECT x.model_id, x.version FROM model_versions AS x WHERE {pin}{where.sql} "
                 f"ORDER BY {order}")
        rows, token = self._registry_page(query, params, max_results, page_token,
                                          f"v|{filter_string}|{order_by}")
        cur = self._cursor()
        states = {model_id: self._fold(cur, model_id) for model_id in {r[0] for r in rows}}
        return PagedList([states[m].model_version(n) for m, n in rows], token)

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = 100,
                                 order_by: list[str] | None = None,
                                 page_token: str | None = None):  # noqa: ANN201 - PagedList
        """Registered models matching ``filter_string`` (``name LIKE 'device-%'``,
        ``tags.owner = 'ana'``), one page; ``.token`` fetches the next."""
        from lakeml.search import registry_filter as filters
        from lakeml.search.paging import PagedList

        filter_string = arguments.filter_string(filter_string)
        order_by = arguments.string_list(order_by, "order_by")
        max_results = arguments.count(max_results, default=100)
        where = filters.compile_filter(filter_string, versions=False)
        order = filters.compile_order(order_by, filters.MODEL_ORDER, ["x.name ASC"])
        query = (f"SELECT x.model_id FROM registered_models AS x WHERE {where.sql} "
                 f"ORDER BY {order}")
        rows, token = self._registry_page(query, list(where.params), max_results, page_token,
                                          f"m|{filter_string}|{order_by}")
        cur = self._cursor()
        return PagedList([self._fold(cur, r[0]).registered_model(STAGES) for r in rows], token)

