"""Markdown descriptions as safe HTML, rendered on the server with markdown-it-py.

Raw HTML in the text is not passed through (``html`` off: ``<script>`` comes out as the
text ``&lt;script&gt;``), and markdown-it's link check drops ``javascript:``, ``vbscript:``,
``file:`` and non-image ``data:`` URLs, so the HTML holds only the tags CommonMark makes.
Why on the server: markdown-it-py is maintained (the Python port of markdown-it, the
parser behind many editors) and already installed with the server's dependencies, so no
JavaScript library has to be vendored and checked; the page's Content-Security-Policy
(no inline script) stays a second fence.

Images: only ``data:image/...`` ones are kept. Any other source is shown as its alt text,
because an ``<img src>`` makes every viewer's browser send a signed-in GET to a URL the
description's author chose (the server's own API included).

Cost: markdown-it-py takes about 0.1 ms per character on bracket-heavy text (``"!["``
repeated), so text longer than :data:`MAX_RENDERED` is shown as plain text instead, and
the API handlers return a :class:`Markdown` that the route renders after the server's
lock is released (lakeml/ui/routes.py), so one slow description holds up no other request.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

#: The longest description (characters) rendered as markdown; longer ones are plain text.
MAX_RENDERED = 16 * 1024  # MLflow keeps descriptions to 5,000 characters
#: How deep markdown-it nests blocks and inlines (quotes in quotes, emphasis in links...).
MAX_NESTING = 20


class Markdown:
    """A description to render once the handler's lock is released (see routes.py)."""

    __slots__ = ("text",)

    def __init__(self, text: str | None) -> None:
        self.text = text

    def html(self) -> str:
        """The description as HTML (:func:`render`)."""
        return render(self.text)


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    # CommonMark with tables and strikethrough, as model cards use; no raw HTML, no
    # typographic replacements
    md = MarkdownIt("commonmark", {"html": False, "maxNesting": MAX_NESTING}).enable(
        ["table", "strikethrough"])
    md.add_render_rule("image", _image)
    return md


def _image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """An image with a ``data:image/`` source as ``<img>``; any other as its alt text."""
    token = tokens[idx]
    if str(token.attrGet("src") or "").lower().startswith("data:image/"):
        return self.image(tokens, idx, options, env)
    return html.escape(self.renderInlineAsText(token.children or [], options, env))


def render(text: str | None) -> str:
    """``text`` (markdown) as HTML that holds no markup of the author's own; text longer
    than :data:`MAX_RENDERED` as plain text in a ``<pre>``, after a note saying why.

    Example:
        >>> render("**ok** <script>x</script>")
        '<p><strong>ok</strong> &lt;script&gt;x&lt;/script&gt;</p>\\n'
    """
    text = text or ""
    if len(text) > MAX_RENDERED:
        return (f'<p class="muted">This description is longer than {MAX_RENDERED // 1024} KiB,'
                f' so it is shown as plain text, not as markdown.</p>\n'
                f'<pre class="plain-description">{html.escape(text)}</pre>\n')
    return _rendered(text)


@lru_cache(maxsize=64)
def _rendered(text: str) -> str:
    # cached: a page polled by many viewers renders each description once
    return _parser().render(text)


def rendered_in(body: Any) -> Any:
    """``body`` (a handler's JSON answer) with each :class:`Markdown` value at its top
    level rendered to HTML."""
    if isinstance(body, dict) and any(isinstance(v, Markdown) for v in body.values()):
        return {k: v.html() if isinstance(v, Markdown) else v for k, v in body.items()}
    return body
