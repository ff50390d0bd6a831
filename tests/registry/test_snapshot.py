"""Point reads from the registry snapshot (lakeml.query.registry_snapshot): a process that has not
loaded the registry log answers one model's reads from the snapshot and the data files
after it, exactly as the mirror would, and sees every committed write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import lakeml
from lakeml.errors import NotFound
from lakeml.query import registry_snapshot as snapshot
from lakeml.tracking import backend
from tests.conftest import run_python


def fresh(store: str) -> lakeml.Client:
    """A client with a backend of its own: nothing of the registry loaded yet."""
    backend.close_all()
    return lakeml.Client(store)


def mirror_loaded(client: lakeml.Client) -> bool:
    state = client.tracking._b.shared.get("registry")
    return state is not None and state._con is not None


def everything(client: lakeml.Client, names: list[str]) -> dict[str, Any]:
    """What the point reads answer for each name (or the NotFound message)."""
    out: dict[str, Any] = {}
    for name in names:
        try:
            model = client.get_registered_model(name)
        except NotFound as exc:
            out[name] = str(exc)
            continue
        versions = client.list_model_versions(name)
        out[name] = (model, versions, client.get_latest_versions(name),
                     {a: client.get_model_version_by_alias(name, a) for a in model.aliases},
                     client.get_transition_requests(name, status=None),
                     [client.get_comments(name, v.version) for v in versions])
    return out


def history(client: lakeml.Client, source: str) -> None:
    """Renames, a name reused after a delete, aliases, stages, tags, requests, comments."""
    for _ in range(3):
        client.register_model(source, "churn", tags={"team": "a"})
    client.set_registered_model_alias("churn", "champion", 2)
    client.transition_model_version_stage("churn", 1, "Production")
    client.transition_model_version_stage("churn", 3, "Production", archive_existing_versions=True)
    client.register_model(source, "old-name")
    client.rename_registered_model("old-name", "fraud")
    client.register_model(source, "fraud")
    client.register_model(source, "temp")
    client.delete_registered_model("temp")
    client.register_model(source, "temp")  # the name again, a new model
    client.request_transition("churn", 2, "Staging", comment="please")
    client.create_comment("churn", 2, "looks fine")
    client.delete_model_version("churn", 1)


NAMES = ["churn", "fraud", "old-name", "temp", "never"]


def test_point_reads_answer_as_the_mirror_does(client: lakeml.Client, store_uri: str,
                                               folder_model: str) -> None:
    history(client, folder_model)
    client.registry._registry_state().save()
    # after the snapshot: more writes (uncovered files), and one compaction whose output
    # repeats rows the snapshot holds
    client.register_model(folder_model, "churn")
    client.set_registered_model_alias("churn", "champion", 4)
    client.rename_registered_model("fraud", "fraud-v2")
    client.register_model(folder_model, "fraud")  # a new model takes the old name
    client.store.maintenance.compact(["registry_log"])
    client.create_comment("churn", 2, "after the compaction")
    names = [*NAMES, "fraud-v2"]

    reader = fresh(store_uri)
    points = everything(reader, names)
    assert not mirror_loaded(reader), "point reads loaded the whole log"
    assert points["never"] == "registered model 'never' does not exist"
    assert points["old-name"] == "registered model 'old-name' does not exist"
    comments = points["churn"][5][0]  # of version 2 (version 1 was deleted)
    assert [c.comment for c in comments] == ["looks fine", "after the compaction"]
    assert points["churn"][3]["champion"].version == 4
    assert [v.version for v in points["fraud"][1]] == [1]
    assert [v.version for v in points["fraud-v2"][1]] == [1, 2]

    reader.search_registered_models()  # loads the mirror: reads now come from it
    assert mirror_loaded(reader)
    assert everything(reader, names) == points


@pytest.mark.slow
def test_a_point_read_sees_every_commit_of_another_process(
        client: lakeml.Client, store_uri: str, folder_model: str) -> None:
    for _ in range(3):
        client.register_model(folder_model, "churn")
    client.set_registered_model_alias("churn", "champion", 1)
    client.registry._registry_state().save()
    reader = fresh(store_uri)
    assert reader.get_model_version_by_alias("churn", "champion").version == 1
    for version in (2, 3):
        run_python(f"import lakeml; lakeml.Client({store_uri!r})"
                   f".set_registered_model_alias('churn', 'champion', {version})")
        assert reader.get_model_version_by_alias("churn", "champion").version == version
    run_python(f"import lakeml; lakeml.Client({store_uri!r}).delete_registered_model('churn')")
    with pytest.raises(NotFound, match="'churn' does not exist"):
        reader.get_model_version_by_alias("churn", "champion")
    assert not mirror_loaded(reader)


@pytest.mark.slow
def test_a_new_process_resolves_without_loading_the_log(store_uri: str,
                                                        folder_model: str) -> None:
    client = lakeml.Client(store_uri)
    client.register_model(folder_model, "churn")
    client.register_model(folder_model, "churn")
    client.set_registered_model_alias("churn", "champion", 2)
    client.registry._registry_state().save()
    out = run_python(
        "import lakeml; from lakeml.models.registration import registry_artifact_uri as r\n"
        f"lakeml.set_store({store_uri!r})\n"
        "print(r('models:/churn@champion'), r('models:/churn/1'))\n"
        f"print(lakeml.Client({store_uri!r}).tracking._b.shared['registry']._con is None)"
    ).stdout.split()
    assert out == [str(Path(folder_model).resolve())] * 2 + ["True"]


def test_without_a_usable_snapshot_the_mirror_answers(client: lakeml.Client, store_uri: str,
                                                      folder_model: str) -> None:
    client.register_model(folder_model, "churn")
    reader = fresh(store_uri)  # no snapshot written: the log is loaded
    assert reader.get_registered_model("churn").name == "churn"
    assert mirror_loaded(reader)
    client = fresh(store_uri)
    client.registry._registry_state().save()
    found = snapshot.load(client.store)
    assert found is not None
    Path(found.events[0].path).unlink()  # deleted under the pointer: readers load the log
    reader = fresh(store_uri)
    assert reader.get_model_version("churn", 1).version == 1
    assert mirror_loaded(reader)


def test_writers_keep_the_snapshot_fresh(client: lakeml.Client, store_uri: str,
                                         folder_model: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "SMALL_LOG_BYTES", 0)  # this small log counts as large
    monkeypatch.setattr(snapshot, "STALE_FILES", 2)
    client.register_model(folder_model, "churn")
    state = client.registry._registry_state()
    state.wait_saved()
    first = snapshot.load(client.store)
    assert first is not None  # the first write found no snapshot: one was written
    for _ in range(3):
        client.register_model(folder_model, "churn")
        state.wait_saved()
    second = snapshot.load(client.store)
    assert second is not None and second.events != first.events
    _, files = client.store.snapshot_files("registry_log")
    assert len(second.uncovered(client.store, files)) <= 2
    reader = fresh(store_uri)
    assert [v.version for v in reader.list_model_versions("churn")] == [1, 2, 3, 4]
    assert not mirror_loaded(reader)


WRITER = r"""
import sys, lakeml
from lakeml.query import registry_snapshot as snapshot
snapshot.SMALL_LOG_BYTES, snapshot.STALE_FILES = 0, 2  # rewrite it often, under the reader
store, count = sys.argv[1], int(sys.argv[2])
client = lakeml.Client(store)
for version in range(2, count + 1):
    client.set_registered_model_alias("churn", "champion", version)
    print(version, flush=True)
"""


@pytest.mark.slow
def test_point_reads_race_a_writer_that_rewrites_the_snapshot(
        client: lakeml.Client, store_uri: str, folder_model: str) -> None:
    """While another process moves the alias (and rewrites the snapshot under the reader),
    every point read answers a version that was committed, never an older one than a read
    before it, and the last read after the writer finished sees its last commit."""
    import subprocess
    import sys

    count = 12
    for _ in range(count):
        client.register_model(folder_model, "churn")
    client.set_registered_model_alias("churn", "champion", 1)
    before = client.registry._registry_state().save()
    reader = fresh(store_uri)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, store_uri, str(count)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    while writer.poll() is None:
        seen.append(reader.get_model_version_by_alias("churn", "champion").version)
    out, err = writer.communicate()
    assert writer.returncode == 0, err
    assert out.split() == [str(v) for v in range(2, count + 1)]
    seen.append(reader.get_model_version_by_alias("churn", "champion").version)
    assert seen == sorted(seen) and seen[-1] == count, seen
    assert len(set(seen)) > 2  # the reads did interleave with the writes
    assert not mirror_loaded(reader)
    after = snapshot.load(reader.store)
    assert after is not None and after.events != before.events  # rewritten meanwhile
