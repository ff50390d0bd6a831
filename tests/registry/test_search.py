"""search_registered_models and search_model_versions: filters, order, pages, errors."""

from __future__ import annotations

import pytest

import lakeml
from lakeml.errors import InvalidArgument


@pytest.fixture
def fleet(client: lakeml.Client, folder_model: str) -> lakeml.Client:
    for i in range(5):
        name = f"device-{i}"
        client.create_registered_model(name, tags={"site": "porto" if i % 2 else "lisbon"})
        for _ in range(i % 3 + 1):
            client.create_model_version(name, folder_model, run_id=f"run{i}",
                                        tags={"fw": f"v{i}"})
    client.register_model(folder_model, "other model")
    return client


BY_NAME = ["name", "version_number DESC"]


def versions(found) -> list[tuple[str, int]]:
    return [(v.name, v.version) for v in found]


def test_version_filters(fleet: lakeml.Client) -> None:
    c = fleet
    assert versions(c.search_model_versions("name = 'device-2'")) == [
        ("device-2", 3), ("device-2", 2), ("device-2", 1)]
    assert versions(c.search_model_versions("run_id = 'run4' AND version_number >= 2")) == [
        ("device-4", 2)]
    # (the default order is the latest change first, as in MLflow: name the order here)
    assert versions(c.search_model_versions("tags.fw IN ('v0', 'v1')", order_by=BY_NAME)) == [
        ("device-0", 1), ("device-1", 2), ("device-1", 1)]
    assert versions(c.search_model_versions(
        "name LIKE 'device-%' AND (version_number = 3 OR run_id = 'run0')",
        order_by=BY_NAME)) == [
        ("device-0", 1), ("device-2", 3)]
    assert versions(c.search_model_versions("name = 'other model'")) == [("other model", 1)]
    assert versions(c.search_model_versions("`name` ILIKE 'OTHER%'")) == [("other model", 1)]
    assert len(c.search_model_versions()) == 1 + 2 + 3 + 1 + 2 + 1


def test_model_filters_order_and_pages(fleet: lakeml.Client) -> None:
    c = fleet
    assert [m.name for m in c.search_registered_models("tags.site = 'porto'")] == [
        "device-1", "device-3"]
    assert [m.name for m in c.search_registered_models("name NOT IN ('device-0', 'other model')",
                                                       order_by=["name DESC"])] == [
        "device-4", "device-3", "device-2", "device-1"]
    names, token = [], None
    while True:
        page = c.search_registered_models("name LIKE 'device-%'", max_results=2,
                                          page_token=token)
        names += [m.name for m in page]
        token = page.token
        if token is None:
            break
    assert names == [f"device-{i}" for i in range(5)]
    first = c.search_model_versions(max_results=4, order_by=["version_number DESC", "name"])
    rest = c.search_model_versions(max_results=100, order_by=["version_number DESC", "name"],
                                   page_token=first.token)
    assert versions(first)[:2] == [("device-2", 3), ("device-1", 2)]
    assert len(first) + len(rest) == 10 and rest.token is None


def test_bad_filters_point_at_the_problem_and_values_stay_values(fleet: lakeml.Client) -> None:
    c = fleet
    with pytest.raises(InvalidArgument, match=r"column 1: unknown key 'nme'(.|\n)*\^"):
        c.search_model_versions("nme = 'x'")
    with pytest.raises(InvalidArgument, match="column 6: expected one of"):
        c.search_model_versions("name ~ 'x'")
    with pytest.raises(InvalidArgument, match="expected a whole number"):
        c.search_model_versions("version_number = 'one'")
    with pytest.raises(InvalidArgument, match="unknown key 'run_id'"):
        c.search_registered_models("run_id = 'x'")
    with pytest.raises(InvalidArgument, match="invalid order_by 'size'"):
        c.search_registered_models(order_by=["size"])
    with pytest.raises(InvalidArgument, match="page_token"):
        c.search_registered_models(page_token="garbage")
    evil = "x' OR '1'='1"
    assert c.search_model_versions(f"name = \"{evil}\"") == []
    assert c.search_registered_models("name = 'a''; DROP TABLE reg_log; --'") == []
    assert len(c.search_registered_models()) == 6
