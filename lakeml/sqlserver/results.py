"""Rows on their way out: a running query (or a command's fixed rows) read in batches,
and the DataRow messages that carry them in text or binary format."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from lakeml.sqlserver import messages as m
from lakeml.sqlserver import pgtypes
from lakeml.sqlserver.errors import SqlError
from lakeml.sqlserver.plans import Plan

if TYPE_CHECKING:
    import duckdb

_I32 = struct.Struct("!i")
_NULL = _I32.pack(-1)
BATCH = 2048  # rows fetched from DuckDB at a time


@dataclass(frozen=True)
class Column:
    name: str
    oid: int
    duck_type: Any = None  # the DuckDB type, when DuckDB made the column


class RowSource:
    """Rows of one result, taken in order: from a DuckDB cursor, or a fixed list."""

    def __init__(self, columns: Sequence[Column], *, cursor: duckdb.DuckDBPyConnection | None
                 = None, rows: list[tuple[Any, ...]] | None = None) -> None:
        self.columns = list(columns)
        self._cursor = cursor
        self._rows = list(rows or [])
        self._done = cursor is None
        self.taken = 0

    @classmethod
    def of_cursor(cls, cursor: duckdb.DuckDBPyConnection) -> RowSource:
        description = cursor.description or []
        columns = [Column(d[0], pgtypes.oid_of(d[1]), d[1]) for d in description]
        return cls(columns, cursor=cursor)

    def take(self, count: int | None) -> tuple[list[tuple[Any, ...]], bool]:
        """Up to ``count`` rows (None: all) and whether more remain."""
        import duckdb

        want = count if count is not None and count > 0 else None
        while not self._done and (want is None or len(self._rows) <= want):
            try:
                batch = self._cursor.fetchmany(BATCH if want is None else
                                               max(BATCH, want + 1 - len(self._rows)))
            except duckdb.Error as exc:
                raise SqlError.from_duckdb(exc) from None
            if not batch:
                self._done = True
            self._rows.extend(batch)
            if want is None and self._rows:
                break  # stream: hand over each batch as it comes
        if want is None:
            rows, self._rows = self._rows, []
            more = not self._done
        else:
            rows, self._rows = self._rows[:want], self._rows[want:]
            more = bool(self._rows) or not self._done
        self.taken += len(rows)
        return rows, more

    def close(self) -> None:
        if self._cursor is not None:
            try:
                self._cursor.close()
            except Exception:  # noqa: BLE001 - closing a cursor DuckDB already dropped
                pass
            self._cursor = None
        self._done = True

    def interrupt(self) -> None:
        if self._cursor is not None:
            self._cursor.interrupt()


def codecs(columns: Sequence[Column], formats: Sequence[int]) -> list[pgtypes.ColumnCodec]:
    """The codec of each column for the result format codes a Bind gave (none: all
    text; one: all alike; else one per column)."""
    if len(formats) not in (0, 1, len(columns)):
        raise SqlError("08P01", f"bind message has {len(formats)} result formats for "
                       f"{len(columns)} columns")
    out = []
    for i, col in enumerate(columns):
        fmt = formats[0] if len(formats) == 1 else (formats[i] if formats else 0)
        if fmt not in (0, 1):
            raise SqlError("08P01", f"unknown result format code {fmt}")
        out.append(pgtypes.codec_for(col.oid, bool(fmt)))
    return out


def description(columns: Sequence[Column], formats: Sequence[int]) -> bytes:
    """The RowDescription of ``columns`` sent in ``formats``."""
    chosen = codecs(columns, formats)
    fields = [m.Field(c.name, k.oid, k.size, -1, 1 if k.binary else 0)
              for c, k in zip(columns, chosen)]
    return m.row_description(fields)


def data_rows(rows: Sequence[tuple[Any, ...]], chosen: Sequence[pgtypes.ColumnCodec]) -> bytes:
    """DataRow messages of ``rows``."""
    encoders = [c.encode for c in chosen]
    head = struct.pack("!h", len(encoders))
    pack = _I32.pack
    out = []
    append = out.append
    try:
        for row in rows:
            parts = [head]
            for value, encode in zip(row, encoders):
                if value is None:
                    parts.append(_NULL)
                else:
                    data = encode(value)
                    parts.append(pack(len(data)))
                    parts.append(data)
            body = b"".join(parts)
            append(b"D")
            append(pack(len(body) + 4))
            append(body)
    except (TypeError, ValueError, OverflowError, struct.error) as exc:
        raise SqlError("22000", f"cannot send a value of this result: {exc}") from None
    return b"".join(out)


@dataclass
class Portal:
    """A bound statement: its plan, parameters, result formats, and once it runs, its
    rows."""

    plan: Plan
    params: list[Any]
    formats: list[int]
    source: RowSource | None = None
    holdable: bool = False
    described: bool = False
    finished: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
