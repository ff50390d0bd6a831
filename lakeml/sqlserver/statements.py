"""SQL text as the server meets it: split into statements, and read for the commands
the server answers itself (transactions, SET/SHOW, cursors) before DuckDB sees them.

PostgreSQL's simple query protocol takes several statements in one string; DuckDB's
parser does not know DECLARE/FETCH/CLOSE, so the split is ours: it respects
'strings' (with '' and E'\\'' escapes), "identifiers", $tag$dollar quotes$tag$,
-- line and /* nested */ block comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def split_statements(text: str) -> list[str]:
    """The statements of ``text`` (without their ``;``), empty ones dropped.

    Example:
        >>> split_statements("select ';'; select 2;")
        ["select ';'", ' select 2']
    """
    out, start, i, n = [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "'" or c == '"':
            escapes = c == "'" and i > 0 and text[i - 1] in "eE"
            i += 1
            while i < n:
                if escapes and text[i] == "\\":
                    i += 2
                    continue
                if text[i] == c:
                    if i + 1 < n and text[i + 1] == c:
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif c == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif c == "/" and text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "$":
            match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:i + 64])
            if match and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
                tag = match.group(0)
                end = text.find(tag, i + len(tag))
                i = n if end < 0 else end + len(tag)
            else:
                i += 1
        elif c == ";":
            out.append(text[start:i])
            start = i = i + 1
        else:
            i += 1
    out.append(text[start:])
    return [s for s in out if strip_comments(s).strip()]


def strip_comments(text: str) -> str:
    """``text`` without leading whitespace and comments."""
    while True:
        text = text.lstrip()
        if text.startswith("--"):
            end = text.find("\n")
            text = "" if end < 0 else text[end + 1:]
        elif text.startswith("/*"):
            end = text.find("*/")
            text = "" if end < 0 else text[end + 2:]
        else:
            return text


def first_words(text: str, count: int = 2) -> list[str]:
    """The first ``count`` words of a statement, upper-cased (comments skipped)."""
    return [w.upper() for w in re.findall(r"[A-Za-z_]+", strip_comments(text)[:200])[:count]]


_NAME = r'("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
DECLARE = re.compile(
    rf"^\s*DECLARE\s+{_NAME}\s+((?:BINARY|INSENSITIVE|ASENSITIVE|NO\s+SCROLL|SCROLL)\s+)*"
    r"CURSOR\s+(?:(WITH|WITHOUT)\s+HOLD\s+)?FOR\s+(.*)$", re.IGNORECASE | re.DOTALL)
FETCH = re.compile(
    rf"^\s*(FETCH|MOVE)\s+(?:(NEXT|FORWARD\s+ALL|ALL|FORWARD\s+\d+|FORWARD|\d+)\s+)?"
    rf"(?:FROM\s+|IN\s+)?{_NAME}\s*$", re.IGNORECASE | re.DOTALL)
CLOSE = re.compile(rf"^\s*CLOSE\s+(ALL|{_NAME})\s*$", re.IGNORECASE)
SET = re.compile(r"^\s*SET\s+(?:(SESSION|LOCAL)\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=|\bTO\b)"
                 r"\s*(.*?)\s*$", re.IGNORECASE | re.DOTALL)
SET_TIME_ZONE = re.compile(r"^\s*SET\s+(?:(?:SESSION|LOCAL)\s+)?TIME\s+ZONE\s+(.*?)\s*$",
                           re.IGNORECASE | re.DOTALL)
SHOW = re.compile(r"^\s*SHOW\s+([A-Za-z_][A-Za-z0-9_.]*|ALL)\s*$", re.IGNORECASE)
RESET = re.compile(r"^\s*RESET\s+([A-Za-z_][A-Za-z0-9_.]*|ALL)\s*$", re.IGNORECASE)
DEALLOCATE = re.compile(rf"^\s*DEALLOCATE\s+(?:PREPARE\s+)?(ALL|{_NAME})\s*$", re.IGNORECASE)


def identifier(name: str) -> str:
    """A name as PostgreSQL folds it: quoted kept as is, unquoted lower-cased."""
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


def fetch_count(direction: str | None) -> int | None:
    """Rows a FETCH asks for (None: all)."""
    if not direction:
        return 1
    words = direction.upper().split()
    if "ALL" in words:
        return None
    digits = [w for w in words if w.isdigit()]
    return int(digits[0]) if digits else 1


@dataclass(frozen=True)
class Setting:
    """A parsed SET: the parameter (lower-cased) and its value as text."""

    name: str
    value: str


def parse_set(text: str) -> Setting | None:
    """The setting a ``SET`` statement changes (None if it is not one this reads)."""
    zone = SET_TIME_ZONE.match(text)
    if zone:
        return Setting("timezone", _unquote(zone.group(1)))
    match = SET.match(text)
    if not match:
        return None
    return Setting(match.group(2).lower(), _unquote(match.group(3)))


def _unquote(value: str) -> str:
    value = value.strip()
    if value.upper() == "DEFAULT":
        return ""
    parts = [p.strip() for p in value.split(",")]
    return ", ".join(p[1:-1].replace("''", "'") if p.startswith("'") and p.endswith("'")
                     else p for p in parts)
