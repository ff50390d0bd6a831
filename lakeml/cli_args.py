"""What the command modules (cli.py, cli_registry.py) read from their arguments alike."""

from __future__ import annotations

import argparse
from typing import Sequence


def client(args: argparse.Namespace):  # noqa: ANN201 - lakeml.Client
    """The Client of ``--store``, or of the store in force."""
    from lakeml.tracking.client import Client

    return Client(args.store) if args.store else Client()


def key_values(pairs: Sequence[str] | None, option: str = "-P",
               what: str = "parameters") -> dict[str, str]:
    """``["a=1", "b=x"]`` as ``{"a": "1", "b": "x"}``; a pair without ``=`` or name is refused."""
    from lakeml.errors import InvalidArgument

    out = {}
    for pair in pairs or ():
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"{option} {pair!r}: give {what} as name=value")
        out[key] = value
    return out


def at_least(low: int):  # noqa: ANN201 - an argparse type
    """An argparse ``type``: an integer of at least ``low``, else a usage error naming it."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {low}")
        return value

    return parse


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h`` or ``7d`` as seconds (an argparse ``type``)."""
    body, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    try:
        seconds = float(body) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 30m, 2h "
                                         "or 7d")
    return seconds
