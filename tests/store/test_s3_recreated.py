"""A remote store's readers keep their saved folds (run and registry snapshots) on this
machine, outside the store; a store deleted and made again at the same URI must never
show the old store's runs or models from them (the snapshots record the Delta table
ids they folded)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import fsspec
import pytest

import lakeml
from lakeml.errors import NotFound
from lakeml.query import registry_snapshot, run_snapshot
from lakeml.tracking import backend
from tests.object_store import fresh_prefix


def fill(uri: str, model_folder: str, name: str, runs: int) -> tuple[str, list[str]]:
    """An experiment of ``runs`` runs and one registered model ``name``; (the experiment's
    id, the run ids)."""
    client = lakeml.Client(uri)
    exp = client.create_experiment("exp")
    ids = []
    for i in range(runs):
        run = client.create_run(exp, run_name=f"{name}-{i}")
        client.log_batch(run.info.run_id, metrics={"loss": i}, params={"model": name})
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    client.register_model(model_folder, name)
    client.flush()
    return exp, ids


def test_a_store_made_anew_at_the_same_uri_shows_nothing_of_the_old(
        s3_env: dict[str, str], tmp_path: Path):
    from sklearn.dummy import DummyClassifier

    import lakeml.sklearn

    folder = str(tmp_path / "model")
    lakeml.sklearn.save_model(DummyClassifier().fit([[0], [1]], [0, 1]), folder)
    uri = fresh_prefix()
    old_exp, _ = fill(uri, folder, "old", 4)
    writer = lakeml.Client(uri)
    assert run_snapshot.write(writer.store) is not None
    writer.registry._registry_state().save()
    assert registry_snapshot.load(writer.store) is not None
    backend.close_all()

    fsspec.filesystem("s3").rm(uri.removeprefix("s3://"), recursive=True)  # the store goes
    _, new_ids = fill(uri, folder, "new", 2)  # and another is made at the same URI
    backend.close_all()

    reader = lakeml.Client(uri)
    experiments = [old_exp, *(e.experiment_id for e in reader.search_experiments())]
    # (a page of 2 by loss: the old runs' rows, had the search taken them from the old
    # snapshot, would sort among the new ones and take their places)
    found = reader.search_runs(experiments, order_by=["metrics.loss"], max_results=2)
    assert [(r.info.run_id, r.data.params) for r in found] == \
        [(rid, {"model": "new"}) for rid in new_ids]
    assert found.token is None
    with pytest.raises(NotFound, match="'old' does not exist"):
        reader.get_registered_model("old")  # a point read: the registry snapshot's path
    assert [m.name for m in reader.search_registered_models()] == ["new"]
    # the snapshots on this machine are of the old tables: not used; the reader saved
    # its fold of the new tables as the run snapshot instead (query/state_save.py)
    reader.tracking._b.engine.run_state.wait_saving()
    saved = run_snapshot.load(reader.store)
    assert saved is not None and saved.runs == 2
    assert sorted(r for (r,) in duckdb.sql(f"SELECT run_id FROM '{saved.path}'").fetchall()) \
        == sorted(new_ids)
    assert registry_snapshot.load(reader.store) is None

    # snapshots written of the new tables are used again
    assert run_snapshot.write(reader.store) is not None
    assert run_snapshot.load(reader.store) is not None
