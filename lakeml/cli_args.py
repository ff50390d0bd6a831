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
