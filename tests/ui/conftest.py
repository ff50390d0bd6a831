"""One real ``lakeml server`` over a seeded store and one headless Chromium, for the
whole UI test session.

The browser is Debian's chromium driven by its chromedriver through selenium: nothing is
downloaded at run time. Without them the browser tests skip, except under CI=true, where
they fail. Screenshots of each page go to $LAKEML_UI_SCREENSHOTS (default: a folder in
pytest's temporary directory, printed at the end of the session).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.server.conftest import start_server
from tests.ui.seed import seed

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS: list[Path] = []


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory):
    """The server, and the ids of what tests/ui/seed.py put in its store."""
    base = tmp_path_factory.mktemp("ui")
    ids = seed(str(base / "lake"), base)
    with start_server(base) as server:
        yield server, ids


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium at 1280x900."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = f"the UI tests need {', '.join(missing)} (apt-get install chromium " \
                  f"chromium-driver; pip install selenium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the session's screenshots."""
    folder = Path(os.environ.get("LAKEML_UI_SCREENSHOTS") or
                  tmp_path_factory.mktemp("ui-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    SHOTS.append(folder)
    return folder


def pytest_terminal_summary(terminalreporter) -> None:
    for folder in SHOTS:
        terminalreporter.write_line(f"UI screenshots: {folder}")


@pytest.fixture(scope="session")
def team_server(tmp_path_factory: pytest.TempPathFactory):
    """A server with users (tests/ui/team.py) and the registry's review policy."""
    from tests.ui.team import seed_team

    base = tmp_path_factory.mktemp("ui-team")
    auth, policy, ids = seed_team(base)
    os.environ["LAKEML_PERMISSIONS"] = str(policy)
    try:
        running = start_server(base, "--auth-file", str(auth))
        server = running.__enter__()
    finally:
        del os.environ["LAKEML_PERMISSIONS"]  # the server process has its copy
    try:
        yield server, ids
    finally:
        running.__exit__(None, None, None)
