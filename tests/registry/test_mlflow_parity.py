"""Registry scenarios from MLflow's test suite where lakeml once answered differently.

The expected values are MLflow 3.17.2's (MlflowClient, default sqlite store),
as recorded in issue 16.
"""

from __future__ import annotations

import time

import pytest

import lakeml
from lakeml.errors import NotFound


@pytest.fixture
def two_models(client: lakeml.Client, folder_model: str) -> lakeml.Client:
    client.create_registered_model("a", tags={"team": "x"})
    client.create_model_version("a", folder_model, tags={"fw": "1"})
    time.sleep(0.005)
    client.create_registered_model("b", tags={"team": "y"})
    client.create_model_version("b", folder_model, tags={"fw": "2"})
    time.sleep(0.005)
    client.create_model_version("a", folder_model, tags={"fw": "3"})
    return client


def test_tag_prefix_is_accepted_as_tags(two_models: lakeml.Client) -> None:
    c = two_models
    assert [m.name for m in c.search_registered_models("tag.team = 'y'")] == ["b"]
    assert [m.name for m in c.search_registered_models("tags.team = 'y'")] == ["b"]
    found = c.search_model_versions("tag.fw = '3'")
    assert [(v.name, v.version) for v in found] == [("a", 2)]
    assert [(v.name, v.version) for v in c.search_model_versions("tag.`fw` = '2'")] == [("b", 1)]


def test_timestamp_orders_registered_models_by_last_update(two_models: lakeml.Client) -> None:
    c = two_models
    time.sleep(0.005)
    c.update_registered_model("a", "touched")  # "a" is now the latest change
    assert [m.name for m in c.search_registered_models(order_by=["timestamp DESC"])] == [
        "a", "b"]
    assert [m.name for m in c.search_registered_models(order_by=["timestamp ASC"])] == [
        "b", "a"]
    # max_results=None is the default page size, as in run search
    assert len(c.search_registered_models(max_results=None)) == 2
    assert len(c.search_model_versions(max_results=None)) == 3


def test_model_versions_default_order_is_latest_update_first(two_models: lakeml.Client) -> None:
    c = two_models
    assert [(v.name, v.version) for v in c.search_model_versions()] == [
        ("a", 2), ("b", 1), ("a", 1)]
    time.sleep(0.005)
    c.update_model_version("a", 1, "changed")
    assert [(v.name, v.version) for v in c.search_model_versions()][0] == ("a", 1)


def test_deleting_an_absent_tag_is_a_no_op(two_models: lakeml.Client) -> None:
    c = two_models
    before = c.get_registered_model("a")
    c.delete_registered_model_tag("a", "nope")
    c.delete_model_version_tag("a", 1, "nope")
    assert c.get_registered_model("a").tags == before.tags == {"team": "x"}
    assert c.get_model_version("a", 1).tags == {"fw": "1"}
    with pytest.raises(NotFound):  # an absent model is still an error
        c.delete_registered_model_tag("zzz", "nope")


def test_status_message_and_download_uri(client: lakeml.Client, model_uri: str) -> None:
    mv = client.register_model(model_uri, "m")
    assert mv.status_message is None
    assert client.get_model_version("m", 1).status_message is None
    assert client.get_model_version_download_uri("m", 1) == model_uri
    assert client.get_model_version("m", 1).storage_location != model_uri
