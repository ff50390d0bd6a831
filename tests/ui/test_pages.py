"""The web UI in a real headless Chromium against a real ``lakeml server`` on loopback.

The pages are driven as a user would: type a filter, click a column header, tick runs,
open a run and its artifacts. Each test saves a screenshot of its page.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from tests.ui.seed import LONG_STEPS, MANY_RUNS, WIDE_KEYS, XSS

pytestmark = pytest.mark.usefixtures("ui_server")
WAIT = 20


@pytest.fixture
def ui(ui_server, browser, shots):
    """A helper bound to the session's server and browser."""
    return Page(browser, ui_server[0].url, ui_server[1], shots)


class Page:
    def __init__(self, driver, url, ids, shots):
        self.d, self.url, self.ids, self.shots = driver, url, ids, shots

    def open(self, fragment: str) -> None:
        self.d.get(f"{self.url}/#{fragment}")

    def wait(self, condition, message: str = ""):
        """Wait until ``condition`` holds; an element the page redrew between finding it
        and reading it (stale) means: look again, as for one not there yet."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.d, WAIT, ignored_exceptions=(
            StaleElementReferenceException,)).until(condition, message)

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, selector)

    def one(self, selector: str):
        return self.wait(lambda d: (self.css(selector) or [None])[0], f"no {selector}")

    def text_of(self, selector: str) -> str:
        return self.one(selector).text

    def press(self, selector: str, text: str) -> None:
        """Click the first element of ``selector`` whose text is ``text`` (once it is
        there; found and clicked in one step, as the page redraws lists)."""
        self.wait(lambda d: d.execute_script(
            "const el = [...document.querySelectorAll(arguments[0])]"
            ".find(e => e.textContent.trim() === arguments[1]);"
            "if (el) el.click(); return !!el;", selector, text), f"no {selector} {text!r}")

    def shot(self, name: str) -> None:
        self.d.save_screenshot(str(self.shots / f"{name}.png"))

    def query(self) -> dict[str, list[str]]:
        frag = urllib.parse.urlsplit(self.d.current_url).fragment
        return urllib.parse.parse_qs(frag.partition("?")[2])

    def body_rows(self) -> list[str]:
        """The run names in the runs table's DOM, in order on screen."""
        rows = self.d.execute_script(
            "return [...document.querySelectorAll('.vt-body .vt-row')].map(r => "
            "[parseInt(r.getAttribute('aria-rowindex')), r.children[1].textContent])")
        return [name for _, name in sorted(rows)]


def test_experiments_list_shows_run_counts_and_searches(ui):
    ui.open("/")
    ui.wait(lambda d: "ui-demo" in ui.text_of("#experiments"))
    row = next(r for r in ui.css("#experiments tbody tr") if "ui-demo" in r.text)
    assert row.find_elements("css selector", "td")[2].text == "32"
    ui.shot("experiments")
    box = ui.one("#exp-search")
    box.send_keys("OTHER")
    ui.wait(lambda d: "ui-demo" not in ui.text_of("#experiments"))
    assert "other experiment" in ui.text_of("#experiments")
    assert ui.query()["q"] == ["OTHER"]


def test_the_runs_of_several_experiments_in_one_table(ui):
    ui.open("/")
    ui.wait(lambda d: "other experiment" in ui.text_of("#experiments"))
    for name in ("ui-demo", "other experiment"):
        ui.one(f"#experiments input[aria-label='Select experiment {name}']").click()
    ui.one("#open-selected").click()
    ui.wait(lambda d: "33 runs" in ui.text_of("#runs-status"))
    assert ui.text_of("main h1") == "ui-demo + other experiment"
    shown = ui.d.execute_script(
        "return [...document.querySelectorAll('.vt-body .vt-row')]"
        ".map(r => r.children[2].textContent)")
    assert set(shown) == {"ui-demo", "other experiment"}


def test_filter_runs_and_see_a_filter_error_with_its_caret(ui):
    ui.open(f"/experiments/{ui.ids['experiment']}")
    ui.wait(lambda d: "32 runs" in ui.text_of("#runs-status"))
    box = ui.one("#run-filter")
    box.send_keys("params.model = 'tree' and metrics.accuracy > 0.6\n")
    ui.wait(lambda d: "10 runs match" in ui.text_of("#runs-status"))
    names = ui.body_rows()
    assert len(names) == 10 and all(int(n[-2:]) % 2 and int(n[-2:]) > 10 for n in names)
    assert ui.query()["filter"] == ["params.model = 'tree' and metrics.accuracy > 0.6"]
    ui.shot("runs-filtered")
    box.clear()
    box.send_keys("metrics.loss < 'a\n")
    error = ui.wait(lambda d: ui.css("#filter-message pre.error"))[0]
    lines = error.text.splitlines()
    assert "unterminated string" in lines[0]
    assert lines[1].strip() == "metrics.loss < 'a"
    # the caret sits under the quote that opened the string
    assert lines[2].index("^") == lines[1].index("'")
    assert ui.body_rows() == []
    ui.shot("runs-filter-error")


def test_sort_by_a_metric_column_both_ways(ui):
    ui.open(f"/experiments/{ui.ids['experiment']}?filter=attributes.status%20%3D%20'FINISHED'")
    ui.wait(lambda d: "30 runs" in ui.text_of("#runs-status"))
    ui.one(".vt-head [title='metrics.loss'] button").click()
    ui.wait(lambda d: ui.body_rows()[:1] == ["run-29"])  # the lowest final loss
    assert ui.query()["order"] == ["metrics.loss ASC"]
    head = ui.one(".vt-head [title='metrics.loss']")
    assert head.get_attribute("aria-sort") == "ascending"
    assert head.text == "METRIC loss ▲"
    ui.one(".vt-head [title='metrics.loss'] button").click()
    ui.wait(lambda d: ui.body_rows()[:1] == ["run-00"])
    assert ui.query()["order"] == ["metrics.loss DESC"]
    ui.shot("runs-sorted")


def test_only_the_rows_in_view_are_in_the_dom(ui):
    ui.open(f"/experiments/{ui.ids['experiment']}")
    ui.wait(lambda d: "32 runs" in ui.text_of("#runs-status"))
    shown = len(ui.css(".vt-body .vt-row"))
    assert 0 < shown < 32
    ui.d.execute_script("document.querySelector('.vt').scrollTop = 1e6")
    ui.wait(lambda d: "run-00" in ui.body_rows())
    assert len(ui.css(".vt-body .vt-row")) < 32


def test_the_column_chooser_searches_keys_and_sets_the_columns(ui):
    ui.open(f"/experiments/{ui.ids['experiment']}")
    ui.wait(lambda d: "32 runs" in ui.text_of("#runs-status"))
    ui.one("#columns-button").click()
    ui.one("#col-search").send_keys("TEAM")
    ui.wait(lambda d: d.execute_script(
        "return [...document.querySelectorAll('.chooser-list label')]"
        ".map(e => e.textContent)") == ["team (30)"])
    ui.one("input[id='col-tags.team']").click()
    ui.wait(lambda d: ui.css(".vt-head [title='tags.team']"))
    assert "tags.team" in ui.query()["col"]
    ui.wait(lambda d: "a" in ui.d.execute_script(
        "return [...document.querySelectorAll('.vt-body .vt-row')]"
        ".map(r => r.lastChild.textContent)"))
    ui.shot("runs-columns")


def test_the_column_chooser_copes_with_ten_thousand_keys(ui):
    ui.open(f"/experiments/{ui.ids['wide']}")
    ui.wait(lambda d: "1 runs" in ui.text_of("#runs-status"))
    ui.one("#columns-button").click()
    count = ui.wait(lambda d: (ui.css(".chooser p.muted") or [None])[0])
    found = re.match(r"([\d,]+) of \1 keys match; showing 150", count.text)
    assert found and int(found[1].replace(",", "")) >= WIDE_KEYS, count.text
    # only a page of the matches is in the DOM, not ten thousand checkboxes
    assert len(ui.css(".chooser-list input")) <= 200
    ui.one("#col-search").send_keys("k09999")
    ui.wait(lambda d: d.execute_script(
        "return [...document.querySelectorAll('.chooser-list label')]"
        ".map(e => e.textContent)") == ["k09999 (1)"])
    ui.one("input[id='col-metrics.k09999']").click()
    ui.wait(lambda d: d.execute_script(
        "return [...document.querySelectorAll('.vt-body .vt-row')]"
        ".map(r => r.lastChild.textContent)") == ["9999"])
    ui.shot("runs-chooser-10k")


def test_a_run_page_draws_its_chart_and_previews_artifacts(ui):
    ui.open(f"/runs/{ui.ids['run-00']}")
    assert ui.text_of("#run-name") == "run-00"
    assert "child-run" in ui.text_of("main")
    ui.one("#params-table")
    assert "depth" in ui.text_of("#params-table")
    ui.press("#metrics-table button", "train_loss")
    # the server sent the 5,000-step history cut to <= 2,000 points, spike included
    points = ui.wait(lambda d: d.execute_script(
        "const f = document.querySelector('#run-chart figure[data-series=\"1\"]');"
        "return f && f.querySelector('figcaption').textContent === 'train_loss'"
        " && +f.dataset.points"))
    assert 1000 < points <= 2000 < LONG_STEPS
    assert "downsampled" in ui.text_of("#run-chart")
    assert _painted(ui, "#run-chart canvas") > 500
    ui.one("#key-search").send_keys("DEP")
    ui.wait(lambda d: "Params (1 of 3)" in ui.text_of("#run-keys"))
    assert ui.text_of("#params-table").splitlines()[1:] == ["depth 0"]
    assert ui.query()["q"] == ["DEP"]
    ui.press("#artifacts button", "config.json")
    ui.wait(lambda d: '"nested": {' in ui.text_of("#artifact-preview"))
    ui.press("#artifacts button", "📁 notes")
    ui.press("#artifacts button", "readme.txt")
    ui.wait(lambda d: "hello <b>artifact</b>" in ui.text_of("#artifact-preview"))
    assert not ui.css("#artifact-preview b")  # text, not markup
    ui.press("#artifacts button", ".. (up)")
    ui.press("#artifacts button", "📁 images")
    ui.press("#artifacts button", "plot.png")
    ui.wait(lambda d: d.execute_script(
        "const i = document.querySelector('#artifact-preview img'); return i && i.naturalWidth"))
    ui.d.execute_script("document.querySelector('#run-chart').scrollIntoView()")
    ui.shot("run")


def test_compare_two_runs_from_the_runs_table(ui):
    ui.open(f"/experiments/{ui.ids['experiment']}?order=attributes.run_name%20ASC")
    ui.wait(lambda d: ui.body_rows()[:2] == ["<script>window.__xss=1</script><img src=x "
                                             "onerror=window.__xss=2>", "child-run"]
            or ui.body_rows()[:2] == ["child-run", "run-00"])
    for name in ("run-00", "run-01"):
        row = next(r for r in ui.css(".vt-body .vt-row") if r.text.startswith(name)
                   or f"\n{name}\n" in f"\n{r.text}\n")
        row.find_element("css selector", "input[type=checkbox]").click()
    button = ui.one("#compare")
    assert button.text == "Compare selected (2)"
    button.click()
    ui.wait(lambda d: "Compare 2 runs" in ui.text_of("main h1"))
    assert sorted(ui.query()["run"]) == sorted([ui.ids["run-00"], ui.ids["run-01"]])
    differing = [r.text for r in ui.css("table.compare tr.differs")]
    assert any(t.startswith("≠ depth") for t in differing)
    assert any(t.startswith("≠ loss") for t in differing)
    from selenium.webdriver.support.ui import Select

    Select(ui.one("#compare-metric")).select_by_visible_text("train_loss")
    ui.wait(lambda d: ui.css("#compare-chart figure[data-series='2']"))
    assert _painted(ui, "#compare-chart canvas") > 500
    ui.one("#only-diff").click()
    assert ui.query()["diff"] == ["1"] and ui.query()["metric"] == ["train_loss"]
    ui.shot("compare")


def test_a_chart_of_many_runs_names_the_run_under_the_cursor(ui):
    """Over a hundred series the chart has no legend (hundreds of rows to lay out): the
    line nearest the cursor is named under the plot instead."""
    from selenium.webdriver.common.action_chains import ActionChains

    ids = ui.ids["many"].split(",")
    assert len(ids) == MANY_RUNS
    ui.open("/compare?" + "&".join(f"run={i}" for i in ids) + "&metric=acc")
    ui.wait(lambda d: ui.css(f"#compare-chart figure[data-series='{MANY_RUNS}'] canvas"))
    assert not ui.css("#compare-chart .u-legend")
    over = ui.one("#compare-chart .u-over")  # the plot area; every run's line is flat
    ui.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", over)
    ActionChains(ui.d).move_to_element(over).move_by_offset(1, 0).perform()
    ui.wait(lambda d: "Run under the cursor: many-" in ui.text_of("#compare-chart figure"))
    ui.shot("compare-many")


def test_text_users_typed_stays_text(ui):
    ui.d.execute_script("window.__xss = undefined")
    ui.open(f"/experiments/{ui.ids['experiment']}?col=params.lr")
    ui.wait(lambda d: "32 runs" in ui.text_of("#runs-status"))
    assert XSS in ui.body_rows()
    ui.open(f"/runs/{ui.ids['xss']}")
    ui.wait(lambda d: ui.text_of("#run-name") == XSS)
    assert XSS in ui.text_of("#params-table")
    tag_values = ui.d.execute_script(  # a running run's tags are editable: in text boxes
        "return [...document.querySelectorAll('#tags-table input')].map(i => i.value)")
    assert XSS in tag_values
    ui.open("/models/ui-model")
    ui.wait(lambda d: "<script>x</script>" in ui.text_of("#description"))
    assert ui.d.execute_script("return window.__xss") is None
    assert not ui.css("main script") and not ui.css("main img[src='x']")
    ui.shot("model")


def test_registry_and_sql_pages(ui, tmp_path):
    ui.open("/models")
    ui.wait(lambda d: "ui-model" in ui.text_of("#models"))
    ui.one("#models a[href*='/versions/1']").click()
    ui.wait(lambda d: "ui-model version 1" in ui.text_of("main h1"))
    assert ui.ids["run-00"] in ui.text_of("main dl")
    ui.shot("model-version")
    ui.open("/sql")
    box = ui.one("#sql-box")
    box.clear()
    box.send_keys("SELECT key, count(*) AS n FROM params GROUP BY key ORDER BY key")
    ui.one("#sql-run").click()
    ui.wait(lambda d: "depth" in ui.text_of("#sql-result"))
    assert "lr\t31" in ui.text_of("#sql-result").replace(" ", "\t")
    # the download is a POST with the UI's header (the API refuses a plain link), saved
    ui.d.execute_cdp_cmd("Browser.setDownloadBehavior",
                         {"behavior": "allow", "downloadPath": str(tmp_path)})
    ui.one("#sql-csv").click()
    saved = tmp_path / "lakeml-query.csv"
    ui.wait(lambda d: saved.exists() and saved.read_text().startswith('"key","n"'))
    assert '"lr",31' in saved.read_text().splitlines()
    box.clear()
    box.send_keys("DROP VIEW runs")
    ui.one("#sql-run").click()
    ui.wait(lambda d: ui.css("#sql-result pre.error"))
    ui.shot("sql")


def test_pages_fit_a_phone_width(ui):
    ui.d.set_window_size(390, 844)
    try:
        for fragment, ready in ((f"/experiments/{ui.ids['experiment']}", "#runs-status"),
                                (f"/runs/{ui.ids['run-00']}", "#run-chart figure")):
            ui.open(fragment)
            ui.one(ready)
            overflow = ui.d.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{fragment} is {overflow}px wider than the phone"
            ui.shot("phone-" + fragment.split("/")[1])
    finally:
        ui.d.set_window_size(1280, 900)


def _painted(ui, selector: str) -> int:
    """How many pixels of the canvas are not transparent."""
    return ui.d.execute_script(
        "const c = document.querySelector(arguments[0]);"
        "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < px.length; i += 4) if (px[i]) n++; return n;", selector)


UNLABELLED = """
return [...document.querySelectorAll('main input, main select, main textarea')]
  .filter(e => e.type !== 'hidden' && !e.getAttribute('aria-label')
          && !(e.id && document.querySelector(`label[for="${CSS.escape(e.id)}"]`)))
  .map(e => e.outerHTML.slice(0, 120));
"""


def test_every_control_is_labelled_and_works_from_the_keyboard(ui):
    from selenium.webdriver.common.keys import Keys

    pages = ((f"/experiments/{ui.ids['experiment']}", "#runs-status"),
             (f"/runs/{ui.ids['run-00']}", "#run-chart figure"),
             (f"/compare?run={ui.ids['run-00']}&run={ui.ids['run-01']}", "#compare-chart figure"),
             ("/", "#experiments table"), ("/models", "#models table"), ("/sql", "#sql-box"))
    for fragment, ready in pages:
        ui.open(fragment)
        ui.one(ready)
        assert ui.d.execute_script(UNLABELLED) == [], fragment
    ui.open(f"/experiments/{ui.ids['experiment']}?filter=attributes.status%20%3D%20'FINISHED'")
    ui.wait(lambda d: "30 runs" in ui.text_of("#runs-status"))
    button = next(b for b in ui.css(".vt-head button.sort") if b.text.startswith("Run"))
    button.send_keys(Keys.ENTER)
    ui.wait(lambda d: ui.body_rows()[:1] == ["run-00"])
    assert ui.query()["order"] == ["attributes.run_name ASC"]
    ui.one("#columns-button").send_keys(Keys.ENTER)
    ui.one("#col-search").send_keys("team")
    ui.wait(lambda d: d.execute_script(  # the list redrawn for the search
        "return [...document.querySelectorAll('.chooser-list label')]"
        ".map(e => e.textContent)") == ["team (30)"])
    ui.one("input[id='col-tags.team']").send_keys(Keys.SPACE)
    ui.wait(lambda d: "tags.team" in ui.query().get("col", []))


def test_group_the_filtered_runs_by_a_param(ui):
    from selenium.webdriver.support.ui import Select

    ui.open(f"/experiments/{ui.ids['experiment']}?filter=attributes.status%20%3D%20'FINISHED'")
    ui.wait(lambda d: "30 runs" in ui.text_of("#runs-status"))
    Select(ui.one("#group-by")).select_by_value("params.model")
    ui.wait(lambda d: ui.css("#groups-table tbody tr"))
    rows = [r.text for r in ui.css("#groups-table tbody tr")]
    assert rows[0].startswith("linear 15 0.64 (0.5 – 0.78)"), rows
    assert rows[1].startswith("tree 15 0.65 (0.51 – 0.79)"), rows
    assert ui.query()["group"] == ["params.model"]
    ui.shot("runs-grouped")
