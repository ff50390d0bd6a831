"""Rows on their way out: a running query (or a command's fixed rows) read in batches,
and the DataRow messages that carry them in text or binary format."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from lakeml.sqlserver import arrow_rows, errors, pgtypes
from lakeml.sqlserver import messages as m
from lakeml.sqlserver.errors import SqlError
from lakeml.sqlserver.plans import Plan

if TYPE_CHECKING:
    import duckdb

_I32 = struct.Struct("!i")
_NULL = _I32.pack(-1)
BATCH = 16_384  # rows DuckDB hands over at a time


@dataclass(frozen=True)
class Column:
    name: str
    oid: int
    duck_type: Any = None  # the DuckDB type, when DuckDB made the column


class RowSource:
    """Rows of one result, taken in order: Arrow batches of a running DuckDB query, or a
    command's fixed rows (a list of tuples)."""

    def __init__(self, columns: Sequence[Column], *, reader: Any = None,
                 rows: list[tuple[Any, ...]] | None = None,
                 cursor: duckdb.DuckDBPyConnection | None = None) -> None:
        self.columns = list(columns)
        self._reader = reader
        self._cursor = cursor
        self._pending: list[Any] = [list(rows)] if rows else []
        self._done = reader is None
        self.taken = 0

    @classmethod
    def of_query(cls, cursor: duckdb.DuckDBPyConnection, sql: str, params: list[Any]
                 ) -> RowSource:
        """Run ``sql`` on ``cursor``; raises duckdb.Error."""
        rel = cursor.sql(sql, params=params or None)
        if rel is None:  # a statement without a result
            return cls([], cursor=cursor)
        columns = [Column(n, pgtypes.oid_of(t), t) for n, t in zip(rel.columns, rel.types)]
        return cls(columns, reader=rel.to_arrow_reader(BATCH), cursor=cursor)

    def _read(self) -> Any:
        import duckdb

        try:
            return self._reader.read_next_batch()
        except StopIteration:
            self._done = True
            return None
        except duckdb.Error as exc:
            raise SqlError.from_duckdb(exc) from None
        except Exception as exc:  # pyarrow wraps DuckDB's errors raised while streaming
            if "Interrupt" in str(exc):
                raise SqlError(errors.CANCELED, "canceling statement due to user request"
                               ) from None
            raise SqlError("XX000", str(exc)) from None

    def take(self, count: int | None) -> tuple[list[Any], bool]:
        """Chunks (Arrow batches or lists of tuples) holding up to ``count`` rows (None:
        the next chunk, for streaming), and whether more may remain."""
        want = count if count is not None and count > 0 else None
        out: list[Any] = []
        got = 0
        while want is None or got < want:
            if not self._pending:
                if self._done:
                    break
                batch = self._read()
                if batch is None:
                    break
                if batch.num_rows:
                    self._pending.append(batch)
                continue
            chunk = self._pending.pop(0)
            if want is not None and got + len(chunk) > want:
                keep = want - got
                self._pending.insert(0, chunk[keep:])
                chunk = chunk[:keep]
            out.append(chunk)
            got += len(chunk)
            if want is None:
                break
        self.taken += got
        return out, bool(self._pending) or not self._done

    def close(self) -> None:
        self._reader = None
        if self._cursor is not None:
            try:
                self._cursor.close()
            except Exception:  # noqa: BLE001 - closing a cursor DuckDB already dropped
                pass
            self._cursor = None
        self._pending = []
        self._done = True

    def interrupt(self) -> None:
        if self._cursor is not None:
            self._cursor.interrupt()


def encode(chunk: Any, chosen: Sequence[pgtypes.ColumnCodec]) -> bytes:
    """DataRow messages of a chunk: an Arrow batch, or a list of tuples."""
    if isinstance(chunk, list):
        return data_rows(chunk, chosen)
    try:
        return arrow_rows.encode_batch(chunk, chosen)
    except (TypeError, ValueError, OverflowError, struct.error) as exc:
        raise SqlError("22000", f"cannot send a value of this result: {exc}") from None


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
