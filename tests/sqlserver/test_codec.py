"""The pieces under the protocol, without a server: statement splitting, catalog
rewrites, PostgreSQL value formats, SCRAM verifiers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakeml.sqlserver import auth, catalog, pgtypes
from lakeml.sqlserver.statements import fetch_count, parse_set, split_statements


def test_split_statements_respects_quotes_comments_and_dollar_quotes() -> None:
    text = ("SELECT 'a;b' AS x; SELECT \"c;d\" FROM t -- e;f\n; /* g; /* h; */ i; */ "
            "SELECT $tag$ j; $tag$; SELECT E'k\\';l'; ;")
    assert [s.strip() for s in split_statements(text)] == [
        "SELECT 'a;b' AS x", "SELECT \"c;d\" FROM t -- e;f",
        "/* g; /* h; */ i; */ SELECT $tag$ j; $tag$", "SELECT E'k\\';l'"]
    assert split_statements(" ; -- nothing\n ;") == []


def test_set_and_fetch_parsing() -> None:
    assert parse_set("SET application_name = 'x'").value == "x"
    assert parse_set("SET SESSION TIME ZONE 'UTC'").name == "timezone"
    assert parse_set("SET extra_float_digits TO 3").value == "3"
    assert parse_set("SET DateStyle = ISO, MDY").value == "ISO, MDY"
    assert fetch_count("FORWARD 500") == 500 and fetch_count("ALL") is None
    assert fetch_count(None) == 1


def test_rewrite_leaves_string_literals_alone() -> None:
    sql = "SELECT 'pg_catalog.x' FROM pg_catalog.pg_class WHERE relname = 'a'"
    assert catalog.rewrite(sql) == "SELECT 'pg_catalog.x' FROM pg_class WHERE relname = 'a'"
    assert "pg_class WHERE relname = 'runs'" in catalog.rewrite("SELECT 'runs'::regclass")
    assert catalog.rewrite("SELECT json_build_object('a', 1)") == "SELECT json_object('a', 1)"


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e30"),
                   max_value=Decimal("1e30")))
def test_numeric_binary_round_trips(value: Decimal) -> None:
    codec = pgtypes.codec_for(pgtypes.NUMERIC, True)
    back = pgtypes.decode_parameter(pgtypes.NUMERIC, codec.encode(value), True)
    assert back == value


@pytest.mark.parametrize(("oid", "text", "value"), [
    (pgtypes.BOOL, b"t", True), (pgtypes.INT8, b"-42", -42), (pgtypes.FLOAT8, b"1e-05", 1e-05),
    (pgtypes.NUMERIC, b"12.50", Decimal("12.50")), (pgtypes.BYTEA, b"\\x00ff", b"\x00\xff"),
    (1009, b'{a,"b c",NULL,"d\\"e"}', ["a", "b c", None, 'd"e']),
])
def test_text_parameters(oid: int, text: bytes, value: object) -> None:
    assert pgtypes.decode_parameter(oid, text, False) == value


def test_unknown_parameter_type_is_named() -> None:
    with pytest.raises(pgtypes.UnknownType, match="OID 424242"):
        pgtypes.decode_parameter(424242, b"1", False)


def test_text_formats_match_postgresql() -> None:
    float8 = pgtypes.codec_for(pgtypes.FLOAT8, False).encode
    assert [float8(v) for v in (100.0, 0.1, float("inf"), float("-inf"))] == [
        b"100", b"0.1", b"Infinity", b"-Infinity"]
    assert float8(float("nan")) == b"NaN"
    array = pgtypes.codec_for(1015, False).encode
    assert array(["a", None, "b c", ""]) == b'{a,NULL,"b c",""}'


def test_scram_verifier_checks_a_real_exchange() -> None:
    import base64
    import hashlib
    import hmac

    secret = auth.parse_scram(auth.scram_verifier("pw", salt=b"0123456789abcdef"))
    exchange = auth.ScramExchange(secret)
    server_first = exchange.first(b"n,,n=,r=clientnonce").decode()
    fields = dict(p.split("=", 1) for p in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", b"pw", base64.b64decode(fields["s"]),
                                 int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    without_proof = f"c=biws,r={fields['r']}"
    message = f"n=,r=clientnonce,{server_first},{without_proof}".encode()
    signature = hmac.new(hashlib.sha256(client_key).digest(), message, hashlib.sha256).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
    final = exchange.final(f"{without_proof},p={proof}".encode())
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    assert final == b"v=" + base64.b64encode(hmac.new(server_key, message,
                                                      hashlib.sha256).digest())
    wrong = auth.ScramExchange(secret)
    wrong.first(b"n,,n=,r=clientnonce")
    with pytest.raises(auth.AuthFailed):
        wrong.final(f"c=biws,r={wrong._nonce},p={proof}".encode())
