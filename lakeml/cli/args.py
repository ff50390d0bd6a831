"""What the command modules read from their arguments alike, and the command group they
build their parsers with."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence


def store_uri(args: argparse.Namespace) -> str:
    """The normalised URI of ``--store``, or of the store in force."""
    from lakeml.fluent import get_store_uri
    from lakeml.store.store import normalize_uri

    return normalize_uri(getattr(args, "store", None) or get_store_uri())


def client(args: argparse.Namespace, *, read: bool = False):  # noqa: ANN201 - lakeml.Client
    """The Client of ``--store``, or of the store in force.

    A command that only reads (``read=True``) never creates a store: a local
    folder without lakeml's tables is refused with NotFound naming it.
    """
    from lakeml.client import Client

    uri = store_uri(args)
    if read and "://" not in uri and not (Path(uri) / "tables").is_dir():
        from lakeml.errors import NotFound

        raise NotFound(f"no lakeml store at {uri!r}: give --store, set LAKEML_STORE, or "
                       "log a run there first")
    return Client(uri)


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


def group(sub: argparse._SubParsersAction, name: str, text: str) -> argparse._SubParsersAction:
    """A command group whose bare use (``lakeml runs``) prints its help."""
    group = sub.add_parser(name, help=text, description=text)
    group.set_defaults(group_parser=group)
    return group.add_subparsers(dest="action", metavar="ACTION")
