"""The leaderboard answered from the run state (``state_wide``), not by folding the lake.

sql/queries/leaderboard.sql states what a leaderboard is: an experiment's active runs
with the metric, best first by its latest value (NaN after every number, then by run
id). Run over the views it folds the runs table and the metric_latest table on every
call, about a quarter of a second per 100,000 runs whatever changed, and a new process
first fetches every table. The engine's run state (:mod:`lakeml.query.run_state`) holds
the same fold, one row per run with a column per loaded key, follows the store by
folding only the runs named in new data files, and a new process starts it from the run
snapshot: so a leaderboard there is a top-k over memory. tests/query/test_state_board.py
holds both answers equal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.query.run_state import STATE_TABLE

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.query.engine import QueryEngine

# The run columns a leaderboard shows (those of sql/queries/leaderboard.sql).
BOARD_RUN_COLUMNS = ("run_name", "status", "start_time")


def leaderboard(engine: QueryEngine, experiment_id: str, metric: str, *, ascending: bool,
                limit: int) -> pa.Table:
    """The ``limit`` best active runs of ``experiment_id`` by the latest value of
    ``metric``: run_id, run_name, status, metric_value, start_time (the columns and order
    of sql/queries/leaderboard.sql). Runs without the metric are not on it."""
    # (prepare commits this process's buffered rows of the run tables first, as any read)
    state = engine.run_state.prepare({"metrics": {metric}}, run_columns=BOARD_RUN_COLUMNS)
    column = state.columns.get(("metrics", metric))
    cur = engine.connection().cursor()
    try:
        if column is None:  # a whole state without the key: no run has it
            return cur.sql(f"SELECT run_id, run_name, status, NULL::DOUBLE AS metric_value, "
                           f"start_time FROM {STATE_TABLE} WHERE false").to_arrow_table()
        direction = "ASC" if ascending else "DESC"
        return cur.sql(
            f"SELECT run_id, run_name, status, {column} AS metric_value, start_time "
            f"FROM {STATE_TABLE} WHERE experiment_id = ? AND lifecycle_stage = 'active' "
            f"AND {column} IS NOT NULL "
            f"ORDER BY isnan({column}), {column} {direction} NULLS LAST, run_id LIMIT ?",
            params=[str(experiment_id), int(limit)]).to_arrow_table()
    finally:
        cur.close()
