"""The UI's files: the vendored chart library matches its checksums, every module the
pages import is there, and no page pulls anything from another origin."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from lakeml.ui.routes import STATIC, index_html

VENDOR = STATIC / "vendor" / "uplot"


def test_the_vendored_uplot_matches_its_checksums():
    lines = (VENDOR / "SHA256SUMS").read_text().splitlines()
    assert {line.split()[1] for line in lines} == {"LICENSE", "VERSION", "uPlot.esm.js",
                                                   "uPlot.min.css"}
    for line in lines:
        digest, name = line.split()
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "MIT" in (VENDOR / "LICENSE").read_text()
    version = (VENDOR / "VERSION").read_text().strip()
    assert f"VERSION={version}" in (STATIC.parent / "vendor.sh").read_text()


def test_every_imported_module_exists_and_nothing_is_remote():
    sources = list(STATIC.rglob("*.js")) + list(STATIC.rglob("*.html")) + \
        list(STATIC.rglob("*.css"))
    own = [p for p in sources if "vendor" not in p.parts]
    assert len(own) > 10
    for path in own:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path
        for target in re.findall(r"from '(\.[^']+)'", text):
            assert (path.parent / target).resolve().is_file(), f"{path}: {target}"


def test_the_page_references_only_shipped_files():
    html = (STATIC / "index.html").read_text()
    for ref in re.findall(r"(?:src|href)=\"/static/([^\"]+)\"", html):
        assert Path(STATIC, ref).is_file(), ref


def test_the_served_page_preloads_every_module_it_may_import():
    html = index_html()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/static/([^"]+)">', html))
    modules = {p.relative_to(STATIC).as_posix() for p in STATIC.glob("js/**/*.js")}
    assert "js/pages/compare.js" in modules and "js/chart.js" in modules
    assert preloaded == modules | {"vendor/uplot/uPlot.esm.js"}
    assert "<!-- modulepreload -->" not in html
    for ref in preloaded:
        assert Path(STATIC, ref).is_file(), ref
