"""Input checks for logging calls, with MLflow's limits and clear messages.

Every check names the bad value and says what would be valid. Checks that sit
on the hot path (metric keys) remember keys already accepted.
"""

from __future__ import annotations

import math
import numbers
import re

from lakeml.errors import InvalidArgument

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_NAME_LENGTH = 500

_KEY_RE = re.compile(r"^[\w\-. /]+$")
_valid_keys: set[str] = set()


def check_key(key: object, what: str = "key") -> str:
    """A metric, param or tag key: letters, digits, ``_ - . /`` and spaces, <= 250 chars."""
    if type(key) is str and key in _valid_keys:  # (an unhashable key is no TypeError)
        return key
    if not isinstance(key, str):
        raise InvalidArgument(f"{what} must be a string, got {type(key).__name__} {key!r}")
    if not key:
        raise InvalidArgument(f"{what} must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(f"{what} {key[:40]!r}... is {len(key)} characters long; "
                              f"the limit is {MAX_KEY_LENGTH}")
    if not _KEY_RE.match(key):
        raise InvalidArgument(f"invalid {what} {key!r}: use only letters, digits, "
                              "underscores, dashes, periods, spaces and slashes")
    parts = key.split("/")
    if key.startswith("/") or ".." in parts or "." in parts:
        raise InvalidArgument(f"invalid {what} {key!r}: it must be a relative path without "
                              "'.' or '..' parts")
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def metric_value(key: str, value: object) -> float:
    """A metric value as float: any real number, NaN and ±inf included; not a string."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, str):
        return float(value)
    # numpy scalars and 0-d arrays are Real-like but may not register as such
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        item = value.item()  # type: ignore[union-attr]
        if isinstance(item, (int, float)):
            return float(item)
    raise InvalidArgument(f"metric {key!r} got value {value!r} of type "
                          f"{type(value).__name__}; a metric value must be a number")


def step_value(key: str, step: object) -> int:
    """A metric step: an integer (bools and floats with a fraction are refused)."""
    if type(step) is int:
        return step
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if isinstance(step, float) and step.is_integer():
            return int(step)
        if hasattr(step, "item") and isinstance(step.item(), int):
            return int(step.item())  # type: ignore[union-attr]
        raise InvalidArgument(f"metric {key!r} got step {step!r}; the step must be an integer")
    return int(step)


def timestamp_ms(timestamp: object, what: str = "timestamp") -> int:
    """A timestamp in integer milliseconds since the epoch."""
    if type(timestamp) is int:
        return timestamp
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real) or (
            isinstance(timestamp, float) and not math.isfinite(timestamp)):
        raise InvalidArgument(f"{what} {timestamp!r} must be milliseconds since the epoch "
                              "(an integer)")
    return int(timestamp)


def param_value(key: str, value: object) -> str:
    """A param value as a string (``str()`` of anything), at most 6,000 characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidArgument(f"param {key!r} has a value of {len(text)} characters; "
                              f"the limit is {MAX_PARAM_VALUE_LENGTH}")
    return text


def tag_value(key: str, value: object) -> str:
    """A tag value as a string, at most 8,000 characters."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidArgument(f"tag {key!r} has a value of {len(text)} characters; "
                              f"the limit is {MAX_TAG_VALUE_LENGTH}")
    return text


def check_name(name: object, what: str) -> str:
    """An experiment, run or model name: a non-empty string of at most 500 characters."""
    if not isinstance(name, str):
        raise InvalidArgument(f"{what} must be a string, got {type(name).__name__} {name!r}")
    if not name.strip():
        raise InvalidArgument(f"{what} must not be empty or blank, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"{what} {name[:40]!r}... is {len(name)} characters; "
                              f"the limit is {MAX_NAME_LENGTH}")
    return name


def check_id(value: object, what: str) -> str:
    """An id: a non-empty string without whitespace."""
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        raise InvalidArgument(f"{what} must be a non-empty string without spaces, got {value!r}")
    return value
