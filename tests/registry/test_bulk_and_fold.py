"""Bulk registration, and the Python fold agreeing with the SQL views on a random history."""

from __future__ import annotations

import random

import pandas as pd
import pytest

import lakeml
from lakeml.errors import InvalidArgument


def test_bulk_registration_numbers_after_existing_versions(client: lakeml.Client,
                                                           model_uri: str) -> None:
    client.register_model(model_uri, "device-1")
    client.register_model(model_uri, "device-1")
    run_id = model_uri.split("/")[1]
    frame = pd.DataFrame({
        "name": ["device-1", "device-2", "device-1", "device-3", "device-2"],
        "source": [model_uri] * 5,
        "alias": ["champion", None, "champion", "champion", None],
        "stage": [None, "production", "Staging", None, None],
        "description": ["a", "b", "c", "d", "e"],
    })
    assert client.register_model_versions(frame) == 5
    got = {(v.name, v.version): v for v in client.search_model_versions("name LIKE 'device-%'")}
    assert sorted(got) == [("device-1", 1), ("device-1", 2), ("device-1", 3), ("device-1", 4),
                           ("device-2", 1), ("device-2", 2), ("device-3", 1)]
    assert got[("device-1", 3)].description == "a" and got[("device-1", 4)].description == "c"
    assert got[("device-2", 1)].current_stage == "Production"
    assert got[("device-1", 4)].current_stage == "Staging"
    assert got[("device-1", 3)].run_id == run_id
    assert got[("device-1", 3)].storage_location == client.get_artifact_uri(run_id, "model")
    # the later row of a model wins the alias
    assert client.get_model_version_by_alias("device-1", "champion").version == 4
    assert client.get_model_version_by_alias("device-3", "champion").version == 1
    assert [v.version for v in client.get_latest_versions("device-2", ["Production"])] == [1]
    # single registrations continue the numbering
    assert client.register_model(model_uri, "device-2").version == 3


def test_bulk_registration_refuses_bad_rows_whole(client: lakeml.Client, folder_model: str
                                                 ) -> None:
    good = {"name": "ok", "source": folder_model}
    for bad, message in [({"name": "a/b", "source": folder_model}, "row 1 has an invalid "
                          "registered model name"),
                         ({"name": "x", "source": ""}, "row 1 has no source"),
                         ({"name": "x", "source": "s", "stage": "Prod"}, "row 1 has a stage"),
                         ({"name": "x", "source": "s", "alias": "latest"}, "row 1 has an invalid "
                          "or reserved alias")]:
        with pytest.raises(InvalidArgument, match=message):
            client.register_model_versions([good, bad])
    with pytest.raises(InvalidArgument, match="unknown.*'version'"):
        client.register_model_versions([{**good, "version": 3}])
    assert client.search_registered_models() == []  # nothing was registered
    assert client.register_model_versions([]) == 0


def test_fold_matches_the_sql_views(client: lakeml.Client, folder_model: str) -> None:
    """A random history of every kind of registry event, read both ways."""
    rng = random.Random(7)
    names = ["a", "b", "c"]
    for name in names:
        client.register_model(folder_model, name)
    for _ in range(60):
        name = rng.choice(names)
        versions = [v.version for v in client.search_model_versions(f"name = '{name}'")]
        op = rng.randrange(8)
        if op == 0 or not versions:
            client.register_model(folder_model, name, tags={"k": str(rng.random())})
        elif op == 1:
            client.transition_model_version_stage(
                name, rng.choice(versions), rng.choice(["Staging", "Production", "Archived",
                                                        "None"]),
                archive_existing_versions=False)
        elif op == 2:
            client.set_registered_model_alias(name, rng.choice(["champ", "chall"]),
                                              rng.choice(versions))
        elif op == 3 and len(versions) > 1:
            client.delete_model_version(name, rng.choice(versions))
        elif op == 4:
            client.set_model_version_tag(name, rng.choice(versions), "t", str(rng.random()))
        elif op == 5:
            client.update_model_version(name, rng.choice(versions), f"d{rng.random()}")
        elif op == 6:
            client.set_registered_model_tag(name, rng.choice(["x", "y"]), str(rng.random()))
        else:
            client.update_registered_model(name, f"m{rng.random()}")
    client.rename_registered_model("c", "c2")
    names = ["a", "b", "c2"]
    sql_versions = client.sql(
        "SELECT name, version, current_stage, description, source, storage_location, user_id, "
        "epoch_ms(creation_timestamp), epoch_ms(last_updated_timestamp) FROM model_versions "
        "ORDER BY name, version").fetchall()
    folded = sorted((v.name, v.version, v.current_stage, v.description, v.source,
                     v.storage_location, v.user_id, v.creation_timestamp,
                     v.last_updated_timestamp)
                    for v in client.search_model_versions())
    assert folded == sql_versions
    sql_tags = client.sql("SELECT name, version, key, value FROM model_version_tags "
                          "ORDER BY ALL").fetchall()
    assert sorted((v.name, v.version, k, val) for v in client.search_model_versions()
                  for k, val in v.tags.items()) == sql_tags
    sql_aliases = client.sql("SELECT name, alias, version FROM model_aliases ORDER BY ALL"
                             ).fetchall()
    assert sorted((n, a, ver) for n in names
                  for a, ver in client.get_registered_model(n).aliases.items()) == sql_aliases
    sql_models = client.sql("SELECT name, description, epoch_ms(creation_timestamp), "
                            "epoch_ms(last_updated_timestamp) FROM registered_models ORDER BY "
                            "name").fetchall()
    assert [(m.name, m.description, m.creation_timestamp, m.last_updated_timestamp)
            for m in client.search_registered_models()] == sql_models
    sql_model_tags = client.sql("SELECT name, key, value FROM registered_model_tags ORDER BY ALL"
                                ).fetchall()
    assert sorted((n, k, v) for n in names
                  for k, v in client.get_registered_model(n).tags.items()) == sql_model_tags


def test_reads_stay_right_across_a_compaction(client: lakeml.Client, folder_model: str) -> None:
    for _ in range(5):
        client.register_model(folder_model, "m")
    client.set_registered_model_alias("m", "champion", 4)
    assert client.get_model_version_by_alias("m", "champion").version == 4  # mirror loaded
    files_before = len(client.store.snapshot_files("registry_log")[1])
    client.store.maintenance.compact(["registry_log"])
    assert len(client.store.snapshot_files("registry_log")[1]) < files_before
    client.register_model(folder_model, "m")  # one append after the compaction
    assert [v.version for v in client.list_model_versions("m")] == [1, 2, 3, 4, 5, 6]
    assert client.get_model_version_by_alias("m", "champion").version == 4
    state = client.registry._registry_state()
    mirrored = state.cursor().execute("SELECT count(*), count(DISTINCT seq) FROM reg_log"
                                      ).fetchall()
    assert mirrored == client.sql("SELECT count(*), count(DISTINCT seq) FROM registry_events"
                                  ).fetchall()
