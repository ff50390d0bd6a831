"""Answers of whole-store aggregates, kept until the tables they read change.

The experiments list's run counts and the column chooser's keys scan every run of the
store (a few seconds at a million runs). Both depend only on the tables' contents, and
each Delta commit bumps its table's version: an answer is kept with the versions of the
tables it read (``Client.store_versions()``) and reused while they are the same.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Hashable, Sequence

if TYPE_CHECKING:
    from lakeml.client import Client

MAX_ENTRIES = 64
# Shelves of kept answers and how many each holds: charts' answers weigh megabytes each
# (JSON of up to ~200,000 points), the other answers kilobytes.
SHELVES = {"answers": MAX_ENTRIES, "charts": 6}
_lock = threading.Lock()
_shelves: dict[str, dict[tuple[str, Hashable], tuple[tuple[int | None, ...], Any]]] = {
    name: {} for name in SHELVES}


def cached(client: Client, key: Hashable, tables: Sequence[str],
           compute: Callable[[], Any], *, shelf: str = "answers") -> Any:
    """``compute()``, or its answer kept from a call when ``tables`` had the same
    versions in ``client``'s store; kept on ``shelf`` (one of :data:`SHELVES`), whose
    oldest answer goes when it is full."""
    answers = _shelves[shelf]
    versions = client.store_versions()
    stamp = tuple(versions.get(t) for t in tables)
    slot = (client.store_uri, key)
    with _lock:
        found = answers.get(slot)
    if found is not None and found[0] == stamp:
        return found[1]
    answer = compute()
    with _lock:
        answers.pop(slot, None)
        if len(answers) >= SHELVES[shelf]:
            answers.pop(next(iter(answers)))
        answers[slot] = (stamp, answer)
    return answer
