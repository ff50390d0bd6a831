"""Markdown descriptions become HTML holding only CommonMark's own tags (lakeml/ui/markdown.py)."""

from __future__ import annotations

from lakeml.ui.markdown import render


def test_markup_renders_and_raw_html_stays_text() -> None:
    html = render("# Card\n\n**bold** `code` <script>alert(1)</script>\n\n"
                  "<img src=x onerror=alert(2)>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<h1>Card</h1>" in html and "<strong>bold</strong>" in html
    assert "<code>code</code>" in html and "<td>1</td>" in html  # tables are on
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(2)&gt;" in html


def test_unsafe_link_schemes_are_not_links() -> None:
    for url in ("javascript:alert(1)", "JAVASCRIPT:alert(1)", "vbscript:x", "data:text/html,x",
                "file:///etc/passwd"):
        html = render(f"[click]({url})")
        assert "<a" not in html, url
    assert render("[ok](https://example.org/a?b=1)") == \
        '<p><a href="https://example.org/a?b=1">ok</a></p>\n'
    assert render(None) == "" and render("") == ""
