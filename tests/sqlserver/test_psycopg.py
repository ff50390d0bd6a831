"""psycopg 3 against lakeml sql-server: the simple and extended protocols, parameters,
text and binary formats, server-side cursors, transactions, settings, cancellation and
many connections at once. Answers are checked against lakeml's own SQL (same views)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from decimal import Decimal

import psycopg
import pytest
from psycopg import errors as pgerrors

import lakeml
from tests.sqlserver.conftest import RUNS_PER_EXPERIMENT

VIEWS = ("experiments", "runs", "params", "metrics", "latest_metrics", "tags", "inputs",
         "runs_wide", "registered_models", "model_versions", "registry_events")


def expected(store: str, query: str) -> list[tuple]:
    return lakeml.Client(store).sql(query).fetchall()


def test_every_view_answers_as_lakeml_sql_does(conn, store) -> None:
    for view in VIEWS:
        got = conn.execute(f"SELECT * FROM {view} ORDER BY ALL").fetchall()
        assert got == expected(store, f"SELECT * FROM {view} ORDER BY ALL"), view
        assert got, f"{view} is empty in the test store"


def test_runs_wide_carries_experiment_names_and_maps(conn) -> None:
    rows = conn.execute("SELECT experiment_name, run_name, metrics['rmse'], params['alpha'], "
                        "tags['team'] FROM runs_wide ORDER BY run_name").fetchall()
    assert len(rows) == 2 * RUNS_PER_EXPERIMENT
    assert rows[0] == ("churn", "churn-0", pytest.approx(1.02), "0.0", "bi")
    maps = conn.execute("SELECT metrics, params FROM runs_wide WHERE run_name = 'fraud-1'"
                        ).fetchone()
    assert maps == ({"rmse": pytest.approx(0.52)}, {"alpha": "0.1"})


def test_simple_protocol_types_and_row_description(conn) -> None:
    cur = conn.execute("SELECT run_name, start_time, status FROM runs ORDER BY run_name LIMIT 2")
    assert [d.name for d in cur.description] == ["run_name", "start_time", "status"]
    assert [d.type_code for d in cur.description] == [1043, 1184, 1043]
    rows = cur.fetchall()
    assert rows[0][0] == "churn-0"
    assert rows[0][1].tzinfo is not None and rows[0][1].utcoffset() == dt.timedelta(0)


def test_several_statements_in_one_simple_query(conn) -> None:
    cur = conn.cursor()
    cur.execute("SELECT 1 AS a; SELECT 'two' AS b; SELECT count(*) FROM runs")
    assert cur.fetchall() == [(1,)]
    assert cur.nextset() and cur.fetchall() == [("two",)]
    assert cur.nextset() and cur.fetchall() == [(2 * RUNS_PER_EXPERIMENT,)]
    assert not cur.nextset()


def test_extended_protocol_with_parameters(conn, store) -> None:
    query = ("SELECT r.run_name, m.value FROM runs r JOIN latest_metrics m USING (run_id) "
             "WHERE m.key = %s AND m.value < %s AND r.start_time < %s ORDER BY m.value, 1")
    args = ["rmse", 0.3, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)]
    want = lakeml.Client(store).sql(query.replace("%s", "?"), args).fetchall()
    assert len(want) == 6
    for prepare in (False, True):  # an unnamed statement, then a named prepared one
        for _ in range(3):
            assert conn.execute(query, args, prepare=prepare).fetchall() == want


def test_parameters_of_every_kind_round_trip(conn) -> None:
    now = dt.datetime(2026, 12, 5, 3, 4, 5, 123456, tzinfo=dt.timezone.utc)
    values = (True, 7, 2**40, 1.5, Decimal("12.345"), "text 'quoted'", b"\x00\xffbytes",
              dt.date(2026, 1, 2), now, now.replace(tzinfo=None), None, [1, None, 300000],
              uuid.UUID("12345678-1234-5678-1234-567812345678"))
    placeholders = ", ".join(["%s"] * len(values))
    for binary in (False, True):
        cur = conn.cursor(binary=binary)
        row = cur.execute(f"SELECT {placeholders}", values).fetchone()
        assert row[:10] == values[:10], binary
        assert row[10] is None and row[11] == [1, None, 300000]
        assert str(row[12]) == str(values[12])


TYPED = ("SELECT true AS b, 2::SMALLINT AS i2, 4::INTEGER AS i4, 8::BIGINT AS i8, "
         "1.5::FLOAT AS f4, 2.25::DOUBLE AS f8, 123.456::DECIMAL(10,3) AS n, "
         "'héllo'::VARCHAR AS t, TIMESTAMP '2026-01-02 03:04:05.5' AS ts, "
         "TIMESTAMPTZ '2026-01-02 03:04:05.000001+00' AS tz, DATE '2026-01-02' AS d, "
         "'\\x00\\xff'::BLOB AS by, '{\"a\": [1, 2]}'::JSON AS j, ['x', NULL]::VARCHAR[] AS "
         "arr, [1, 2]::BIGINT[] AS ints, MAP {'k': 1.5} AS m, NULL::DOUBLE AS nothing, "
         "'NaN'::DOUBLE AS nan, -0.000123::DECIMAL(9,6) AS small")


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_result_types_in_text_and_binary(conn, binary: bool) -> None:
    cur = conn.cursor(binary=binary)
    row = cur.execute(TYPED).fetchone()
    oids = [d.type_code for d in cur.description]
    assert oids == [16, 21, 23, 20, 700, 701, 1700, 1043, 1114, 1184, 1082, 17, 114, 1015,
                    1016, 114, 701, 701, 1700]
    (b, i2, i4, i8, f4, f8, n, t, ts, tz, d, by, j, arr, ints, m, nothing, nan, small) = row
    assert (b, i2, i4, i8, f4, f8) == (True, 2, 4, 8, 1.5, 2.25)
    assert n == Decimal("123.456") and small == Decimal("-0.000123") and t == "héllo"
    assert ts == dt.datetime(2026, 1, 2, 3, 4, 5, 500000)
    assert tz == dt.datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=dt.timezone.utc)
    assert d == dt.date(2026, 1, 2) and by == b"\x00\xff" and j == {"a": [1, 2]}
    assert arr == ["x", None] and ints == [1, 2] and m == {"k": 1.5}
    assert nothing is None and nan != nan


def test_server_side_cursor_streams_in_pieces(sql_server) -> None:
    with sql_server.connect() as conn:  # a transaction: DECLARE needs one
        with conn.cursor(name="many") as cur:
            cur.itersize = 1000
            cur.execute("SELECT range AS i FROM range(25000) WHERE range >= %s", (5,))
            assert [d.name for d in cur.description] == ["i"]
            assert cur.fetchmany(3) == [(5,), (6,), (7,)]
            rest = cur.fetchall()
            assert len(rest) == 25000 - 8 and rest[-1] == (24999,)
        conn.commit()
        with conn.cursor(name="binary_one", binary=True) as cur:
            cur.execute("SELECT run_name, start_time FROM runs ORDER BY run_name")
            assert [r[0] for r in cur] == sorted(
                f"{e}-{i}" for e in ("churn", "fraud") for i in range(RUNS_PER_EXPERIMENT))


def test_transactions_and_a_failed_block(sql_server) -> None:
    with sql_server.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        with pytest.raises(pgerrors.UndefinedTable):
            conn.execute("SELECT * FROM no_such_view")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(pgerrors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.rollback()
        assert conn.execute("SELECT 2").fetchone() == (2,)
        conn.commit()


def test_settings_set_show_reset(conn) -> None:
    assert conn.execute("SHOW server_version").fetchone() == ("16.0",)
    assert conn.execute("SHOW TRANSACTION ISOLATION LEVEL").fetchone() == ("read committed",)
    conn.execute("SET application_name = 'dash board'")
    conn.execute("SET extra_float_digits = 3")
    conn.execute("SET DateStyle TO 'ISO, MDY'")
    assert conn.execute("SHOW application_name").fetchone() == ("dash board",)
    conn.execute("RESET application_name")
    assert conn.execute("SHOW application_name").fetchone() == ("",)
    with pytest.raises(pgerrors.FeatureNotSupported, match="threads"):
        conn.execute("SET threads = 1")
    with pytest.raises(pgerrors.UndefinedObject, match="nonsense"):
        conn.execute("SHOW nonsense")
    assert conn.info.parameter_status("server_version") == "16.0"
    assert conn.info.parameter_status("integer_datetimes") == "on"


def test_catalog_functions(conn) -> None:
    version = conn.execute("SELECT version()").fetchone()[0]
    assert version.startswith("PostgreSQL 16.0") and "lakeml" in version
    assert conn.execute("SELECT current_schema()").fetchone() == ("main",)
    assert conn.execute("SELECT pg_catalog.version()").fetchone()[0] == version
    tables = {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    assert set(VIEWS) <= tables
    names = {r[0] for r in conn.execute("SELECT relname FROM pg_catalog.pg_class").fetchall()}
    assert set(VIEWS) <= names and not any(n.startswith("empty_") for n in names)


def test_cancel_interrupts_a_running_query(sql_server) -> None:
    with sql_server.connect(autocommit=True) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(pgerrors.QueryCanceled):
            conn.execute("SELECT count(*) FROM range(100000000000) a WHERE a.range % 7 = 3")
        timer.join()
        assert time.monotonic() - started < 30
        assert conn.execute("SELECT 42").fetchone() == (42,)  # the connection goes on


def test_many_connections_at_once(sql_server, store) -> None:
    want = expected(store, "SELECT experiment_id, count(*) FROM runs GROUP BY 1 ORDER BY 1")
    results: list[object] = []

    def work() -> None:
        try:
            with sql_server.connect(autocommit=True) as conn:
                for _ in range(5):
                    results.append(conn.execute("SELECT experiment_id, count(*) FROM runs "
                                                "GROUP BY 1 ORDER BY 1").fetchall())
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            results.append(exc)

    threads = [threading.Thread(target=work) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [want] * 100
