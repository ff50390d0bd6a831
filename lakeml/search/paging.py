"""Pages of search results: a list with the token of the next page, and that token.

A token encodes the offset of the next page and a fingerprint of the search,
so a token is refused by a different search. Run, experiment and registry
searches all page this way.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterable

from lakeml import arguments
from lakeml.errors import InvalidArgument


class PagedList(list):
    """A page of results; ``token`` fetches the next page (None on the last)."""

    def __init__(self, items: Iterable[Any], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def encode_page_token(offset: int, fingerprint: str) -> str:
    """The token of the page at ``offset`` of the search ``fingerprint`` names."""
    raw = json.dumps({"offset": offset, "query": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_page_token(token: str, fingerprint: str) -> int:
    """The offset in ``token``; InvalidArgument unless this search (``fingerprint``) made it."""
    if not isinstance(token, str):
        raise InvalidArgument(f"page_token must be the string a search returned as .token, "
                              f"got {type(token).__name__} {token!r:.80}")
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["offset"])
        if not 0 <= offset <= arguments.MAX_OFFSET:
            raise ValueError(offset)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise InvalidArgument(f"page_token {token!r} is not a token this search returned"
                              ) from None
    if data.get("query") != fingerprint:
        raise InvalidArgument(f"page_token {token!r} belongs to a different search")
    return offset
