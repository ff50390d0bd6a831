"""The searches' in-memory run state (lakeml/query/run_state.py) against the views.

The reference answer of each search is compiled for the sql/views relations
(one row per run and key, folded on every query) and filled from the lake by
id; the state must give the same table, whole (small store) or loading keys
on demand (large store), after every kind of later write and after compaction.
"""

from __future__ import annotations

import math
import multiprocessing
from typing import Any

import pyarrow as pa
import pytest

import lakeml
from lakeml.query import run_state
from lakeml.search import compile_filter, compile_order_by, parse_filter
from lakeml.sqltext import placeholders
from lakeml.tracking.wide import wide_table

SEARCHES: list[tuple[str, list[str] | None]] = [
    ("metrics.rmse < 0.5 and params.alpha != '3'", ["metrics.rmse DESC"]),
    ("tags.kind = 'odd' or params.alpha IN ('1', '2')", ["params.alpha"]),
    ("", None),
    ("attributes.status = 'RUNNING'", ["attributes.run_name DESC"]),
    ("tags.kind IS NULL", ["metrics.extra DESC", "params.alpha"]),
    ("metrics.extra >= 0 or params.beta LIKE 'b%'", None),
]


def reference(client: lakeml.Client, exp: str, text: str, order: list[str] | None,
              stages: tuple[str, ...] = ("active",)) -> pa.Table:
    """The search as the views answer it: filtered and sorted over the folded views,
    the page filled from the lake by id."""
    tree = parse_filter(text)
    where = compile_filter(tree)
    ordering = compile_order_by(order or ["attributes.start_time DESC"])
    sql = (f"SELECT r.run_id FROM runs AS r {ordering.joins} WHERE r.experiment_id = ? "
           f"AND r.lifecycle_stage IN ({placeholders(list(stages))}) AND ({where.sql}) "
           f"ORDER BY {ordering.clause}")
    engine = client._b.engine
    engine.refresh()
    ids = engine.arrow(sql, [*ordering.params, exp, *stages, *where.params], tables=())["run_id"]
    return wide_table(engine, ids)


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """The table's rows, NaN spelled out (NaN != NaN would fail any comparison)."""
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
            for row in table.to_pylist()]


def agree(client: lakeml.Client, exp: str) -> None:
    for text, order in SEARCHES:
        got = client.search_runs_table([exp], text, order_by=order)
        assert rows(got) == rows(reference(client, exp, text, order)), (text, order)
    deleted = client.search_runs_table([exp], "", run_view_type="DELETED_ONLY")
    assert rows(deleted) == rows(reference(client, exp, "", None, ("deleted",)))


@pytest.fixture(params=["whole store", "keys on demand"])
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "keys on demand":
        monkeypatch.setattr(run_state, "COMPLETE_BYTES", 0)
    return request.param


def test_state_follows_every_kind_of_write_and_compaction(client: lakeml.Client,
                                                          layout: str) -> None:
    exp = client.create_experiment("state")
    ids = []
    for i in range(1, 9):
        run = client.create_run(exp, run_name=f"r{i}", start_time=1_700_000_000_000 + i)
        client.log_batch(run.info.run_id, metrics={"rmse": 1 / i}, params={"alpha": str(i)},
                         tags={"kind": "odd" if i % 2 else "even"})
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    agree(client, exp)
    assert client._b.engine.run_state.prepare().complete == (layout == "whole store")

    for run_id in ids[:4]:
        client.update_run(run_id, status="RUNNING")      # only running runs take logs
    client.log_metric(ids[0], "rmse", 0.01, step=3)      # a later step wins
    client.log_metric(ids[0], "rmse", 9.0, step=2)       # an earlier one does not
    client.set_tag(ids[1], "kind", "changed")
    client.delete_tag(ids[2], "kind")
    client.log_param(ids[0], "beta", "b1")               # a key no run had
    client.log_metric(ids[3], "extra", 2.0)
    client.delete_run(ids[4])
    new = client.create_run(exp, run_name="late", start_time=1_700_000_000_100)
    client.log_batch(new.info.run_id, metrics={"rmse": 0.3, "extra": float("nan")},
                     params={"alpha": "1", "beta": "bb"})
    agree(client, exp)

    client.store.maintenance.compact()                   # same rows, new files
    client.restore_run(ids[4])
    agree(client, exp)


def _log_from_another_process(uri: str, exp: str) -> None:
    other = lakeml.Client(uri)
    run = other.create_run(exp, run_name="elsewhere")
    other.log_batch(run.info.run_id, metrics={"rmse": 0.001}, params={"alpha": "0"})
    other.flush()


def test_state_sees_commits_of_other_processes(client: lakeml.Client, store_uri: str) -> None:
    exp = client.create_experiment("shared")
    client.log_batch(client.create_run(exp).info.run_id, metrics={"rmse": 0.5})
    assert len(client.search_runs_table([exp], "metrics.rmse < 0.1")) == 0
    process = multiprocessing.get_context("spawn").Process(
        target=_log_from_another_process, args=(store_uri, exp))
    process.start()
    process.join(120)
    assert process.exitcode == 0
    found = client.search_runs_table([exp], "metrics.rmse < 0.1")
    assert found["tags.mlflow.runName"].to_pylist() == ["elsewhere"]
    agree(client, exp)
