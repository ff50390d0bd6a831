"""Artifacts: files under the run's artifact URI, listed and downloaded through fsspec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import lakeml
from lakeml.errors import InvalidArgument, InvalidState, NotFound


def test_artifacts_round_trip(client: lakeml.Client, tmp_path: Path) -> None:
    run_id = client.create_run().info.run_id
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("A")
    (src / "sub" / "b.bin").write_bytes(b"\x00\x01")
    client.log_artifacts(run_id, src, "bundle")
    client.log_artifact(run_id, src / "a.txt")
    client.log_dict(run_id, {"k": [1, 2]}, "conf/settings.yaml")
    client.log_dict(run_id, {"k": 1}, "conf/settings.json")
    client.log_text(run_id, "héllo", "notes/readme.md")

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("a.txt", False), ("bundle", True), ("conf", True), ("notes", True)]
    assert top[0].file_size == 1
    assert [f.path for f in client.list_artifacts(run_id, "bundle")] == [
        "bundle/a.txt", "bundle/sub"]

    out = Path(client.download_artifacts(run_id, "", tmp_path / "all"))
    assert (out / "bundle" / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert yaml.safe_load((out / "conf" / "settings.yaml").read_text()) == {"k": [1, 2]}
    assert json.loads((out / "conf" / "settings.json").read_text()) == {"k": 1}
    assert (out / "notes" / "readme.md").read_text(encoding="utf-8") == "héllo"
    one = client.download_artifacts(run_id, "bundle/a.txt", tmp_path / "one")
    assert Path(one).read_text() == "A"
    # Artifacts live under the store: <store>/artifacts/<experiment>/<run>/artifacts
    uri = client.get_artifact_uri(run_id)
    assert uri.startswith(client.store.artifact_root) and uri.endswith(f"{run_id}/artifacts")


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "a/../../b", "c:/x"])
def test_paths_cannot_leave_the_run_folder(client: lakeml.Client, bad: str) -> None:
    run_id = client.create_run().info.run_id
    with pytest.raises(InvalidArgument, match="must be relative"):
        client.log_text(run_id, "x", bad)
    with pytest.raises(InvalidArgument, match="must be relative"):
        client.download_artifacts(run_id, bad)


def test_missing_artifacts_and_files(client: lakeml.Client, tmp_path: Path) -> None:
    run_id = client.create_run().info.run_id
    assert client.list_artifacts(run_id) == []
    with pytest.raises(NotFound, match="nothing-here"):
        client.download_artifacts(run_id, "nothing-here", tmp_path)
    with pytest.raises(InvalidArgument, match="no-such-file"):
        client.log_artifact(run_id, tmp_path / "no-such-file")
    client.set_terminated(run_id)
    client.log_text(run_id, "late", "late.txt")  # a finished run takes artifacts (MLflow)
    assert [a.path for a in client.list_artifacts(run_id)] == ["late.txt"]
    client.delete_run(run_id)
    with pytest.raises(InvalidState, match="deleted"):
        client.log_text(run_id, "later", "later.txt")
    assert [a.path for a in client.list_artifacts(run_id)] == ["late.txt"]  # not written


def test_relative_artifact_location_is_made_absolute(client: lakeml.Client, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    exp_id = client.create_experiment("rel", artifact_location="arts")
    assert client.get_experiment(exp_id).artifact_location == str(tmp_path / "work" / "arts")
    run_id = client.create_run(exp_id).info.run_id
    client.log_text(run_id, "x", "a.txt")
    monkeypatch.chdir(tmp_path / "elsewhere")  # another process's folder: same files
    other = lakeml.Client(client.store_uri)
    assert [f.path for f in other.list_artifacts(run_id)] == ["a.txt"]
    assert (tmp_path / "work" / "arts" / run_id / "artifacts" / "a.txt").read_text() == "x"
    assert not list((tmp_path / "elsewhere").iterdir())


@pytest.mark.parametrize("location, message", [
    ("   ", "must not be empty or blank, got '   '"),
    ("/tmp/a\x00b", r"'/tmp/a\\x00b' holds control characters"),
    ("s3://bucket/x\n", "control characters"),
    (42, "must be a string.*got int 42"),
])
def test_bad_artifact_locations_are_refused(client: lakeml.Client, location: object,
                                            message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        client.create_experiment("bad", artifact_location=location)  # type: ignore[arg-type]
    assert client.get_experiment_by_name("bad") is None


def test_artifact_location_uris_and_file_uris(client: lakeml.Client, tmp_path: Path) -> None:
    exp = client.create_experiment("s3", artifact_location="s3://bucket/prefix/")
    assert client.get_experiment(exp).artifact_location == "s3://bucket/prefix"
    exp = client.create_experiment("file", artifact_location=f"file://{tmp_path}/f")
    assert client.get_experiment(exp).artifact_location == str(tmp_path / "f")
    exp = client.create_experiment("default", artifact_location="")
    assert client.get_experiment(exp).artifact_location.endswith(f"/artifacts/{exp}")
