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
    with pytest.raises(InvalidState, match="FINISHED"):
        client.log_text(run_id, "late", "late.txt")
    assert client.list_artifacts(run_id) == []  # the refused artifact was not written
