"""Analytics helpers: export, many histories, leaderboards, best per group, param diff."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import lakeml
from lakeml.errors import InvalidArgument, NotFound


@pytest.fixture
def exp_runs(client: lakeml.Client) -> tuple[str, list[str]]:
    exp = client.create_experiment("zoo")
    ids = []
    for model, lr, acc in [("tree", "0.1", 0.7), ("tree", "0.2", 0.9), ("knn", "0.1", 0.8),
                           ("knn", "0.3", float("nan")), ("svm", "0.1", 0.6)]:
        run_id = client.create_run(exp, run_name=f"{model}-{lr}").info.run_id
        client.log_batch(run_id, params={"model": model, "lr": lr}, metrics={"acc": acc})
        for step in range(3):
            client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        client.set_terminated(run_id)
        ids.append(run_id)
    return exp, ids


def test_export_formats(client: lakeml.Client, exp_runs, tmp_path: Path) -> None:
    exp, ids = exp_runs
    df = client.export_runs(exp)
    assert df["run_id"].tolist() == ids  # oldest first
    assert df["params.model"].tolist() == ["tree", "tree", "knn", "knn", "svm"]
    for fmt in ("parquet", "csv"):
        path = client.export_runs(exp, tmp_path / f"runs.{fmt}", format=fmt)
        got = duckdb.sql(f"SELECT \"params.lr\" FROM '{path}' ORDER BY run_id").fetchall()
        assert [str(x) for (x,) in got] == ["0.1", "0.2", "0.1", "0.3", "0.1"]
    assert client.export_runs(exp, format="polars").height == 5
    with pytest.raises(InvalidArgument, match="path"):
        client.export_runs(exp, format="csv")


def test_metric_histories_of_many_runs(client: lakeml.Client, exp_runs) -> None:
    _, ids = exp_runs
    df = client.get_metric_histories(ids[:2], keys=["loss"])
    assert df[["run_id", "step"]].values.tolist() == [[ids[0], 0], [ids[0], 1], [ids[0], 2],
                                                      [ids[1], 0], [ids[1], 1], [ids[1], 2]]
    assert set(client.get_metric_histories(ids)["key"]) == {"acc", "loss"}


def test_leaderboard_and_best_per_group(client: lakeml.Client, exp_runs) -> None:
    exp, ids = exp_runs
    board = client.leaderboard(exp, "acc", ascending=False, max_results=3)
    assert board["run_name"].tolist() == ["tree-0.2", "knn-0.1", "tree-0.1"]
    best = client.best_runs(exp, "acc", group_by="model", ascending=False)
    assert best[["group_value", "run_name", "runs_in_group"]].values.tolist() == [
        ["knn", "knn-0.1", 1], ["svm", "svm-0.1", 1], ["tree", "tree-0.2", 2]]
    stats = client.metric_by_param(exp, "acc", "lr").set_index("group_value")
    assert stats.loc["0.1", "runs"] == 3 and stats.loc["0.1", "max"] == 0.8


def test_unknown_keys_are_named_not_an_empty_board(client: lakeml.Client, exp_runs) -> None:
    exp, _ = exp_runs
    with pytest.raises(InvalidArgument, match=r"metric 'accuracy'.*'acc', 'loss'"):
        client.leaderboard(exp, "accuracy")
    client.create_run(exp, run_name="tagged", tags={"team": "a"})
    with pytest.raises(InvalidArgument, match=r"param 'team'; 'team' is a tag there"):
        client.best_runs(exp, "acc", group_by="team")
    with pytest.raises(InvalidArgument, match=r"metric 'lr'; 'lr' is a param there"):
        client.metric_by_param(exp, "lr", "model")
    empty = client.create_experiment("no-runs-yet")
    assert client.leaderboard(empty, "acc").empty  # no keys to name: an empty board


def test_param_diff(client: lakeml.Client, exp_runs) -> None:
    _, ids = exp_runs
    diff = client.param_diff([ids[0], ids[2]])
    assert diff.index.tolist() == ["model"]
    assert diff.loc["model"].tolist() == ["tree", "knn"]
    assert client.param_diff([ids[0], ids[2]], all_params=True).index.tolist() == ["lr", "model"]
    with pytest.raises(NotFound, match="f" * 32):
        client.param_diff([ids[0], "f" * 32])
    with pytest.raises(InvalidArgument, match="two or more"):
        client.param_diff([ids[0]])
