"""Stages, archive_existing_versions, get_latest_versions, aliases and models:/ URIs."""

from __future__ import annotations

import pytest

import lakeml
from lakeml.errors import InvalidArgument, NotFound


@pytest.fixture
def three(client: lakeml.Client, folder_model: str) -> lakeml.Client:
    for _ in range(3):
        client.register_model(folder_model, "churn")
    return client


def test_transitions_and_latest_versions(three: lakeml.Client) -> None:
    c = three
    assert [(v.version, v.current_stage) for v in c.get_latest_versions("churn")] == [(3, "None")]
    c.transition_model_version_stage("churn", 1, "production")
    c.transition_model_version_stage("churn", 2, "Staging", comment="candidate")
    mv = c.transition_model_version_stage("churn", 3, "Production")
    assert mv.current_stage == "Production"
    assert [v.version for v in c.get_latest_versions("churn", ["Production"])] == [3]
    assert [(v.version, v.current_stage) for v in c.get_latest_versions("churn")] == [
        (2, "Staging"), (3, "Production")]
    assert c.get_latest_versions("churn", ["Archived"]) == []
    # archive_existing_versions moves the other Production version to Archived
    c.transition_model_version_stage("churn", 2, "Production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in c.search_model_versions("name = 'churn'")}
    assert stages == {1: "Archived", 2: "Production", 3: "Archived"}
    # Development is the None stage
    assert c.transition_model_version_stage("churn", 1, "Development").current_stage == "None"
    with pytest.raises(InvalidArgument, match="stage 'Prod' is not one of"):
        c.transition_model_version_stage("churn", 1, "Prod")
    with pytest.raises(InvalidArgument, match="archive_existing_versions applies to"):
        c.transition_model_version_stage("churn", 1, "Archived", archive_existing_versions=True)


def test_aliases_resolve_and_follow_deletion(three: lakeml.Client) -> None:
    c = three
    c.set_registered_model_alias("churn", "champion", 2)
    c.set_registered_model_alias("churn", "challenger", 3)
    assert c.get_model_version_by_alias("churn", "champion").version == 2
    assert c.get_model_version("churn", 2).aliases == ["champion"]
    assert c.get_registered_model("churn").aliases == {"challenger": 3, "champion": 2}
    c.set_registered_model_alias("churn", "champion", 3)  # moves
    assert c.get_model_version("churn", 3).aliases == ["challenger", "champion"]
    c.delete_registered_model_alias("churn", "challenger")
    with pytest.raises(NotFound, match="has no alias 'challenger'"):
        c.get_model_version_by_alias("churn", "challenger")
    c.delete_model_version("churn", 3)  # its aliases go with it
    assert c.get_registered_model("churn").aliases == {}
    for bad in ("latest", "v3", "1st", "has space"):
        with pytest.raises(InvalidArgument, match="alias"):
            c.set_registered_model_alias("churn", bad, 1)
    with pytest.raises(NotFound, match="has no version 3"):
        c.set_registered_model_alias("churn", "x", 3)


def test_models_uris_load_the_right_version(client: lakeml.Client, iris_model,
                                            tmp_path) -> None:
    from sklearn.dummy import DummyClassifier

    model, X = iris_model
    constant = DummyClassifier(strategy="constant", constant=2).fit(X, [2] * len(X))
    lakeml.sklearn.save_model(model, tmp_path / "real")
    lakeml.sklearn.save_model(constant, tmp_path / "constant")
    client.register_model(str(tmp_path / "real"), "iris")
    client.register_model(str(tmp_path / "constant"), "iris")
    client.transition_model_version_stage("iris", 1, "Production")
    client.set_registered_model_alias("iris", "champion", 1)
    expected = list(model.predict(X.head(20)))
    for uri in ("models:/iris/1", "models:/iris/Production", "models:/iris/production",
                "models:/iris@champion"):
        assert list(lakeml.pyfunc.load_model(uri).predict(X.head(20))) == expected, uri
    for uri in ("models:/iris/2", "models:/iris/latest"):
        assert set(lakeml.pyfunc.load_model(uri).predict(X.head(20))) == {2}, uri
    with pytest.raises(NotFound, match="no version in stage 'Staging'"):
        lakeml.pyfunc.load_model("models:/iris/Staging")
    with pytest.raises(NotFound, match="has no alias 'gone'"):
        lakeml.pyfunc.load_model("models:/iris@gone")
    with pytest.raises(InvalidArgument, match="must look like models:/<name>/<version>"):
        lakeml.pyfunc.load_model("models:/iris/1/extra")
