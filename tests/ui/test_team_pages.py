"""The registry's review in a real headless Chromium, as two users of a server with an
auth file: alice requests a stage transition, bob approves it, the audit history shows
both; a refusal reads as a permission error; a description's ``<script>`` stays text.

The browser signs in as each user by sending their HTTP Basic header with every request
(Chrome DevTools' Network.setExtraHTTPHeaders), as the browser does after its sign-in
prompt.
"""

from __future__ import annotations

import pytest

from tests.ui.team import MODEL, basic
from tests.ui.test_pages import Page


@pytest.fixture
def team_ui(team_server, browser, shots):
    browser.execute_cdp_cmd("Network.enable", {})
    page = TeamPage(browser, team_server[0].url, team_server[1], shots)
    try:
        yield page
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})
        browser.get("about:blank")


class TeamPage(Page):
    def as_user(self, user: str) -> None:
        self.d.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                               {"headers": {"Authorization": basic(user)}})

    def reload(self) -> None:
        self.d.get("about:blank")


def test_request_then_approve_as_two_users_and_see_the_audit(team_ui) -> None:
    ui = team_ui
    page = f"/models/{MODEL}/versions/2"
    ui.as_user("alice")
    ui.open(page)
    ui.wait(lambda d: "Signed in as alice" in ui.text_of("#signed-in"))
    from selenium.webdriver.support.select import Select

    Select(ui.one("#request-stage")).select_by_visible_text("Production")
    ui.one("#request-comment").send_keys("ship it")
    ui.one("#request-transition").click()
    ui.wait(lambda d: "Production" in ui.text_of("#pending-table"), "no pending request")
    assert "alice" in ui.text_of("#pending-table")
    # alice may not approve: the page says so as a permission error
    ui.one(".review-approve").click()
    ui.wait(lambda d: "permission denied" in ui.text_of("#review-status"))
    assert "approve Production" in ui.text_of("#review-status")
    ui.d.execute_script("document.getElementById('review').scrollIntoView()")
    ui.shot("version-review-requested")

    ui.as_user("bob")
    ui.reload()
    ui.open(page)
    ui.wait(lambda d: "Signed in as bob" in ui.text_of("#signed-in"))
    assert ui.text_of("#whoami") == "bob"
    assert not ui.css(".review-cancel")  # not bob's request
    ui.one("#resolve-comment-0").send_keys("approved by bob")
    ui.one(".review-approve").click()
    ui.wait(lambda d: ui.text_of("#stage") == "Production", "the stage did not change")
    ui.wait(lambda d: "approve_request" in ui.text_of("#audit-table"))
    audit = ui.text_of("#audit-table")
    assert "bob approve_request applied" in audit
    assert "alice request_transition applied" in audit
    assert "alice approve_request denied" in audit
    assert "approved by bob" in audit
    ui.d.execute_script("document.getElementById('review').scrollIntoView()")
    ui.shot("version-review-approved")
    ui.d.execute_script("document.getElementById('audit').scrollIntoView()")
    ui.shot("version-audit")
    ui.d.set_window_size(390, 844)
    try:
        ui.open(page)
        ui.wait(lambda d: "approve_request" in ui.text_of("#audit-table"))
        overflow = ui.d.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the version page is {overflow}px wider than the phone"
        ui.shot("phone-version-review")
    finally:
        ui.d.set_window_size(1280, 900)


def test_a_description_is_markdown_and_its_script_stays_text(team_ui) -> None:
    ui = team_ui
    ui.as_user("alice")
    ui.reload()
    ui.open(f"/models/{MODEL}")
    ui.wait(lambda d: ui.css("#description strong"), "no rendered markdown")
    ui.one("#edit-description").click()
    box = ui.one("#description-text")
    box.clear()
    box.send_keys("## Card\n\n**strong** text <script>window.__xss=7</script>\n\n"
                  "<img src=x onerror=window.__xss=8> [ok](https://example.org)")
    ui.one("#save-description").click()
    ui.wait(lambda d: ui.css("#description h2"), "the description was not saved")
    text = ui.text_of("#description")
    assert "<script>window.__xss=7</script>" in text and "<img src=x" in text
    assert ui.css("#description strong")[0].text == "strong"
    assert not ui.css("#description script") and not ui.css("#description img")
    assert ui.d.execute_script("return window.__xss === undefined")
    assert ui.css("#description a")[0].get_attribute("href") == "https://example.org/"
    ui.shot("model-description")
    # eve may not read the model at all: the page shows the refusal
    ui.as_user("eve")
    ui.reload()
    ui.open(f"/models/{MODEL}")
    ui.wait(lambda d: "permission denied" in ui.text_of("main"))
