"""The export's registry on a real ``mlflow server`` (the session fixture on loopback): lakeml
versions found again by their ``lakeml.source_version`` tag whatever number the server gave
them, names holding quotes, and a model of the same name the export did not create."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import lakeml
from lakeml.errors import AlreadyExists
from lakeml.migrate.exporter import export_mlflow
from lakeml.migrate.mlflow_rest import MlflowRest
from lakeml.migrate.rest_source import RestSource

pytestmark = pytest.mark.slow


def _server_versions(server: str, name: str) -> dict[str, dict[str, Any]]:
    """lakeml version (its tag) -> the server's version, of model ``name``."""
    rest = MlflowRest(server)
    try:
        found = [v for v in rest.pages("model-versions/search", {}, "model_versions",
                                       method="GET") if v["name"] == name]
        aliases = {a["alias"]: a["version"] for a in rest.call(
            "GET", "registered-models/get", params={"name": name})["registered_model"].get(
            "aliases", [])}
    finally:
        rest.close()
    out = {}
    for v in found:
        tags = {t["key"]: t["value"] for t in v.get("tags", [])}
        out[tags.get("lakeml.source_version", "?")] = dict(v, aliased=sorted(
            a for a, n in aliases.items() if n == v["version"]))
    return out


def test_versions_match_by_tag_after_a_deletion(mlflow_server: str, tmp_path: Path) -> None:
    name = f"it's \"quoted\" {uuid.uuid4().hex[:6]}"  # both quotes: never put in a filter
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    client.create_registered_model(name)
    for i in range(3):
        client.create_model_version(name, f"s3://bucket/model-{i}")
    client.flush()
    first = export_mlflow(store, mlflow_server)
    assert first.counts["model_versions"] == 3
    assert sorted(_server_versions(mlflow_server, name)) == ["1", "2", "3"]

    client.delete_model_version(name, 2)
    client.transition_model_version_stage(name, 3, "Production")
    client.set_registered_model_alias(name, "champion", 3)
    client.flush()
    again = export_mlflow(store, mlflow_server)
    assert again.counts["model_versions"] == 0  # found by their tag, none created twice
    assert again.counts["versions_deleted"] == 1
    versions = _server_versions(mlflow_server, name)
    assert sorted(versions) == ["1", "3"]
    assert versions["3"]["version"] == "3" and versions["3"]["aliased"] == ["champion"]
    assert versions["3"]["current_stage"] == "Production"
    assert versions["1"]["current_stage"] == "None" and versions["1"]["aliased"] == []

    # and the import reads the quoted name's versions back
    source = RestSource(mlflow_server)
    try:
        (model,) = [m for m in source.registered_models() if m.name == name]
    finally:
        source.close()
    assert [v.version for v in model.versions] == [1, 3]
    assert model.aliases == {"champion": 3}


def test_a_gap_is_renumbered_and_aliases_follow(mlflow_server: str, tmp_path: Path) -> None:
    name = f"gap-{uuid.uuid4().hex[:6]}"
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    client.create_registered_model(name)
    for i in range(3):
        client.create_model_version(name, f"s3://bucket/model-{i}")
    client.delete_model_version(name, 2)
    client.set_registered_model_alias(name, "champion", 3)
    client.flush()
    summary = export_mlflow(store, mlflow_server)
    assert summary.counts["versions_renumbered"] == 1
    versions = _server_versions(mlflow_server, name)
    assert {k: (v["version"], v["aliased"]) for k, v in versions.items()} == {
        "1": ("1", []), "3": ("2", ["champion"])}


def test_a_server_model_the_export_did_not_create_is_refused(mlflow_server: str,
                                                             tmp_path: Path) -> None:
    name = f"theirs-{uuid.uuid4().hex[:6]}"
    rest = MlflowRest(mlflow_server)
    try:
        rest.call("POST", "registered-models/create", {"name": name, "description": "mine"})
    finally:
        rest.close()
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    client.create_registered_model(name, description="lakeml's")
    client.flush()
    with pytest.raises(AlreadyExists, match=name):
        export_mlflow(store, mlflow_server)
    rest = MlflowRest(mlflow_server)
    try:
        got = rest.call("GET", "registered-models/get", params={"name": name})
    finally:
        rest.close()
    assert got["registered_model"]["description"] == "mine"


def test_a_deleted_run_is_deleted_even_if_the_export_stops(mlflow_server: str,
                                                          tmp_path: Path) -> None:
    """The export fails in the registry (a model of the same name is someone else's),
    after its runs are recorded as sent: the deleted run must be deleted already."""
    name = f"clash-{uuid.uuid4().hex[:6]}"
    rest = MlflowRest(mlflow_server)
    try:
        rest.call("POST", "registered-models/create", {"name": name})
    finally:
        rest.close()
    store = str(tmp_path / "lake")
    client = lakeml.Client(store)
    exp = client.create_experiment(f"stops-{uuid.uuid4().hex[:6]}")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "m", 1.0)
    client.delete_run(run.info.run_id)
    client.create_registered_model(name)
    client.flush()
    with pytest.raises(AlreadyExists, match=name):
        export_mlflow(store, mlflow_server)
    rest = MlflowRest(mlflow_server)
    try:
        exp_ids = [e["experiment_id"] for e in rest.pages(
            "experiments/search", {"view_type": "ALL"}, "experiments")]
        (sent,) = rest.pages("runs/search", {
            "experiment_ids": exp_ids, "run_view_type": "ALL",
            "filter": f"tags.`lakeml.source_run_id` = '{run.info.run_id}'"}, "runs")
    finally:
        rest.close()
    assert sent["info"]["lifecycle_stage"] == "deleted"
    assert [m["key"] for m in sent["data"]["metrics"]] == ["m"]
