"""Type checks of the public calls' arguments: counts, strings, lists, mappings, tokens.

Every check raises :class:`~lakeml.errors.InvalidArgument` naming the bad
value and what would be valid, so that no TypeError from Python, nor an
error from DuckDB or pyarrow, reaches a caller for a wrongly typed argument.
The logging calls' value checks (keys, metric values, steps) live in
:mod:`lakeml.validation`.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from lakeml.errors import InvalidArgument

#: The most results one page of ``Client.search_runs`` holds (MLflow's limit too).
SEARCH_MAX_RESULTS = 50_000
#: The largest count any call takes: SQL's LIMIT is a 64-bit integer, and a page's
#: LIMIT (count + 1) plus its OFFSET (at most MAX_OFFSET) must stay within it.
MAX_COUNT = 2**61
MAX_OFFSET = 2**62


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:80]}{'...' if len(text) > 80 else ''}"


def count(value: object, what: str = "max_results", *, default: int | None = None,
          limit: int = MAX_COUNT) -> int | None:
    """A result count: ``None`` gives ``default``; else an int in 1..``limit``.

    Bools, floats and strings are refused, as MLflow does.
    """
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{what} must be a positive integer, got {_shown(value)}")
    if value < 1:
        raise InvalidArgument(f"{what} must be a positive integer, got {value!r}")
    if value > limit:
        raise InvalidArgument(f"{what} must be at most {limit:,}, got {value!r}"
                              + ("; page through larger results with page_token"
                                 if limit == SEARCH_MAX_RESULTS else ""))
    return value


def flag(value: object, what: str) -> bool:
    """A yes/no argument: a bool, or the text "true" or "false" in any case (as a query
    string sends it); ``None`` is False. Anything else is refused, so that a typo does not
    quietly mean False."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidArgument(f"{what} must be true or false, got {_shown(value)}")


def optional_string(value: object, what: str) -> str | None:
    """``None`` or a str; anything else is refused."""
    if value is None or isinstance(value, str):
        return value
    raise InvalidArgument(f"{what} must be a string, got {_shown(value)}")


def filter_string(value: object, what: str = "filter_string") -> str:
    """A search filter: a str (``None`` means no filter, the empty string)."""
    return utf8_text(optional_string(value, what) or "", what)


def utf8_text(text: str, what: str) -> str:
    """``text`` if it encodes as UTF-8 (every string column and SQL text is UTF-8)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(
            f"{what} {text!r} is not valid text: it holds {text[exc.start:exc.end]!r} at "
            f"position {exc.start}, which has no UTF-8 form (os.fsdecode gives such "
            "characters for bytes that are not UTF-8; decode them with errors='replace' "
            "or log the bytes' repr)") from None
    return text


def string_list(value: object, what: str, *, ints: bool = False) -> list[str]:
    """A list (or tuple, set…) of strings; a single str counts as a list of one.

    With ``ints``, integers are accepted too and turned into strings (ids).
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (Mapping, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidArgument(f"{what} must be a list of strings, got {_shown(value)}")
    items = []
    for item in value:  # type: ignore[attr-defined]
        if isinstance(item, str):
            items.append(item)
        elif ints and isinstance(item, int) and not isinstance(item, bool):
            items.append(str(item))
        else:
            raise InvalidArgument(f"{what} must be a list of strings, got an item "
                                  f"{_shown(item)} in {value!r:.120}")
    return items


def experiment_id(value: object, what: str = "experiment_id") -> str:
    """An experiment id: a str, or an int (MLflow's ids were numbers once)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidArgument(f"{what} must be a string, got {_shown(value)}")


def page_token(value: object) -> str | None:
    """A page token: ``None`` (the first page) or the str a search returned."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"page_token must be the string a search returned as .token, "
                              f"got {_shown(value)}")
    return value


def mapping(value: object, what: str) -> dict[Any, Any]:
    """A dict copy of a mapping; ``None`` gives an empty dict."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{what} must be a dict, got {_shown(value)}")
    return dict(value)


def collection(value: object, what: str, items: str) -> Any:
    """A dict or an iterable of ``items`` (not a str, bytes or scalar); ``None`` is empty."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidArgument(f"{what} must be a dict or a list of {items}, got {_shown(value)}")
    return value


def path(value: object, what: str) -> str:
    """A local path or URI given as a str or os.PathLike, as a str."""
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        text = os.fspath(value)
        if isinstance(text, str):
            return text
    raise InvalidArgument(f"{what} must be a path or URI string, got {_shown(value)}")
