"""Edges found in review: threads racing, bad input named, review of deleted versions."""

from __future__ import annotations

import threading

import pytest

import lakeml
from lakeml.errors import InvalidArgument, NotFound, PermissionDenied
from tests.registry.conftest import act_as


def test_threads_racing_in_one_process_get_distinct_numbers(client: lakeml.Client,
                                                            folder_model: str) -> None:
    got: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def work() -> None:
        try:
            start.wait()
            for _ in range(8):
                got.append(client.register_model(folder_model, "shared").version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(got) == list(range(1, 49))
    assert [v.version for v in client.list_model_versions("shared")] == list(range(1, 49))


def test_bad_values_are_named(client: lakeml.Client, folder_model: str) -> None:
    client.register_model(folder_model, "m")
    with pytest.raises(InvalidArgument, match="description must be a string, got int 5"):
        client.update_model_version("m", 1, 5)
    with pytest.raises(InvalidArgument, match="tags must be a mapping .* list"):
        client.register_model(folder_model, "m", tags=["a"])
    with pytest.raises(InvalidArgument, match="comment must be a string"):
        client.transition_model_version_stage("m", 1, "Staging", comment=3)
    for bad in ("prod\n", "café"):
        with pytest.raises(InvalidArgument, match="invalid alias"):
            client.set_registered_model_alias("m", bad, 1)
    assert client.search_model_versions("name = 'a/b'") == []  # no model can be named so
    assert [v.version for v in client.list_model_versions("m")] == [1]


def test_bulk_refuses_unknown_runs_and_makes_paths_absolute(client: lakeml.Client,
                                                            model_uri: str, folder_model: str,
                                                            tmp_path, monkeypatch) -> None:
    for bad in ("runs:/0123456789abcdef0123456789abcdef/model", model_uri.rsplit("/", 1)[0]):
        with pytest.raises(InvalidArgument, match="row 1 has a runs:/ source whose run is "
                                                  "unknown or that lacks a path"):
            client.register_model_versions([{"name": "a", "source": model_uri},
                                            {"name": "b", "source": bad}])
    for bad in ("\xa0m", "m\u2003", "m\x85"):
        with pytest.raises(InvalidArgument, match="row 0 has an invalid registered model name"):
            client.register_model_versions([{"name": bad, "source": folder_model}])
    monkeypatch.chdir(tmp_path)
    client.register_model_versions([{"name": "a", "source": model_uri},
                                    {"name": "b", "source": "saved-model"}])
    assert client.get_model_version("b", 1).storage_location == str(tmp_path / "saved-model")
    assert client.get_model_version("a", 1).storage_location.endswith("/artifacts/model")


def test_deleting_a_version_cancels_its_pending_requests(client: lakeml.Client,
                                                         folder_model: str) -> None:
    client.register_model(folder_model, "m")
    client.register_model(folder_model, "m")
    client.request_transition("m", 1, "Production")
    client.request_transition("m", 2, "Staging")
    client.delete_model_version("m", 1)
    assert [(r.version, r.stage) for r in client.get_transition_requests()] == [(2, "Staging")]
    (gone,) = client.get_transition_requests("m", 1, status="CANCELLED")
    assert gone.resolution_comment == "version deleted"
    assert client.sql("SELECT version, status FROM transition_requests ORDER BY version"
                      ).fetchall() == [(1, "CANCELLED"), (2, "PENDING")]


def test_past_views_refuse_writes_before_permissions(client: lakeml.Client, folder_model: str,
                                                     policy, monkeypatch) -> None:
    act_as(monkeypatch, "ana")
    client.register_model(folder_model, "m")
    act_as(monkeypatch, "mallory")
    past = client.registry_as_of("2100-01-01")
    with pytest.raises(InvalidArgument, match="read-only"):
        past.register_model(folder_model, "m")
    with pytest.raises(InvalidArgument, match="read-only"):
        past.approve_transition_request("m", 1, "Production")
    assert client.sql("SELECT count(*) FROM registry_events WHERE outcome = 'denied'"
                      ).fetchall() == [(0,)]
    # archiving the others moves them to Archived: the user needs that right too
    act_as(monkeypatch, "ana")
    client.transition_model_version_stage("m", 1, "Staging")
    client.register_model(folder_model, "m")
    with pytest.raises(PermissionDenied, match="needs 'transition Archived'"):
        client.transition_model_version_stage("m", 2, "Staging", archive_existing_versions=True)
    with pytest.raises(NotFound):
        past.get_model_version("m", 9)


def test_permission_flags_must_be_booleans(client: lakeml.Client, folder_model: str, tmp_path,
                                           monkeypatch) -> None:
    path = tmp_path / "p.yaml"
    monkeypatch.setenv("LAKEML_PERMISSIONS", str(path))
    for text in ('roles: {r: {register: "false"}}', "roles: [r]"):
        path.write_text(text)
        with pytest.raises(InvalidArgument, match="must be true or false|must be a mapping"):
            client.register_model(folder_model, "m")
