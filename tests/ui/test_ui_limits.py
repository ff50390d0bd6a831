"""The UI API's bounds on what one request may cost the shared server: markdown renders
after the server's lock is released and long descriptions are not rendered at all
(lakeml/ui/markdown.py); SQL box queries stop at the ``ui_sql_timeout`` setting
(lakeml/ui/sqlbox.py). Yes/no arguments take JSON booleans (lakeml/arguments.flag). Real
stores and Clients; the API through httpx's in-process ASGI transport."""

from __future__ import annotations

import threading

import pytest

import lakeml
from lakeml.errors import InvalidArgument
from lakeml.ui import review, sqlbox
from lakeml.ui.args import Args
from lakeml.ui.markdown import MAX_RENDERED, Markdown

UI_HEADER = {"X-Lakeml-UI": "1"}


@pytest.fixture()
def client(tmp_path) -> lakeml.Client:
    return lakeml.Client(str(tmp_path / "lake"))


def test_markdown_renders_with_the_servers_lock_released(client) -> None:
    import asyncio

    import httpx
    from fastapi import FastAPI

    from lakeml.ui.routes import mount

    client.create_registered_model("short", description="**bold**")
    client.create_registered_model("long", description="![" * 40_000)  # 80 KiB
    client.flush()
    lock = threading.Lock()
    held: list[bool] = []

    class Probe(Markdown):  # renders as Markdown does, noting whether the lock is held
        def html(self) -> str:
            held.append(lock.locked())
            return super().html()

    def guard(path, handler):
        def probed(c, args):
            body = handler(c, args)
            if isinstance(body.get("description_html"), Markdown):
                body["description_html"] = Probe(body["description_html"].text)
            return body
        return probed

    app = FastAPI()
    mount(app, client, lock, guard=guard)

    async def get(name: str) -> dict:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://ui") as http:
            r = await http.get("/ajax-api/lakeml/model", params={"name": name},
                               headers=UI_HEADER)
            assert r.status_code == 200, r.text
            return r.json()

    assert asyncio.run(get("short"))["description_html"] == "<p><strong>bold</strong></p>\n"
    long = asyncio.run(get("long"))
    assert held == [False, False]
    # longer than MAX_RENDERED: plain text, saying so; the markdown itself comes as it is
    assert len("![" * 40_000) > MAX_RENDERED
    assert long["description_html"].startswith('<p class="muted">This description is longer')
    assert "shown as plain text" in long["description_html"]
    assert "<pre" in long["description_html"] and "<img" not in long["description_html"]
    assert long["model"]["description"] == "![" * 40_000


def test_a_sql_box_query_stops_at_the_time_limit_naming_it(client, monkeypatch) -> None:
    monkeypatch.setenv("LAKEML_UI_SQL_TIMEOUT", "0.3")
    endless = "SELECT count(*) FROM range(1000000000000) a"
    for call in (sqlbox.query, sqlbox.download):
        with pytest.raises(InvalidArgument) as err:
            call(client, Args({"q": endless}))
        assert "limit of 0.3 s" in err.value.message
        assert "LAKEML_UI_SQL_TIMEOUT" in err.value.message
    # the limit does not touch a quick query, nor the next one
    assert sqlbox.query(client, Args({"q": "SELECT 42 AS n"}))["rows"] == [[42]]


def test_approval_takes_a_json_true_to_archive_the_other_versions(client) -> None:
    run = client.create_run(client.create_experiment("e")).info.run_id
    client.log_text(run, "artifact_path: model\nflavors: {}\n", "model/MLmodel")
    client.create_registered_model("m")
    for _ in range(2):
        client.create_model_version("m", f"runs:/{run}/model", run_id=run)
    client.transition_model_version_stage("m", 1, "Production")
    client.request_transition("m", 2, "Production")
    move = {"name": "m", "version": "2", "stage": "Production"}
    with pytest.raises(InvalidArgument, match="archive_existing_versions must be true or "
                                              "false, got str 'yes'"):
        review.transition(client, Args({**move, "action": "approve",
                                        "archive_existing_versions": "yes"}))
    review.transition(client, Args({**move, "action": "approve",
                                    "archive_existing_versions": True}))
    assert client.get_model_version("m", 2).current_stage == "Production"
    assert client.get_model_version("m", 1).current_stage == "Archived"


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), (None, False), ("true", True), ("TRUE", True),
    (" False ", False), ("false", False)])
def test_a_flag_is_a_boolean_or_its_text(value, expected) -> None:
    assert Args({"f": value}).flag("f") is expected
    assert Args({"f": [value]}).flag("f") is expected  # a JSON list: its last value


@pytest.mark.parametrize("value", ["yes", "1", "", 1, 0.0, {"a": 1}])
def test_a_flag_refuses_anything_else_naming_it(value) -> None:
    with pytest.raises(InvalidArgument, match="f must be true or false, got"):
        Args({"f": value}).flag("f")


def test_plots_say_truncated_only_when_more_runs_match_than_they_show(client,
                                                                      monkeypatch) -> None:
    from lakeml.ui import plots

    monkeypatch.setattr(plots, "MAX_RUNS", 3)  # as 5,000, with fewer runs to make
    experiment = client.create_experiment("plots")
    for i in range(3):
        run = client.create_run(experiment).info.run_id
        client.log_param(run, "p", str(i))
        client.log_metric(run, "m", float(i))
    client.flush()
    args = Args({"experiment_id": [experiment]})
    exactly = plots.points(client, args)
    assert len(exactly["runs"]) == 3 and exactly["truncated"] is False
    client.create_run(experiment)
    client.flush()
    more = plots.points(client, args)
    assert len(more["runs"]) == 3 and more["truncated"] is True
