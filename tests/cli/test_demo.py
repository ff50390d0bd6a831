"""The README's first command: the demo trains, logs, ranks and reloads real models."""

from __future__ import annotations

import re

import lakeml
from lakeml.cli import main


def test_demo_logs_five_models_ranks_them_and_reloads_the_best(tmp_path, capsys):
    store = str(tmp_path / "lake")
    assert main(["demo", "--store", store]) == 0
    out = capsys.readouterr().out
    board = [line for line in out.splitlines() if re.match(r"^[0-9a-f]{32} ", line)]
    assert len(board) == 5
    losses = [float(line.split()[3]) for line in board]
    assert losses == sorted(losses) and all(0 < x < 1 for x in losses)
    assert "agrees with the native model on 100% of the 54 test rows" in out
    best = board[0].split()[0]
    assert f"runs:/{best}/model, registered as wine-classifier version 1, alias champion" in out
    assert "loaded from models:/wine-classifier@champion" in out

    client = lakeml.Client(store)
    models = client.sql("SELECT count(*), count(DISTINCT run_id) FROM logged_models "
                        "WHERE list_contains(flavors, 'sklearn')").fetchall()
    assert models == [(5, 5)]
    champion = client.get_model_version_by_alias("wine-classifier", "champion")
    assert (champion.version, champion.run_id) == (1, best)
    history = client.get_metric_history(best, "accuracy_by_train_size")
    assert [m.step for m in history] == list(range(20, 121, 20))


def test_demo_twice_registers_a_best_run_once(tmp_path, capsys):
    store = str(tmp_path / "lake")
    assert main(["demo", "--store", store]) == 0
    assert main(["demo", "--store", store]) == 0
    out = capsys.readouterr().out.split("store: ")[-1]  # the second demo's report
    board = [line for line in out.splitlines() if re.match(r"^[0-9a-f]{32} ", line)]
    assert len(board) == 10  # both demos' runs are ranked
    client = lakeml.Client(store)
    versions = client.search_model_versions("name = 'wine-classifier'")
    sources = [v.run_id for v in versions]
    assert len(sources) == len(set(sources))  # no run's model is registered twice
    champion = client.get_model_version_by_alias("wine-classifier", "champion")
    assert champion.run_id == board[0].split()[0]
