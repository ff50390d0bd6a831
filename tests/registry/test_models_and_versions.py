"""Registered models and versions: create, read, rename, describe, tag, delete, number."""

from __future__ import annotations

import pytest

import lakeml
from lakeml.errors import AlreadyExists, InvalidArgument, NotFound


def test_register_model_numbers_versions_and_records_lineage(client: lakeml.Client,
                                                             model_uri: str) -> None:
    run_id = model_uri.split("/")[1]
    first = lakeml.register_model(model_uri, "churn", tags={"team": "risk"})
    second = client.register_model(model_uri, "churn")
    assert (first.version, second.version) == (1, 2)
    assert first.name == "churn" and first.current_stage == "None" and first.status == "READY"
    assert first.run_id == run_id and first.source == model_uri
    assert first.storage_location == client.get_artifact_uri(run_id, "model")
    assert first.tags == {"team": "risk"} and second.tags == {}
    assert first.user_id == second.user_id  # the OS user, or LAKEML_USER
    assert first.creation_timestamp <= second.creation_timestamp
    got = client.get_model_version("churn", "2")
    assert got == second
    assert client.get_model_version_download_uri("churn", 1) == model_uri  # the source (MLflow)


def test_create_registered_model_then_versions_from_any_uri(client: lakeml.Client,
                                                            folder_model: str) -> None:
    model = client.create_registered_model("fraud", tags={"owner": "ana"},
                                           description="# Fraud\nscores *transactions*")
    assert model.name == "fraud" and model.latest_versions == []
    assert model.tags == {"owner": "ana"} and model.description.startswith("# Fraud")
    with pytest.raises(AlreadyExists, match="'fraud' already exists"):
        client.create_registered_model("fraud")
    mv = client.create_model_version("fraud", folder_model, description="baseline")
    assert (mv.version, mv.run_id, mv.description) == (1, None, "baseline")
    assert mv.storage_location == folder_model
    with pytest.raises(NotFound, match="registered model 'nope' does not exist"):
        client.create_model_version("nope", folder_model)


def test_bad_names_versions_and_sources_are_refused(client: lakeml.Client, tmp_path,
                                                    folder_model: str) -> None:
    for bad in ("", "a/b", "a@b", "models:x", " padded"):
        with pytest.raises(InvalidArgument, match="registered model name"):
            client.create_registered_model(bad)
    with pytest.raises(NotFound, match="has no MLmodel file"):
        client.register_model(str(tmp_path), "m")
    client.register_model(folder_model, "m")
    for bad in (0, -1, "x", True):
        with pytest.raises(InvalidArgument, match="model version must be a positive integer"):
            client.get_model_version("m", bad)
    with pytest.raises(NotFound, match="registered model 'm' has no version 9"):
        client.get_model_version("m", 9)
    assert [v.version for v in client.search_model_versions("name = 'm'")] == [1]


def test_rename_describe_tag_and_delete(client: lakeml.Client, folder_model: str) -> None:
    client.register_model(folder_model, "old")
    client.register_model(folder_model, "taken")
    with pytest.raises(AlreadyExists, match="'taken' already exists"):
        client.rename_registered_model("old", "taken")
    renamed = client.rename_registered_model("old", "new")
    assert renamed.name == "new" and renamed.latest_versions[0].name == "new"
    with pytest.raises(NotFound):
        client.get_registered_model("old")
    # versions continue after a rename; the old name is free again
    assert client.register_model(folder_model, "new").version == 2
    assert client.register_model(folder_model, "old").version == 1

    client.update_registered_model("new", "updated **markdown**")
    client.update_model_version("new", 1, "first one")
    client.set_registered_model_tag("new", "stage-gate", "passed")
    client.set_model_version_tag("new", 1, "validated", True)
    assert client.get_registered_model("new").description == "updated **markdown**"
    assert client.get_registered_model("new").tags == {"stage-gate": "passed"}
    v1 = client.get_model_version("new", 1)
    assert (v1.description, v1.tags) == ("first one", {"validated": "True"})
    client.delete_registered_model_tag("new", "stage-gate")
    client.delete_model_version_tag("new", 1, "validated")
    assert client.get_registered_model("new").tags == {}
    assert client.get_model_version("new", 1).tags == {}
    client.delete_model_version_tag("new", 1, "validated")  # an absent key: a no-op (MLflow)
    assert client.get_model_version("new", 1).tags == {}
    with pytest.raises(NotFound, match="has no version 7"):
        client.delete_model_version_tag("new", 7, "validated")

    client.delete_model_version("new", 1)
    with pytest.raises(NotFound, match="has no version 1"):
        client.get_model_version("new", 1)
    # a deleted number is never reused
    assert client.register_model(folder_model, "new").version == 3
    client.delete_registered_model("new")
    with pytest.raises(NotFound):
        client.get_registered_model("new")
    # the name can be registered again, numbering from 1
    assert client.register_model(folder_model, "new").version == 1


def test_log_model_with_registered_model_name(store_uri: str, iris_model) -> None:
    model, X = iris_model
    with lakeml.start_run():
        info = lakeml.sklearn.log_model(model, "model", registered_model_name="iris")
        again = lakeml.sklearn.log_model(model, "model2", registered_model_name="iris")
    assert (info.registered_model_version, again.registered_model_version) == (1, 2)
    loaded = lakeml.pyfunc.load_model("models:/iris/2")
    assert list(loaded.predict(X.head(5))) == list(model.predict(X.head(5)))
