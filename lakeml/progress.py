"""Progress of long work: a tqdm bar on a terminal, plain lines in logs and pipes.

Long commands (maintenance, the run snapshot, bulk logging, environment
builds, the Spark jobs) report through :func:`steps` or :func:`phase`, so a
person at a terminal sees a bar and a CI log gets a line per step (at most
one every ``every`` seconds for many small steps), never ``\\r`` noise.
The ``progress`` setting (LAKEML_PROGRESS) = ``off`` silences both; ``bar``
or ``lines`` force one.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def mode() -> str:
    """``bar``, ``lines`` or ``off``: LAKEML_PROGRESS, else a bar when stderr is a terminal."""
    from lakeml import config

    chosen = config.get("progress")
    if chosen == "auto":
        return "bar" if sys.stderr.isatty() else "lines"
    return chosen


def steps(items: Iterable[T], desc: str, *, total: int | None = None, unit: str = "step",
          every: float = 5.0) -> Iterator[T]:
    """Yield ``items``, showing how many are done.

    Example:
        >>> for table in steps(["runs", "metrics"], "compact"):   # doctest: +SKIP
        ...     compact(table)
    """
    shown = mode()
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if shown == "off":
        yield from items
        return
    if shown == "bar":
        from tqdm import tqdm

        yield from tqdm(items, desc=f"lakeml: {desc}", total=total, unit=unit,
                        file=sys.stderr, leave=False, dynamic_ncols=True)
        return
    last = float("-inf")  # the first step is always shown
    done = 0
    of = f"/{total}" if total is not None else ""
    for item in items:
        now = time.monotonic()
        if now - last >= every or (total is not None and total <= 20):
            print(f"lakeml: {desc}: {done}{of} {unit}s done, next {item}"[:200],
                  file=sys.stderr, flush=True)
            last = now
        yield item
        done += 1
    print(f"lakeml: {desc}: {done}{of} {unit}s done", file=sys.stderr, flush=True)


@contextmanager
def phase(desc: str) -> Iterator[None]:
    """Say that one long step started and how long it took (no bar: its length is unknown)."""
    shown = mode()
    if shown != "off":
        print(f"lakeml: {desc}…", file=sys.stderr, flush=True)
    started = time.monotonic()
    yield
    if shown != "off":
        print(f"lakeml: {desc}: done in {time.monotonic() - started:.1f} s", file=sys.stderr,
              flush=True)
