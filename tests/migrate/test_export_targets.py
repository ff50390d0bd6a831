"""The export's targets kept in step with lakeml: what lakeml deleted or moved since the last
export, and names a folder target cannot hold. Small lakeml stores written by lakeml's client;
the folder target read back as files (MLflow's file store layout)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import lakeml
from lakeml.errors import InvalidArgument
from lakeml.migrate.exporter import export_mlflow


def _store(tmp_path: Path) -> tuple[str, lakeml.Client]:
    store = str(tmp_path / "lake")
    return store, lakeml.Client(store)


def test_a_model_named_dotdot_is_refused_by_a_folder(tmp_path: Path) -> None:
    store, client = _store(tmp_path)
    client.create_registered_model("..")
    client.flush()
    target = tmp_path / "out" / "mlruns"
    with pytest.raises(InvalidArgument, match=r"'\.\.'"):
        export_mlflow(store, str(target))
    assert not (target / "meta.yaml").exists()


def test_deleted_versions_and_models_leave_the_folder(tmp_path: Path) -> None:
    store, client = _store(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "MLmodel").write_text("flavors: {}\n")
    client.create_registered_model("keep")
    client.create_registered_model("gone")
    for _ in range(3):
        client.create_model_version("keep", str(tmp_path / "m"))
    client.create_model_version("gone", str(tmp_path / "m"))
    client.flush()
    target = tmp_path / "mlruns"
    mine = target / "models" / "theirs"  # a model the folder held before: left alone
    mine.mkdir(parents=True)
    (mine / "meta.yaml").write_text("name: theirs\n")
    export_mlflow(store, str(target))
    assert sorted(p.name for p in (target / "models" / "keep").glob("version-*")) == [
        "version-1", "version-2", "version-3"]
    client.delete_model_version("keep", 2)
    client.delete_registered_model("gone")
    client.flush()
    export_mlflow(store, str(target))
    assert sorted(p.name for p in (target / "models" / "keep").glob("version-*")) == [
        "version-1", "version-3"]
    assert sorted(p.name for p in (target / "models").iterdir()) == ["keep", "theirs"]


def test_a_restored_experiment_s_runs_point_at_their_folder(tmp_path: Path) -> None:
    """lakeml restores an experiment's runs with it (so they are sent again), but the
    folder target must not depend on that: moving an experiment out of ``.trash`` points
    its runs' artifact URIs at where they now are."""
    from dataclasses import replace

    from lakeml.migrate.file_sink import FileStoreSink
    from lakeml.migrate.lake_source import LakeSource

    store, client = _store(tmp_path)
    exp = client.create_experiment("e")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "m", 1.0)
    client.flush()
    client.delete_experiment(exp)
    client.flush()
    target = tmp_path / "mlruns"
    export_mlflow(store, str(target))
    assert (target / ".trash" / exp / run.info.run_id / "meta.yaml").is_file()
    record = next(e for e in LakeSource(client).experiments() if e.experiment_id == exp)
    FileStoreSink(str(target)).put_experiments([replace(record, lifecycle_stage="active")])
    meta = yaml.safe_load((target / exp / run.info.run_id / "meta.yaml").read_text())
    assert meta["artifact_uri"] == (target / exp / run.info.run_id / "artifacts").as_uri()


def test_any_change_of_a_run_sends_it_again(tmp_path: Path) -> None:
    """A rename, a dataset input logged later, a tag changed in place (same count): each
    changes the run's fingerprint, so the re-export writes it; nothing else resends it."""
    from lakeml.entities.dataset import Dataset, DatasetInput

    store, client = _store(tmp_path)
    exp = client.create_experiment("e")
    run_id = client.create_run(exp, run_name="before").info.run_id
    client.set_tag(run_id, "a", "1")
    client.set_tag(run_id, "b", "1")
    client.log_metric(run_id, "m", 1.0, timestamp=1_000, step=0)
    client.set_terminated(run_id)
    client.flush()
    target = tmp_path / "mlruns"
    assert export_mlflow(store, str(target)).counts["runs"] == 1
    assert export_mlflow(store, str(target)).counts["runs"] == 0
    folder = target / exp / run_id

    client.update_run(run_id, name="after")
    client.flush()
    assert export_mlflow(store, str(target)).counts["runs"] == 1
    assert yaml.safe_load((folder / "meta.yaml").read_text())["run_name"] == "after"

    client.log_inputs(run_id, [DatasetInput(Dataset("train", "abc123"), "training")])
    client.flush()
    assert export_mlflow(store, str(target)).counts["runs"] == 1
    assert len(list((folder / "inputs").iterdir())) == 1

    for key in ("a", "b"):  # whichever of the two hashes the larger
        client.set_tag(run_id, key, "2")
        client.flush()
        assert export_mlflow(store, str(target)).counts["runs"] == 1, key
        assert (folder / "tags" / key).read_text() == "2"
    assert export_mlflow(store, str(target)).counts["runs"] == 0


def test_a_file_logged_after_the_export_sends_the_run_again(tmp_path: Path) -> None:
    """A run's artifact files are in its fingerprint: one logged after the run was exported
    (no row of the run changed) sends the run again, with the file; then nothing more."""
    store, client = _store(tmp_path)
    exp = client.create_experiment("e")
    run_id = client.create_run(exp).info.run_id
    client.log_text(run_id, "first", "notes/a.txt")
    client.set_terminated(run_id)
    client.flush()
    target = tmp_path / "mlruns"
    first = export_mlflow(store, str(target))
    assert (first.counts["runs"], first.counts["artifact_files"]) == (1, 1)
    assert export_mlflow(store, str(target)).counts["runs"] == 0

    client.log_text(run_id, "second", "notes/b.txt")  # a file only: no row of the run
    again = export_mlflow(store, str(target))
    assert (again.counts["runs"], again.counts["artifact_files"]) == (1, 1)
    assert (target / exp / run_id / "artifacts" / "notes" / "b.txt").read_text() == "second"
    assert export_mlflow(store, str(target)).counts["runs"] == 0
    # without copying artifacts, files play no part (and are not walked); the first such
    # export sends the run once (its fingerprint is of another kind)
    export_mlflow(store, str(target), copy_artifacts=False)
    client.log_text(run_id, "third", "notes/c.txt")
    assert export_mlflow(store, str(target), copy_artifacts=False).counts["runs"] == 0
    assert not (target / exp / run_id / "artifacts" / "notes" / "c.txt").exists()
