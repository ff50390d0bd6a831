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


def test_images_are_kept_only_from_data_urls() -> None:
    # an <img src> would make each viewer's browser send a signed-in GET of the author's URL
    for url in ("/ajax-api/lakeml/sql?q=SELECT%201", "https://example.org/x.png",
                "//example.org/x.png", "x.png"):
        html = render(f"see ![the *chart*]({url}) here")
        assert "<img" not in html and "example.org" not in html, url
        assert html == "<p>see the chart here</p>\n", url
    kept = render("![dot](data:image/png;base64,iVBORw0KGgo=)")
    assert kept == '<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="dot" /></p>\n'
    # markdown-it's link check already refuses data: URLs of other types (SVG holds script)
    assert "<img" not in render("![svg](data:image/svg+xml;base64,PHN2Zz4=)")


def test_text_past_the_limit_is_plain_text_saying_so() -> None:
    from lakeml.ui.markdown import MAX_RENDERED

    at_limit = "*a* " * (MAX_RENDERED // 4)
    assert "<em>a</em>" in render(at_limit)
    past = at_limit + "<b>"
    html = render(past)
    assert html.startswith('<p class="muted">This description is longer than '
                           f'{MAX_RENDERED // 1024} KiB')
    assert "<em>" not in html and "*a* *a*" in html and "&lt;b&gt;" in html
