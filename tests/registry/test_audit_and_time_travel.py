"""Every registry event is a row; the registry reads as of any past time."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

import lakeml
from lakeml.errors import InvalidArgument


def _now() -> datetime:
    time.sleep(0.01)
    moment = datetime.now(timezone.utc)
    time.sleep(0.01)
    return moment


def test_what_was_in_production_then(client: lakeml.Client, folder_model: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEML_USER", "ana")
    for _ in range(3):
        client.register_model(folder_model, "churn")
    client.transition_model_version_stage("churn", 1, "Production")
    client.set_registered_model_alias("churn", "champion", 1)
    march = _now()
    monkeypatch.setenv("LAKEML_USER", "rui")
    client.transition_model_version_stage("churn", 2, "Production", archive_existing_versions=True,
                                          comment="better recall")
    client.set_registered_model_alias("churn", "champion", 2)
    client.rename_registered_model("churn", "churn-v2")
    client.delete_model_version("churn-v2", 3)
    april = _now()

    then = client.registry_as_of(march)
    assert [v.version for v in then.get_latest_versions("churn", ["Production"])] == [1]
    assert then.get_model_version_by_alias("churn", "champion").version == 1
    assert then.get_model_version("churn", 3).current_stage == "None"
    with pytest.raises(lakeml.errors.NotFound):
        then.get_registered_model("churn-v2")
    assert [m.name for m in then.search_registered_models()] == ["churn"]
    with pytest.raises(InvalidArgument, match="read-only"):
        then.register_model(folder_model, "churn")
    now = client.registry_as_of(april.isoformat())
    assert [v.version for v in now.get_latest_versions("churn-v2", ["Production"])] == [2]
    assert [v.version for v in now.search_model_versions("name = 'churn-v2'")] == [2, 1]
    assert client.registry_as_of("2000-01-01").search_registered_models() == []

    # the audit trail: who, when, what, from and to, why
    rows = client.sql(
        "SELECT user_id, action, name, version, from_value, to_value, comment "
        "FROM registry_events WHERE action IN ('transition_stage', 'rename_model', "
        "'delete_version') ORDER BY seq").fetchall()
    assert rows == [
        ("ana", "transition_stage", "churn", 1, "None", "Production", None),
        ("rui", "transition_stage", "churn", 2, "None", "Production", "better recall"),
        ("rui", "transition_stage", "churn", 1, "Production", "Archived",
         "archived: version 2 moved to Production"),
        ("rui", "rename_model", "churn-v2", None, "churn", "churn-v2", None),
        ("rui", "delete_version", "churn-v2", 3, None, None, None),
    ]
    stamps = client.sql("SELECT min(timestamp), max(timestamp) FROM registry_events").fetchall()[0]
    assert stamps[0] < march < stamps[1] < april
    # lakeml.sql over Delta time travel agrees with the registry's own as_of
    past = lakeml.sql("SELECT name, version FROM model_versions WHERE current_stage = "
                      "'Production'", as_of=march).fetchall()
    assert past == [("churn", 1)]
    assert client.sql("SELECT name, version FROM model_versions WHERE current_stage = "
                      "'Production'").fetchall() == [("churn-v2", 2)]
