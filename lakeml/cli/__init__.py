"""The ``lakeml`` command line: :func:`main` runs it, :func:`build_parser` builds its parser."""

from __future__ import annotations

from lakeml.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
