"""Editing, plots and workflows in a real headless Chromium against a real server: create,
rename, delete and restore an experiment; set and delete a run's tags; the scatter and
parallel coordinates of an experiment's runs and of a comparison; a workflow's DAG with
its cache hits. Each test saves a screenshot of its page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lakeml
from tests.server.conftest import ROOT
from tests.ui.seed import XSS
from tests.ui.test_pages import Page

PROJECT = Path(__file__).parent / "workflow_project"


@pytest.fixture
def ui(ui_server, browser, shots):
    page = Page(browser, ui_server[0].url, ui_server[1], shots)
    page.store = ui_server[0].store
    return page


def test_create_rename_delete_and_restore_an_experiment(ui) -> None:
    ui.open("/")
    ui.one("#new-experiment").send_keys("made in the UI " + XSS)
    ui.one("#create-experiment button").click()
    name = "made in the UI " + XSS
    ui.wait(lambda d: name in ui.text_of("#experiments"), "not created")
    store = lakeml.Client(ui.store)
    made = store.get_experiment_by_name(name)
    assert made is not None
    row = ui.d.execute_script(
        "return [...document.querySelectorAll('#experiments tbody tr')].findIndex("
        "r => r.textContent.includes(arguments[0]))", name)
    ui.css("#experiments tbody tr")[row].find_element("css selector", ".rename-exp").click()
    box = ui.one(".rename-input")
    box.clear()
    box.send_keys("renamed in the UI")
    box.submit()
    ui.wait(lambda d: "renamed in the UI" in ui.text_of("#experiments"), "not renamed")
    assert store.get_experiment(made.experiment_id).name == "renamed in the UI"
    ui.shot("experiments-edit")
    ui.d.execute_script("window.confirm = () => true")
    ui.one("button[aria-label='Delete experiment renamed in the UI']").click()
    ui.wait(lambda d: "renamed in the UI" not in ui.text_of("#experiments"), "not deleted")
    assert store.get_experiment(made.experiment_id).lifecycle_stage == "deleted"
    from selenium.webdriver.support.select import Select

    Select(ui.one("#exp-view")).select_by_value("deleted")
    ui.one("button[aria-label='Restore experiment renamed in the UI']").click()
    ui.wait(lambda d: "renamed in the UI" not in ui.text_of("#experiments"), "not restored")
    assert store.get_experiment(made.experiment_id).lifecycle_stage == "active"
    assert ui.d.execute_script("return window.__xss === undefined")


def test_set_edit_and_delete_a_run_tag(ui) -> None:
    # a deleted run's tags are read-only, and its page says so (an ended run takes tags)
    client = lakeml.Client(ui.store)  # (an experiment of its own: others count the runs)
    gone = client.create_run(client.create_experiment("deleted-run-tags"),
                             tags={"team": "x"}).info.run_id
    client.delete_run(gone)
    client.flush()
    ui.open(f"/runs/{gone}")
    ui.wait(lambda d: "The run is deleted" in ui.text_of("#tags-readonly"))
    assert not ui.css("#add-tag") and "team" in ui.text_of("#tags-table")
    ui.open(f"/runs/{ui.ids['run-05']}")  # FINISHED
    ui.wait(lambda d: ui.css("#add-tag"), "an ended run's tags are not editable")
    run_id = ui.ids["child"]
    ui.open(f"/runs/{run_id}")
    ui.one("#new-tag-key").send_keys("reviewed")
    ui.one("#new-tag-value").send_keys("<b>yes</b>")
    ui.one("#add-tag button").click()
    ui.wait(lambda d: "reviewed" in ui.text_of("#tags-table"), "tag not added")
    assert client.get_run(run_id).data.tags["reviewed"] == "<b>yes</b>"
    index = ui.d.execute_script(
        "return [...document.querySelectorAll('#tags-table tbody tr')].findIndex("
        "r => r.children[0].textContent === 'reviewed')")
    row = ui.css("#tags-table tbody tr")[index]
    value = row.find_element("css selector", "input")
    assert value.get_attribute("value") == "<b>yes</b>"
    value.clear()
    value.send_keys("no")
    row.find_element("css selector", ".save-tag").click()
    ui.wait(lambda d: client.get_run(run_id).data.tags.get("reviewed") == "no", "not saved")
    ui.shot("run-tags-edit")
    ui.one("button[aria-label='Delete tag reviewed']").click()
    ui.wait(lambda d: "reviewed" not in ui.text_of("#tags-table"), "not deleted")
    assert "reviewed" not in client.get_run(run_id).data.tags
    assert client.get_run(run_id).data.tags["mlflow.runName"] == "child-run"  # others stay


def test_scatter_and_parallel_coordinates_of_an_experiment_and_a_comparison(ui) -> None:
    ui.open(f"/plots?experiment_id={ui.ids['experiment']}")
    ui.wait(lambda d: ui.css("#scatter svg circle"), "no scatter")
    # 30 runs have depth and accuracy; the XSS run (lr only) draws no line
    assert len(ui.css("#scatter svg circle")) == 30
    assert len(ui.css("#parallel svg polyline")) == 30
    axes = ui.d.execute_script(
        "return [...document.querySelectorAll('#parallel svg > text[font-weight]')]"
        ".map(t => t.textContent)")
    assert axes == ["depth", "lr", "model", "accuracy"]
    ticks = [t.text for t in ui.css("#scatter text.tick")]
    assert ticks[:3] == ["0", "1.5", "3"]  # depth, a number: a numeric axis
    lr_ticks = ui.d.execute_script(
        "return [...document.querySelectorAll('#parallel text.tick')].map(t => t.textContent)")
    assert XSS[:17] + "…" in lr_ticks  # lr holds the XSS string: a category, as text
    assert ui.d.execute_script("return window.__xss === undefined")
    ui.shot("plots-experiment")
    ui.d.execute_script("document.getElementById('parallel').scrollIntoView()")
    ui.shot("plots-parallel")
    from selenium.webdriver.support.select import Select

    Select(ui.one("#plot-x")).select_by_value("lr")
    ui.wait(lambda d: "x=lr" in d.current_url)
    ui.wait(lambda d: "accuracy against lr" in ui.text_of("#scatter figcaption"))
    a, b = ui.ids["run-03"], ui.ids["run-07"]
    ui.open(f"/compare?run={a}&run={b}")
    ui.one("#compare-plots").click()
    ui.wait(lambda d: len(ui.css("#scatter svg circle")) == 2, "no scatter of the two runs")
    assert len(ui.css("#parallel svg polyline")) == 2
    assert "Plots of 2 runs" in ui.text_of("h1")


@pytest.fixture(scope="module")
def workflow_runs(ui_server) -> list[dict]:
    """The test workflow run twice into the served store (the second reuses every step)."""
    server = ui_server[0]
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "lakeml", "workflow", "run", str(PROJECT),
                               "-w", "main", "--store", server.store],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr
    rows = lakeml.Client(server.store).sql(
        "SELECT workflow_run_id, count(*) FILTER (WHERE status = 'reused') AS hits "
        "FROM workflow_steps GROUP BY 1 ORDER BY min(end_time)").fetchall()
    return [{"run_id": r, "hits": n} for r, n in rows]


def test_a_workflow_dag_shows_status_cache_hits_and_step_runs(ui, workflow_runs) -> None:
    first, second = workflow_runs
    assert (first["hits"], second["hits"]) == (0, 4)
    ui.open("/workflows")
    ui.wait(lambda d: len(ui.css("#workflow-runs tbody tr")) == 2, "no workflow runs")
    assert ui.css("#workflow-runs tbody tr")[0].text.split()[-1] == "4"  # newest first
    ui.shot("workflows")
    ui.css("#workflow-runs tbody tr a")[0].click()
    ui.wait(lambda d: len(ui.css("#dag .node")) == 4, "no DAG")
    assert len(ui.css("#dag .node.reused")) == 4 and len(ui.css("#dag path.edge")) == 4
    assert "4 (4 cache hits)" in ui.text_of("main dl")
    steps = ui.text_of("#workflow-steps")
    assert "report reused (cache hit)" in steps and "train_small, train_large" not in steps
    assert "train_large, train_small" in steps  # report's inputs, by name
    ui.shot("workflow-dag")
    ui.open(f"/workflows/{first['run_id']}")
    ui.wait(lambda d: len(ui.css("#dag .node.executed")) == 4, "first run not executed")
    step_run = ui.d.execute_script(
        "return document.querySelector('#dag a g[data-step=\"report\"]').parentNode"
        ".getAttribute('href')")
    ui.d.execute_script("document.querySelector('#dag a g[data-step=\"report\"]')"
                        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
    ui.wait(lambda d: d.current_url.endswith(step_run), "the node does not open its run")
    ui.wait(lambda d: ui.text_of("#run-name") == "report")
    ui.press("main dl a", "main: the steps' DAG")  # a step run links to its workflow's DAG
    ui.wait(lambda d: len(ui.css("#dag .node.executed")) == 4, "no way back to the DAG")


def test_the_new_pages_fit_a_phone_width(ui, workflow_runs) -> None:
    ui.d.set_window_size(390, 844)
    try:
        for fragment, ready in (("/", "#create-experiment"),
                                (f"/plots?experiment_id={ui.ids['experiment']}",
                                 "#parallel polyline"),
                                (f"/workflows/{workflow_runs[1]['run_id']}", "#dag .node")):
            ui.open(fragment)
            ui.one(ready)
            overflow = ui.d.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{fragment} is {overflow}px wider than the phone"
            ui.shot("phone-" + (fragment.split("/")[1].split("?")[0] or "experiments-edit"))
    finally:
        ui.d.set_window_size(1280, 900)
