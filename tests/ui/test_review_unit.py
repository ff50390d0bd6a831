"""The version audit history of lakeml/ui/review.py over a real store: a model's history
follows it across a rename and never shows another model that held the name before."""

from __future__ import annotations

import lakeml
from lakeml.ui.args import Args
from lakeml.ui.review import events


def _version(client: lakeml.Client, name: str, run_id: str) -> None:
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)


def test_the_history_is_of_the_model_that_holds_the_name_now(tmp_path) -> None:
    client = lakeml.Client(str(tmp_path / "lake"))
    run = client.create_run(client.create_experiment("e")).info.run_id
    client.log_text(run, "artifact_path: model\nflavors: {}\n", "model/MLmodel")
    client.create_registered_model("a")
    _version(client, "a", run)
    client.request_transition("a", 1, "Staging", comment="old model's request")
    client.rename_registered_model("a", "b")
    client.create_registered_model("a")
    _version(client, "a", run)
    client.request_transition("a", 1, "Production", comment="new model's request")
    new = [e["comment"] for e in events(client, Args({"name": "a", "version": "1"}))["events"]]
    assert "new model's request" in new and "old model's request" not in new
    old = [e["comment"] for e in events(client, Args({"name": "b", "version": "1"}))["events"]]
    assert "old model's request" in old and "new model's request" not in old
    actions = [e["action"] for e in events(client, Args({"name": "b", "version": "1"}))["events"]]
    assert actions[0] == "request_transition" and "create_version" in actions[-1]
