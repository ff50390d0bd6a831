"""PostgreSQL types of DuckDB's result columns: their OIDs, and values in PostgreSQL's
text and binary formats (results out, parameters in).

A result column gets the OID of the PostgreSQL type that holds its values, the
one DuckDB's own pg_catalog names for it (BIGINT → int8, VARCHAR → varchar,
TIMESTAMP WITH TIME ZONE → timestamptz, VARCHAR[] → varchar[],
MAP/STRUCT → json…), so drivers pick the right loader. A parameter arrives with
the OID the client declared (0: unknown, DuckDB then casts the text); its bytes
become the Python value DuckDB binds. An OID this server does not know is refused
naming it (SQLSTATE 42704), never guessed.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

Encoder = Callable[[Any], bytes]


class UnknownType(Exception):
    """A parameter type OID that this server cannot read."""


BOOL, BYTEA, NAME, INT8, INT2, INT4, TEXT, OID, JSON = 16, 17, 19, 20, 21, 23, 25, 26, 114
FLOAT4, FLOAT8, UNKNOWN, BPCHAR, VARCHAR, DATE, TIME = 700, 701, 705, 1042, 1043, 1082, 1083
TIMESTAMP, TIMESTAMPTZ, INTERVAL, NUMERIC, UUID, JSONB, CHAR = 1114, 1184, 1186, 1700, 2950, \
    3802, 18
ARRAY_OF = {BOOL: 1000, INT2: 1005, INT4: 1007, TEXT: 1009, VARCHAR: 1015, INT8: 1016,
            FLOAT4: 1021, FLOAT8: 1022, DATE: 1182, TIMESTAMP: 1115, TIMESTAMPTZ: 1185,
            NUMERIC: 1231, JSON: 199, UUID: 2951, BYTEA: 1001}
ELEMENT_OF = {array: element for element, array in ARRAY_OF.items()}
SIZES = {BOOL: 1, INT2: 2, INT4: 4, INT8: 8, FLOAT4: 4, FLOAT8: 8, DATE: 4, TIME: 8,
         TIMESTAMP: 8, TIMESTAMPTZ: 8, INTERVAL: 16, UUID: 16, OID: 4}
NAMES = {BOOL: "bool", BYTEA: "bytea", INT8: "int8", INT2: "int2", INT4: "int4", TEXT: "text",
         JSON: "json", FLOAT4: "float4", FLOAT8: "float8", VARCHAR: "varchar", DATE: "date",
         TIME: "time", TIMESTAMP: "timestamp", TIMESTAMPTZ: "timestamptz",
         INTERVAL: "interval", NUMERIC: "numeric", UUID: "uuid"}

_EPOCH_DATE = dt.date(2000, 1, 1)
_EPOCH_TS = dt.datetime(2000, 1, 1)
_EPOCH_TSZ = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_I16, _I32, _I64 = struct.Struct("!h"), struct.Struct("!i"), struct.Struct("!q")
_F32, _F64 = struct.Struct("!f"), struct.Struct("!d")

# DuckDB type id -> PostgreSQL OID (the JSON logical type reports id 'varchar')
_SCALARS = {"boolean": BOOL, "tinyint": INT2, "smallint": INT2, "utinyint": INT2,
            "integer": INT4, "usmallint": INT4, "bigint": INT8, "uinteger": INT8,
            "ubigint": NUMERIC, "hugeint": NUMERIC, "uhugeint": NUMERIC, "float": FLOAT4,
            "double": FLOAT8, "decimal": NUMERIC, "varchar": VARCHAR, "blob": BYTEA,
            "date": DATE, "time": TIME, "timestamp": TIMESTAMP, "timestamp_s": TIMESTAMP,
            "timestamp_ms": TIMESTAMP, "timestamp_ns": TIMESTAMP,
            "timestamp with time zone": TIMESTAMPTZ, "interval": INTERVAL, "uuid": UUID,
            "struct": JSON, "map": JSON, "union": JSON, "null": TEXT}


def oid_of(duck_type: Any) -> int:
    """The PostgreSQL type OID for a DuckDB column type (a DuckDBPyType)."""
    if str(duck_type) == "JSON":
        return JSON
    kind = duck_type.id
    if kind == "list":
        element = oid_of(duck_type.child)
        return ARRAY_OF.get(element, TEXT)
    return _SCALARS.get(kind, TEXT)


# ---- text format ---------------------------------------------------------------------


def _float_text(v: float) -> bytes:
    if v != v:
        return b"NaN"
    if v in (float("inf"), float("-inf")):
        return b"Infinity" if v > 0 else b"-Infinity"
    text = repr(v)
    return (text[:-2] if text.endswith(".0") else text).encode()


def _float4_text(v: float) -> bytes:
    import numpy as np

    return v if isinstance(v, bytes) else _float_text(float(str(np.float32(v))))


def _timestamptz_text(v: dt.datetime) -> bytes:
    text = v.astimezone(dt.timezone.utc).isoformat(" ")
    return text[:-3].encode() if text.endswith("+00:00") else text.encode()


def _interval_text(v: dt.timedelta) -> bytes:
    seconds = v.seconds + v.microseconds / 1e6
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{int(hours):02d}:{int(minutes):02d}:{secs:09.6f}".rstrip("0").rstrip(".")
    return (f"{v.days} days {clock}" if v.days else clock).encode()


def _json_default(v: Any) -> Any:
    """JSON for the values DuckDB puts in maps and structs: numbers stay numbers."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and v.as_tuple().exponent >= 0 \
            else float(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    return str(v)


def _json_text(v: Any) -> bytes:
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, dict) and any(not isinstance(k, str) for k in v):
        v = {str(k): x for k, x in v.items()}  # a MAP with non-text keys
    return json.dumps(v, default=_json_default).encode()


def _array_item(text: str) -> str:
    if text == "" or text.upper() == "NULL" or any(c in text for c in ' {},"\\\t\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _array_text(element: Encoder) -> Encoder:
    def encode(v: list[Any]) -> bytes:
        items = ("NULL" if x is None else _array_item(element(x).decode()) for x in v)
        return ("{" + ",".join(items) + "}").encode()
    return encode


_TEXT: dict[int, Encoder] = {
    BOOL: lambda v: b"t" if v else b"f",
    INT2: lambda v: str(v).encode(), INT4: lambda v: str(v).encode(),
    INT8: lambda v: str(v).encode(), FLOAT8: _float_text, FLOAT4: _float4_text,
    NUMERIC: lambda v: (format(v, "f") if isinstance(v, Decimal) else str(v)).encode(),
    TEXT: lambda v: v.encode() if isinstance(v, str) else str(v).encode(),
    VARCHAR: lambda v: v.encode() if isinstance(v, str) else str(v).encode(),
    BYTEA: lambda v: b"\\x" + bytes(v).hex().encode(),
    DATE: lambda v: v.isoformat().encode(), TIME: lambda v: v.isoformat().encode(),
    TIMESTAMP: lambda v: v.isoformat(" ").encode(), TIMESTAMPTZ: _timestamptz_text,
    INTERVAL: _interval_text, UUID: lambda v: str(v).encode(), JSON: _json_text,
}


# ---- binary format -------------------------------------------------------------------


def _numeric_binary(v: Any) -> bytes:
    """PostgreSQL's binary numeric: base-10000 digit groups, the weight of the first,
    the sign and the display scale."""
    d = Decimal(v)
    if d.is_nan():
        return struct.pack("!hhHh", 0, 0, 0xC000, 0)
    exponent = d.as_tuple().exponent
    dscale = max(0, -exponent) if isinstance(exponent, int) else 0
    whole, _, frac = format(d.copy_abs(), "f").partition(".")
    whole = whole.lstrip("0")
    whole = "0" * (-len(whole) % 4) + whole
    frac += "0" * (-len(frac) % 4)
    digits = whole + frac
    groups = [int(digits[i:i + 4]) for i in range(0, len(digits), 4)]
    weight = len(whole) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    head = struct.pack("!hhHh", len(groups), weight if groups else 0,
                       0x4000 if d.is_signed() else 0, dscale)
    return head + b"".join(struct.pack("!H", g) for g in groups)


def _array_binary(element_oid: int, element: Encoder) -> Encoder:
    def encode(v: list[Any]) -> bytes:
        if not v:
            return struct.pack("!iii", 0, 0, element_oid)
        has_null = any(x is None for x in v)
        parts = [struct.pack("!iiiii", 1, int(has_null), element_oid, len(v), 1)]
        for x in v:
            if x is None:
                parts.append(_I32.pack(-1))
            else:
                b = element(x)
                parts.append(_I32.pack(len(b)) + b)
        return b"".join(parts)
    return encode


def _micros(delta: dt.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


_BINARY: dict[int, Encoder] = {
    BOOL: lambda v: b"\x01" if v else b"\x00",
    INT2: _I16.pack, INT4: _I32.pack, INT8: _I64.pack, FLOAT4: _F32.pack, FLOAT8: _F64.pack,
    NUMERIC: _numeric_binary, TEXT: lambda v: str(v).encode(),
    VARCHAR: lambda v: str(v).encode(), BYTEA: bytes,
    JSON: _json_text,
    DATE: lambda v: _I32.pack((v - _EPOCH_DATE).days),
    TIME: lambda v: _I64.pack(((v.hour * 60 + v.minute) * 60 + v.second) * 1_000_000
                              + v.microsecond),
    TIMESTAMP: lambda v: _I64.pack(_micros(v - _EPOCH_TS)),
    TIMESTAMPTZ: lambda v: _I64.pack(_micros(v - _EPOCH_TSZ)),
    INTERVAL: lambda v: struct.pack("!qii", v.seconds * 1_000_000 + v.microseconds, v.days, 0),
    UUID: lambda v: (v if isinstance(v, uuid.UUID) else uuid.UUID(str(v))).bytes,
}


@dataclass(frozen=True)
class ColumnCodec:
    """How one result column goes out: its OID, size, format and value encoder."""

    oid: int
    size: int
    binary: bool
    encode: Encoder


def codec_for(oid: int, binary: bool) -> ColumnCodec:
    """The codec of a column of type ``oid`` sent as text (``binary`` False) or binary."""
    size = SIZES.get(oid, -1)
    table = _BINARY if binary else _TEXT
    if oid in ELEMENT_OF:
        element_oid = ELEMENT_OF[oid]
        if binary:
            return ColumnCodec(oid, size, True, _array_binary(element_oid, table[element_oid]))
        return ColumnCodec(oid, size, False, _array_text(_TEXT[element_oid]))
    return ColumnCodec(oid, size, binary, table.get(oid, table[TEXT]))


# ---- parameters in -------------------------------------------------------------------


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("t", "true", "on", "yes", "y", "1"):
        return True
    if lowered in ("f", "false", "off", "no", "n", "0"):
        return False
    raise ValueError(f"invalid input syntax for type boolean: {text!r}")


def _parse_timestamp(text: str) -> dt.datetime:
    value = text.strip().replace("T", " ", 1)
    if value[-3:-2] in "+-" and value[-2:].isdigit():  # "+00": PostgreSQL's short offset
        value += ":00"
    return dt.datetime.fromisoformat(value)


def _parse_bytea(text: str) -> bytes:
    if text.startswith("\\x"):
        return bytes.fromhex(text[2:])
    return text.encode()


_FROM_TEXT: dict[int, Callable[[str], Any]] = {
    BOOL: _parse_bool, INT2: int, INT4: int, INT8: int, OID: int, FLOAT4: float,
    FLOAT8: float, NUMERIC: Decimal, TEXT: str, VARCHAR: str, BPCHAR: str, NAME: str,
    CHAR: str, UNKNOWN: str, JSON: str, JSONB: str, UUID: str, BYTEA: _parse_bytea,
    DATE: dt.date.fromisoformat, TIME: dt.time.fromisoformat, TIMESTAMP: _parse_timestamp,
    TIMESTAMPTZ: _parse_timestamp, 0: str,
}


def _numeric_from_binary(data: bytes) -> Decimal:
    ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", data)
    if sign == 0xC000:
        return Decimal("NaN")
    groups = struct.unpack_from(f"!{ndigits}H", data, 8)
    whole = int("".join(f"{g:04d}" for g in groups) or "0")
    shift = 4 * (weight - ndigits + 1) + dscale  # to an integer count of 10**-dscale
    scaled = whole * 10 ** shift if shift >= 0 else whole // 10 ** -shift
    return Decimal((1 if sign == 0x4000 else 0, tuple(int(c) for c in str(scaled)), -dscale))


_FROM_BINARY: dict[int, Callable[[bytes], Any]] = {
    BOOL: lambda b: b != b"\x00", INT2: lambda b: _I16.unpack(b)[0],
    INT4: lambda b: _I32.unpack(b)[0], INT8: lambda b: _I64.unpack(b)[0],
    OID: lambda b: struct.unpack("!I", b)[0],
    FLOAT4: lambda b: _F32.unpack(b)[0], FLOAT8: lambda b: _F64.unpack(b)[0],
    NUMERIC: _numeric_from_binary, BYTEA: bytes,
    TEXT: lambda b: b.decode(), VARCHAR: lambda b: b.decode(), BPCHAR: lambda b: b.decode(),
    NAME: lambda b: b.decode(), UNKNOWN: lambda b: b.decode(), JSON: lambda b: b.decode(),
    JSONB: lambda b: b[1:].decode(), UUID: lambda b: str(uuid.UUID(bytes=b)),
    DATE: lambda b: _EPOCH_DATE + dt.timedelta(days=_I32.unpack(b)[0]),
    TIMESTAMP: lambda b: _EPOCH_TS + dt.timedelta(microseconds=_I64.unpack(b)[0]),
    TIMESTAMPTZ: lambda b: _EPOCH_TSZ + dt.timedelta(microseconds=_I64.unpack(b)[0]),
}


def check_parameter_type(oid: int) -> None:
    """Raise UnknownType unless parameters of type ``oid`` can be read."""
    element = ELEMENT_OF.get(oid)
    if oid not in _FROM_TEXT and (element is None or element not in _FROM_TEXT):
        raise UnknownType(f"parameter type with OID {oid} is not supported by lakeml "
                          f"sql-server (known: {sorted(k for k in _FROM_TEXT if k)} and "
                          "their arrays, or 0 for unspecified)")


def decode_parameter(oid: int, data: bytes | None, binary: bool) -> Any:
    """The Python value of a parameter sent with type ``oid`` in text or binary format."""
    if data is None:
        return None
    check_parameter_type(oid)
    if oid in ELEMENT_OF:
        return _decode_array(ELEMENT_OF[oid], data, binary)
    if binary:
        reader = _FROM_BINARY.get(oid)
        if reader is None:
            raise UnknownType(f"parameter type {NAMES.get(oid, oid)} cannot be sent in "
                              "binary format; send it as text")
        return reader(data)
    return _FROM_TEXT[oid](data.decode("utf-8"))


def _decode_array(element: int, data: bytes, binary: bool) -> list[Any]:
    if binary:
        ndim, _flags, _oid = struct.unpack_from("!iii", data)
        if ndim == 0:
            return []
        if ndim != 1:
            raise ValueError("only one-dimensional array parameters are supported")
        count = struct.unpack_from("!i", data, 12)[0]
        pos, items = 20, []
        for _ in range(count):
            size = _I32.unpack_from(data, pos)[0]
            pos += 4
            if size < 0:
                items.append(None)
            else:
                items.append(decode_parameter(element, data[pos:pos + size], True))
                pos += size
        return items
    return [None if item is None else _FROM_TEXT[element](item)
            for item in _split_array(data.decode("utf-8"))]


def _split_array(text: str) -> list[str | None]:
    """The items of a one-dimensional PostgreSQL array literal ``{a,"b c",NULL}``."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"malformed array literal: {text!r}")
    body, items, i = body[1:-1], [], 0
    while i < len(body):
        if body[i] == '"':
            j, chars = i + 1, []
            while j < len(body) and body[j] != '"':
                if body[j] == "\\":
                    j += 1
                chars.append(body[j])
                j += 1
            items.append("".join(chars))
            i = j + 2
        else:
            j = body.find(",", i)
            j = len(body) if j < 0 else j
            raw = body[i:j].strip()
            items.append(None if raw.upper() == "NULL" else raw)
            i = j + 1
    return items
