"""search_runs end to end: pages, formats, view types, and the wide table vs the views."""

from __future__ import annotations

import pandas as pd
import pytest

import lakeml
from lakeml.errors import InvalidArgument


@pytest.fixture
def grid(client: lakeml.Client) -> tuple[str, list[str]]:
    """Twelve runs: alpha in 1..12, rmse = 1/alpha, every third run tagged 'odd'."""
    exp = client.create_experiment("grid")
    ids = []
    for i in range(1, 13):
        run = client.create_run(exp, run_name=f"r{i:02d}", start_time=1_700_000_000_000 + i)
        client.log_batch(run.info.run_id, metrics={"rmse": 1 / i}, params={"alpha": str(i)},
                         tags={"kind": "odd" if i % 3 == 0 else "even"})
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    return exp, ids


def test_client_pages_in_order(client: lakeml.Client, grid: tuple[str, list[str]]) -> None:
    exp, ids = grid
    seen, token = [], None
    while True:
        page = client.search_runs([exp], "metrics.rmse < 0.5", order_by=["metrics.rmse DESC"],
                                  max_results=4, page_token=token)
        seen += page
        token = page.token
        if token is None:
            break
    assert [r.info.run_name for r in seen] == [f"r{i:02d}" for i in range(3, 13)]
    first = seen[0]
    assert first.data.params == {"alpha": "3"} and first.data.metrics == {"rmse": 1 / 3}
    assert first.data.tags["kind"] == "odd" and first.info.status == "FINISHED"
    with pytest.raises(InvalidArgument, match="different search"):
        client.search_runs([exp], "metrics.rmse < 0.4", page_token=page_token_of(client, exp))


def page_token_of(client: lakeml.Client, exp: str) -> str:
    page = client.search_runs([exp], "metrics.rmse < 0.5", max_results=1)
    assert page.token is not None
    return page.token


def test_fluent_formats_and_columns(store_uri: str, grid: tuple[str, list[str]]) -> None:
    exp, ids = grid
    df = lakeml.search_runs([exp], "params.alpha IN ('2', '4') OR tags.kind = 'odd'",
                            order_by=["params.alpha ASC"])
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri",
                                    "start_time", "end_time"]
    assert {"metrics.rmse", "params.alpha", "tags.kind", "tags.mlflow.runName"} <= set(df.columns)
    # params sort as strings, as in MLflow: '12' < '2' < '3' < '4' < '6' < '9'
    assert df["params.alpha"].tolist() == ["12", "2", "3", "4", "6", "9"]
    assert str(df["start_time"].dtype) == "datetime64[ms, UTC]"
    arrow = lakeml.search_runs([exp], "metrics.rmse > 0.5", output_format="arrow")
    assert arrow.column("params.alpha").to_pylist() == ["1"]
    pl_frame = lakeml.search_runs(experiment_names=["grid"], filter_string="metrics.rmse > 0.3",
                                  order_by=["metrics.rmse ASC"], output_format="polars")
    assert pl_frame["params.alpha"].to_list() == ["3", "2", "1"]
    runs = lakeml.search_runs([exp], output_format="list", max_results=5)
    assert len(runs) == 5 and runs[0].info.run_name == "r12"  # newest start first
    with pytest.raises(InvalidArgument, match="'csv'"):
        lakeml.search_runs([exp], output_format="csv")


def test_view_types_and_deleted_runs(client: lakeml.Client, grid: tuple[str, list[str]]) -> None:
    exp, ids = grid
    client.delete_run(ids[0])
    active = lakeml.search_runs([exp], "params.alpha = '1'")
    assert active.empty
    deleted = lakeml.search_runs([exp], run_view_type="DELETED_ONLY")
    assert deleted["run_id"].tolist() == [ids[0]]
    assert len(lakeml.search_runs([exp], run_view_type=lakeml.ViewType.ALL)) == 12


def test_results_follow_new_writes(client: lakeml.Client, grid: tuple[str, list[str]]) -> None:
    exp, ids = grid
    assert len(lakeml.search_runs([exp], "metrics.rmse < 0.1")) == 2
    client.log_metric(client.create_run(exp).info.run_id, "rmse", 0.01)
    assert len(lakeml.search_runs([exp], "metrics.rmse < 0.1")) == 3  # the cache moved on
    client.update_run(ids[0], status="RUNNING")
    client.log_metric(ids[0], "rmse", 0.05, step=1)  # a later step becomes the latest value
    assert len(lakeml.search_runs([exp], "metrics.rmse < 0.1")) == 4


@pytest.mark.parametrize("small_limit", [2000, 0], ids=["few-runs path", "many-runs path"])
def test_wide_table_agrees_with_the_views(client: lakeml.Client, grid: tuple[str, list[str]],
                                          small_limit: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from lakeml.query import wide

    monkeypatch.setattr(wide, "_SMALL", small_limit)
    exp, ids = grid
    for run_id in ids[1:4]:
        client.update_run(run_id, status="RUNNING")
    client.set_tag(ids[1], "kind", "changed")
    client.delete_tag(ids[2], "kind")
    client.log_metric(ids[3], "rmse", 7.0, step=5)
    client.log_metric(ids[3], "rmse", 8.0, step=4)
    wide = lakeml.search_runs([exp], output_format="arrow")
    by_id = {row["run_id"]: row for row in wide.to_pylist()}
    for prefix, view in (("metrics", "latest_metrics"), ("params", "params"), ("tags", "tags")):
        long = lakeml.sql(f"SELECT run_id, key, value FROM {view}").fetchall()
        expected = {(r, f"{prefix}.{k}", v) for r, k, v in long if r in by_id}
        got = {(r, c, val) for r, row in by_id.items() for c, val in row.items()
               if c.startswith(prefix + ".") and val is not None}
        assert got == expected, prefix
    assert by_id[ids[3]]["metrics.rmse"] == 7.0
    assert by_id[ids[2]]["tags.kind"] is None and by_id[ids[1]]["tags.kind"] == "changed"


def test_bad_input_is_named(client: lakeml.Client, grid: tuple[str, list[str]]) -> None:
    exp, _ = grid
    with pytest.raises(InvalidArgument, match=r"metrics\.rmse <<"):
        client.search_runs([exp], "metrics.rmse << 1")
    with pytest.raises(InvalidArgument, match="max_results"):
        client.search_runs([exp], max_results=0)
    # an unknown experiment name finds no runs, as in MLflow (issue 16)
    assert len(lakeml.search_runs(experiment_names=["nope"])) == 0


def test_unknown_view_type_is_named(client: lakeml.Client, grid: tuple[str, list[str]]) -> None:
    exp, _ = grid
    with pytest.raises(InvalidArgument, match="'SOME'"):
        client.search_runs([exp], run_view_type="SOME")


@pytest.mark.parametrize("store_size", ["small", "large", "large, long pages"])
def test_a_table_of_chosen_columns_is_the_whole_table_cut_down(
        client: lakeml.Client, grid: tuple[str, list[str]], store_size: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``columns`` gives the same rows, in the same order, as the whole table, with only
    the run columns and the chosen keys (those no run has left out); a large store reads
    them from its run state after loading them on demand (a long page by a subquery of
    its row ids rather than a list of them)."""
    from lakeml.query import run_fold, run_state

    if store_size.startswith("large"):
        monkeypatch.setattr(run_fold, "SMALL_STORE_BYTES", 0)
    if store_size.endswith("long pages"):
        monkeypatch.setattr(run_state, "_CONSTANT_IDS", 2)
    exp, ids = grid
    for run_id in ids[4:6]:
        client.update_run(run_id, status="RUNNING")
    client.set_tag(ids[4], "kind", "changed")
    client.log_metric(ids[5], "rmse", float("nan"), step=9)
    chosen = ["params.alpha", "metrics.rmse", "tags.kind", "metrics.nope"]
    for text, order, limit in (("", None, None), ("metrics.rmse < 0.3", ["params.alpha ASC"], 3),
                               ("tags.kind != 'odd'", ["metrics.rmse DESC"], 5),
                               ("", ["attributes.start_time ASC"], 4)):
        whole = client.search_runs_table([exp], text, max_results=limit, order_by=order)
        got = client.search_runs_table([exp], text, max_results=limit, order_by=order,
                                       columns=chosen)
        kept = whole.column_names[:6] + ["metrics.rmse", "params.alpha", "tags.kind"]
        assert got.column_names == kept, (text, order)
        assert rows(got) == rows(whole.select(kept)), (text, order)
    assert client.search_runs_table([exp], columns=[]).column_names == whole.column_names[:6]
    with pytest.raises(InvalidArgument, match="'alpha'.*metrics.<key>"):
        client.search_runs_table([exp], columns=["alpha"])


def rows(table) -> list[dict]:
    """The table's rows, NaN spelled out (NaN != NaN would fail any comparison)."""
    import math

    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
            for r in table.to_pylist()]
