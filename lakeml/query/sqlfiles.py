"""Loading the SQL kept in sql/ (view definitions and analytics queries)."""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def sql_root() -> Path:
    """The sql/ folder: inside the installed package, or beside it in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "sql", here.parent / "sql"):
        if (candidate / "views").is_dir():
            return candidate
    raise FileNotFoundError(f"lakeml's sql/ folder is missing (looked in {here} and above)")


@cache
def view_definitions() -> tuple[tuple[str, str], ...]:
    """(view name, CREATE VIEW statement) for every file in sql/views/, each after the
    views it reads (engines bind a view's references when it is created), else by name."""
    import re

    pending = {path.stem: path.read_text()
               for path in sorted((sql_root() / "views").glob("*.sql"))}
    uses = {name: {other for other in pending if other != name
                   and re.search(rf"\b(FROM|JOIN)\s+{other}\b", text, re.IGNORECASE)}
            for name, text in pending.items()}
    ordered: list[tuple[str, str]] = []
    while pending:
        ready = [n for n in pending if not uses[n] & set(pending)]
        if not ready:
            raise ValueError(f"sql/views: circular references among {sorted(pending)}")
        for name in ready:
            ordered.append((name, pending.pop(name)))
    return tuple(ordered)


@cache
def query(name: str) -> str:
    """The text of sql/queries/<name>.sql."""
    path = sql_root() / "queries" / f"{name}.sql"
    if not path.is_file():
        known = sorted(p.stem for p in (sql_root() / "queries").glob("*.sql"))
        raise FileNotFoundError(f"no query {name!r} in {path.parent}; known: {known}")
    return path.read_text()


@cache
def summaries() -> tuple[tuple[str, str], ...]:
    """(table name, SELECT) for every file in sql/summaries/: the tables that the
    leaderboard job materialises for dashboards, sorted by name."""
    return tuple((path.stem, path.read_text())
                 for path in sorted((sql_root() / "summaries").glob("*.sql")))
