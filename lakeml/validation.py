"""Input checks for logging calls, with MLflow's limits and clear messages.

Every check names the bad value and says what would be valid. Checks that sit
on the hot path (metric keys) remember keys already accepted.

Every value a log call buffers must fit its table, because the row is only
converted at the next flush: integers within int64 after unit conversion
(ms -> us), timestamps from 1970 to the year 9999 (what every reader can turn
into a date), strings that encode as UTF-8 (``os.fsdecode`` of bytes that are
not UTF-8 gives lone surrogates, which do not).
"""

from __future__ import annotations

import math
import numbers
import re

from lakeml.arguments import utf8_text as check_text  # noqa: F401 - validation's name
from lakeml.errors import InvalidArgument

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 500

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
# Milliseconds since the epoch: 1970-01-01 to 9999-12-31 (a larger value is almost
# always nanoseconds or microseconds given as milliseconds).
MAX_TIMESTAMP_MS = 253_402_300_799_999

_KEY_RE = re.compile(r"[\w\-. /]+")  # used with fullmatch: "$" would pass "loss\n"
CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f]"  # Unicode category Cc
_CONTROL_RE = re.compile(CONTROL_PATTERN)
# Keys check_key accepted (up to 100,000): a hot log call tests membership here, ~10 ns.
valid_keys: set[str] = set()


def check_key(key: object, what: str = "key") -> str:
    """A metric, param or tag key: letters, digits, ``_ - . /`` and spaces, <= 250 chars."""
    if type(key) is str and key in valid_keys:  # (an unhashable key is no TypeError)
        return key
    if not isinstance(key, str):
        raise InvalidArgument(f"{what} must be a string, got {type(key).__name__} {key!r}")
    if not key:
        raise InvalidArgument(f"{what} must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(f"{what} {key[:40]!r}... is {len(key)} characters long; "
                              f"the limit is {MAX_KEY_LENGTH}")
    if not _KEY_RE.fullmatch(key):
        raise InvalidArgument(f"invalid {what} {key!r}: use only letters, digits, "
                              "underscores, dashes, periods, spaces and slashes")
    parts = key.split("/")
    if key.startswith("/") or ".." in parts or "." in parts:
        raise InvalidArgument(f"invalid {what} {key!r}: it must be a relative path without "
                              "'.' or '..' parts")
    if len(valid_keys) < 100_000:
        valid_keys.add(key)
    return key


def metric_value(key: str, value: object) -> float:
    """A metric value as float: any real number, NaN and ±inf included; not a string."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, str):
        try:
            return float(value)
        except OverflowError:
            raise InvalidArgument(f"metric {key!r} got value {value!r}, too large for a "
                                  "64-bit float") from None
    # numpy scalars and 0-d arrays are Real-like but may not register as such
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        item = value.item()  # type: ignore[union-attr]
        if isinstance(item, (int, float)):
            return float(item)
    raise InvalidArgument(f"metric {key!r} got value {value!r} of type "
                          f"{type(value).__name__}; a metric value must be a number")


def step_value(key: str, step: object) -> int:
    """A metric step: an int64 integer (bools and floats with a fraction are refused)."""
    if type(step) is int and INT64_MIN <= step <= INT64_MAX:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if isinstance(step, float) and step.is_integer():
            return _int64_step(key, int(step))
        if hasattr(step, "item") and isinstance(step.item(), int):
            return _int64_step(key, int(step.item()))  # type: ignore[union-attr]
        raise InvalidArgument(f"metric {key!r} got step {step!r}; the step must be an integer")
    return _int64_step(key, int(step))


def _int64_step(key: str, step: int) -> int:
    if not INT64_MIN <= step <= INT64_MAX:
        raise InvalidArgument(f"metric {key!r} got step {step!r}; the step must fit in a "
                              f"64-bit integer ({INT64_MIN} to {INT64_MAX})")
    return step


def timestamp_ms(timestamp: object, what: str = "timestamp") -> int:
    """A timestamp in integer milliseconds since the epoch, from 1970 to the year 9999."""
    if type(timestamp) is int and 0 <= timestamp <= MAX_TIMESTAMP_MS:
        return timestamp
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real) or (
            isinstance(timestamp, float) and not math.isfinite(timestamp)):
        raise InvalidArgument(f"{what} {timestamp!r} must be milliseconds since the epoch "
                              "(an integer)")
    ms = int(timestamp)
    if not 0 <= ms <= MAX_TIMESTAMP_MS:
        hint = (" (it looks like nanoseconds or microseconds: divide by 1,000,000 or 1,000)"
                if ms > MAX_TIMESTAMP_MS else "")
        raise InvalidArgument(f"{what} {timestamp!r} is out of range: give milliseconds since "
                              f"the epoch from 0 (1970) to {MAX_TIMESTAMP_MS} (year 9999)"
                              f"{hint}")
    return ms


def param_value(key: str, value: object) -> str:
    """A param value as a string (``str()`` of anything), at most 6,000 characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidArgument(f"param {key!r} has a value of {len(text)} characters; "
                              f"the limit is {MAX_PARAM_VALUE_LENGTH}")
    return check_text(text, f"param {key!r} value")


def tag_value(key: str, value: object) -> str:
    """A tag value as a string, at most 8,000 characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidArgument(f"tag {key!r} has a value of {len(text)} characters; "
                              f"the limit is {MAX_TAG_VALUE_LENGTH}")
    return check_text(text, f"tag {key!r} value")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (C0, DEL or C1: newline, escape, NUL...)."""
    return _CONTROL_RE.search(text) is not None


def check_name(name: object, what: str, *, lookup: bool = False) -> str:
    """An experiment, run or model name: a non-empty string of at most 500 characters,
    without control characters (a newline or terminal escape would forge table rows).

    ``lookup``: the name is only looked for, so control characters pass (a store
    written before they were refused may hold such names).
    """
    if not isinstance(name, str):
        raise InvalidArgument(f"{what} must be a string, got {type(name).__name__} {name!r}")
    if not name.strip():
        raise InvalidArgument(f"{what} must not be empty or blank, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"{what} {name[:40]!r}... is {len(name)} characters; "
                              f"the limit is {MAX_NAME_LENGTH}")
    if not lookup and has_control_characters(name):
        raise InvalidArgument(f"{what} {name!r} holds control characters (newline, tab, "
                              "escape...); use printable characters only")
    return check_text(name, what)


def check_id(value: object, what: str) -> str:
    """An id: a non-empty string without whitespace."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise InvalidArgument(f"{what} must be a non-empty string without spaces, got {value!r}")
    return check_text(value, what)


def optional_text(value: object, what: str) -> str | None:
    """None, or a string that encodes as UTF-8."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string or None, got {type(value).__name__} "
                              f"{value!r}")
    return check_text(value, what)
