"""Markdown descriptions as safe HTML, rendered on the server with markdown-it-py.

Raw HTML in the text is not passed through (``html`` off: ``<script>`` comes out as the
text ``&lt;script&gt;``), and markdown-it's link check drops ``javascript:``, ``vbscript:``,
``file:`` and non-image ``data:`` URLs, so the HTML holds only the tags CommonMark makes.
Why on the server: markdown-it-py is maintained (the Python port of markdown-it, the
parser behind many editors) and already installed with the server's dependencies, so no
JavaScript library has to be vendored and checked; the page's Content-Security-Policy
(no inline script) stays a second fence.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    # CommonMark with tables and strikethrough, as model cards use; no raw HTML, no
    # typographic replacements
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def render(text: str | None) -> str:
    """``text`` (markdown) as HTML that holds no markup of the author's own.

    Example:
        >>> render("**ok** <script>x</script>")
        '<p><strong>ok</strong> &lt;script&gt;x&lt;/script&gt;</p>\\n'
    """
    return _parser().render(text or "")
