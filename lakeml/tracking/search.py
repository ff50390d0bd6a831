"""search_runs: MLflow's run search over the lake, as Run pages or one wide table.

The filter and order keys are parsed and compiled by :mod:`lakeml.search`
into parameterised SQL over the engine's in-memory current state, one row per
run (see :mod:`lakeml.query.run_state`), which also selects the page; the wide
tables are read by :mod:`lakeml.query.wide`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Callable, Sequence

from lakeml import arguments
from lakeml.entities import ViewType
from lakeml.errors import InvalidArgument
from lakeml.search import (
    Relations,
    Sql,
    compile_filter,
    compile_order_by,
    keys_of,
    parse_filter,
    parse_order_by,
)
from lakeml.search.paging import PagedList, decode_page_token, encode_page_token

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from lakeml.query.run_state import StateColumns
    from lakeml.query.wide import WidePage
    from lakeml.tracking.backend import Backend
    from lakeml.tracking.reads import RunReads

# MLflow's bounds of one search page (SEARCH_MAX_RESULTS_DEFAULT and _THRESHOLD)
DEFAULT_MAX_RESULTS = 1000
MAX_RESULTS_LIMIT = arguments.SEARCH_MAX_RESULTS


def check_max_results(max_results: object, *, default: int = DEFAULT_MAX_RESULTS,
                      limit: int | None = MAX_RESULTS_LIMIT) -> int:
    """``max_results`` of a search page, checked as MLflow does; None means ``default``.

    Raises:
        InvalidArgument: not a positive integer, or above ``limit`` (when given).
    """
    return arguments.count(max_results, default=default,  # type: ignore[return-value]
                           limit=arguments.MAX_COUNT if limit is None else limit)




class RunSearch:
    """Run search of the lake tracking service (a part of it, sharing its backend; pages of
    Run objects come from the run reads part)."""

    def __init__(self, backend: Backend, reads: RunReads) -> None:
        self._b = backend
        self._reads = reads

    def _matching(self, experiment_ids: Sequence[str], filter_string: str | None,
                  run_view_type: ViewType | int | str, order_by: Sequence[str] | None,
                  shown: Sequence[tuple[str, str]] = (), run_columns: Sequence[str] = ()
                  ) -> tuple[StateColumns, Callable[..., Sql]]:
        """The state the search reads, and a function of (limit, offset[, picks]) giving
        the SQL that selects the matching runs' ids (or ``picks``), in order. The state
        also holds the ``shown`` keys ((entity, key)) and ``run_columns``."""
        from lakeml.query.run_state import STATE_TABLE, select_runs

        tree = parse_filter(filter_string)
        order_keys = [parse_order_by(o) for o in order_by or ()]
        found = keys_of(tree, order_keys, ("metrics", "params", "tags", "attributes"))
        attributes = found.pop("attributes")
        for entity, key in shown:
            found[entity].add(key)
        state = self._b.engine.run_state.prepare(found, run_columns={*attributes,
                                                                     *run_columns})
        relations = Relations(runs=STATE_TABLE)
        where = compile_filter(tree, relations, wide=state.columns)
        # MLflow's default order: newest start first (then run id, added by the compiler)
        order = compile_order_by(list(order_by or ["attributes.start_time DESC"]),
                                 relations, wide=state.columns)
        stages = list(ViewType.parse(run_view_type).stages())
        select = select_runs(where, order.clause, [str(e) for e in experiment_ids], stages)
        return state, lambda limit, offset, *picks: Sql(*select(limit, offset, *picks))

    def search_runs(self, experiment_ids: Sequence[str] | str, filter_string: str = "",
                    run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                    max_results: int | None = DEFAULT_MAX_RESULTS,
                    order_by: Sequence[str] | None = None,
                    page_token: str | None = None) -> PagedList:
        """Runs matching MLflow's filter grammar, a page at a time.

        ``max_results`` is 1 to 50,000 (MLflow's limit; None: 1,000); ``.token``
        of the page returned, passed as ``page_token``, fetches the next page.

        Example:
            >>> page = client.search_runs([exp_id], "metrics.rmse < 0.5 and params.alpha = '1'",
            ...                           order_by=["metrics.rmse ASC"], max_results=10)
            ... # doctest: +SKIP
            >>> page.token    # pass as page_token for the next page     # doctest: +SKIP
        """
        experiment_ids, filter_string, order_by = _search_args(experiment_ids, filter_string,
                                                               order_by)
        max_results = check_max_results(max_results)
        page_token = arguments.page_token(page_token)
        fingerprint = json.dumps([sorted(map(str, experiment_ids)), filter_string,
                                  str(run_view_type), list(order_by or ())])
        offset = decode_page_token(page_token, fingerprint) if page_token else 0
        _, select = self._matching(experiment_ids, filter_string, run_view_type, order_by)
        sql, params = select(max_results + 1, offset)
        ids = [r for (r,) in self._b.engine.rows(sql, params, tables=())]
        more = len(ids) > max_results
        runs = self._reads._runs_by_id(ids[:max_results])
        return PagedList(runs, encode_page_token(offset + max_results, fingerprint) if more
                         else None)

    def search_runs_table(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None, *,
                          columns: Sequence[str] | None = None) -> pa.Table:
        """Matching runs as one wide Arrow table with MLflow's search_runs columns.

        ``columns`` (``metrics.<key>``, ``params.<key>``, ``tags.<key>``): only those key
        columns, after the run columns; a key no matching run has is left out, as it is
        without ``columns``. A page of a table showing a few columns then costs what its
        cells do (read from the engine's run state) rather than every key of its runs.
        """
        from lakeml.query import wide

        if columns is not None:
            return self._shown_page(experiment_ids, filter_string, run_view_type,
                                    max_results, order_by, columns)
        page = self._runs_page(experiment_ids, filter_string, run_view_type, max_results,
                               order_by)
        return page.to_arrow() if isinstance(page, wide.WidePage) else page

    def _shown_page(self, experiment_ids: Sequence[str], filter_string: str,
                    run_view_type: ViewType | int | str, max_results: int | None,
                    order_by: Sequence[str] | None, columns: Sequence[str]) -> pa.Table:
        """:meth:`search_runs_table` with ``columns``: one query over the run state,
        which is made to hold those keys too (once; it keeps them while it can)."""
        from lakeml.query.run_state import (
            PAGE_COLUMNS,
            PAGE_RUN_COLUMNS,
            StateColumns,
            picked_rows,
        )
        from lakeml.query.wide import from_state

        experiment_ids, filter_string, order_by = _search_args(experiment_ids, filter_string,
                                                               order_by)
        max_results = arguments.count(max_results)
        shown = list(dict.fromkeys(key_column(c) for c in
                                   arguments.string_list(columns, "columns")))
        state, select = self._matching(experiment_ids, filter_string, run_view_type,
                                       order_by, shown, PAGE_RUN_COLUMNS)
        held = {key: state.columns[key] for key in shown if key in state.columns}
        picks = PAGE_COLUMNS + "".join(f", r.{column}" for column in held.values())
        con = self._b.engine.connection().cursor()
        try:
            rows = picked_rows(con, select, max_results, picks)
        finally:
            con.close()
        return from_state(rows, StateColumns(held, True))

    def search_runs_frame(self, experiment_ids: Sequence[str],
                          filter_string: str = "",
                          run_view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                          max_results: int | None = None,
                          order_by: Sequence[str] | None = None) -> pd.DataFrame:
        """:meth:`search_runs_table` as a pandas DataFrame (MLflow's ``search_runs``
        result), made without an Arrow column per key when the page is read from the
        lake: a page of runs holding thousands of keys, or a run holding a million."""
        from lakeml.query import wide

        page = self._runs_page(experiment_ids, filter_string, run_view_type, max_results,
                               order_by)
        if isinstance(page, wide.WidePage):
            return page.to_pandas()
        return page.to_pandas(split_blocks=True)  # no consolidation copy

    def _runs_page(self, experiment_ids: Sequence[str] | str, filter_string: str,
              run_view_type: ViewType | int | str, max_results: int | None,
              order_by: Sequence[str] | None) -> pa.Table | WidePage:
        """The matching runs' wide table, or the lake's page of them to lay out.

        ``max_results``: a positive integer, or None for every matching run.
        """
        from lakeml.query.wide import runs_page

        experiment_ids, filter_string, order_by = _search_args(experiment_ids, filter_string,
                                                               order_by)
        max_results = arguments.count(max_results)
        state, select = self._matching(experiment_ids, filter_string, run_view_type, order_by)
        return runs_page(self._b.engine, state, *select(max_results, 0))


def key_column(name: str) -> tuple[str, str]:
    """``metrics.x`` -> (``metrics``, ``x``): a key column of the wide search table.

    Raises:
        InvalidArgument: not ``metrics.<key>``, ``params.<key>`` or ``tags.<key>``.
    """
    entity, dot, key = name.partition(".")
    if entity not in ("metrics", "params", "tags") or not dot or not key:
        raise InvalidArgument(f"column {name!r:.200} must be metrics.<key>, params.<key> "
                              f"or tags.<key>")
    return entity, key


def _search_args(experiment_ids: object, filter_string: object, order_by: object
                 ) -> tuple[list[str], str, list[str]]:
    """The experiment ids, filter and order keys of a search, type-checked."""
    if experiment_ids is None:
        raise InvalidArgument("experiment_ids must be a list of experiment ids, got None")
    return (arguments.string_list(experiment_ids, "experiment_ids", ints=True),
            arguments.filter_string(filter_string),
            arguments.string_list(order_by, "order_by"))
