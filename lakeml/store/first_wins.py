"""Tables where a key's first committed value is final (params): insert-if-absent.

Two processes may log different values for one key (a run's ``lr``) before
either commits. Exactly one value must win, decided at commit, the same for
every reader. The writer commits such a table like this:

1. read, at table version V, the rows already committed for the batch's keys;
2. drop the batch's rows whose key already holds the same value (logging a
   value again is fine), reject those whose key holds another (InvalidArgument,
   reported to the process that logged them), keep the rest;
3. commit the rest conflict-checked against every commit after V, carrying one
   Delta app transaction per *guard*: a bucket of the key's first column (the
   run id). Two commits whose keys share a guard cannot both pass the check:
   the second fails (CommitConflict) and goes back to step 1, where it now sees
   the first one's rows.

So every key holds at most one distinct value in the table, and "first
committed wins" needs no extra rule in readers: sql/views/params.sql and the
run fold (``min_by(value, timestamp)``) agree with it. Rows written before this
guard existed may hold two values for a key; for them the first by
``(timestamp, value)`` wins, here and (but for a timestamp tie) in the views.

Guards are bucketed (GUARD_BUCKETS app ids per table) so the Delta log keeps a
bounded set of app transactions; two flushes touching unrelated runs of the
same bucket only cost one retry. Rows queued as *fresh* (the runs the bulk path just
created) skip step 1: nobody else held their keys at the table version they were
queued at (Pending.mark_fresh), so step 3 is conflict-checked from that version with
their guards, and a process that learned such a key and committed it first makes the
commit fail and go back to step 1.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any, Iterable

from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

# table -> (key columns, value column)
FIRST_WINS: dict[str, tuple[tuple[str, ...], str]] = {"params": (("run_id", "key"), "value")}

GUARD_BUCKETS = 4096


def guards(table: str, first_keys: Iterable[str]) -> list[str]:
    """The app transaction ids guarding these values of the table's first key column."""
    buckets = {zlib.crc32(value.encode("utf-8")) % GUARD_BUCKETS for value in first_keys}
    return [f"lakeml-first-wins-{table}-{b}" for b in sorted(buckets)]


def claim(table: str, data: pa.Table, committed: pa.Table
          ) -> tuple[list[int], list[tuple[int, InvalidArgument]]]:
    """(indices of ``data``'s rows to commit, [(index, error)] of rows to reject), given
    the rows of the same keys already ``committed``. A row whose key already holds its
    value (committed, or earlier in ``data``) is in neither list: it is already there."""
    keys, value = FIRST_WINS[table]
    winners: dict[tuple[Any, ...], Any] = {}
    for row in sorted(committed.select([*keys, value, "timestamp"]).to_pylist(),
                      key=lambda r: (r["timestamp"], r[value])):
        winners.setdefault(tuple(row[k] for k in keys), row[value])
    keep: list[int] = []
    reject: list[tuple[int, InvalidArgument]] = []
    for i, row in enumerate(data.select([*keys, value]).to_pylist()):
        key = tuple(row[k] for k in keys)
        won = winners.get(key)
        if won is None:
            winners[key] = row[value]
            keep.append(i)
        elif won != row[value]:
            named = ", ".join(f"{k}={v!r}" for k, v in zip(keys, key))
            reject.append((i, InvalidArgument(
                f"{table} ({named}) already holds {won!r}, committed first (its value "
                f"is final); {row[value]!r} was not stored")))
    return keep, reject
