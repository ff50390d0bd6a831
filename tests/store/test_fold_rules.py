"""Each fold rule (lakeml.store.fold_rules) against every place it is applied: the
sql/views/ files (plain SQL, which Spark runs too), the run fold's aggregates and the
writer's metric_latest derivation, on generated tables (DuckDB)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakeml.query.run_fold import ENTITIES
from lakeml.query.sqlfiles import view_definitions
from lakeml.sqltext import configure
from lakeml.store import derived, fold_rules, schemas

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
RUNS, KEYS = st.sampled_from(["r1", "r2"]), st.sampled_from(["a", "b"])
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def at(us: int) -> datetime:
    return T0 + timedelta(microseconds=us)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return configure(duckdb.connect())


def load(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> pa.Table:
    """``rows`` as Arrow table ``lake_<table>`` (the name the views read), and the view
    over it defined from its sql/views/ file."""
    data = pa.Table.from_pylist([dict(zip(schemas.TABLES[table].names, r)) for r in rows],
                                schema=schemas.TABLES[table])
    con.register(f"lake_{table}", data)
    return data


def view(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(dict(view_definitions())[name])


def grouped(rows: list[tuple], pick) -> dict[tuple[str, str], list]:  # noqa: ANN001
    out: dict[tuple[str, str], list] = {}
    for row in rows:
        out.setdefault((row[0], row[1]), []).append(pick(row))
    return out


def fold(con: duckdb.DuckDBPyConnection, table: str, entity: str) -> dict:
    """The run fold's aggregate of ``entity`` per (run_id, key), NULLs included."""
    aggregate = ENTITIES[entity][2]
    return {(r, k): v for r, k, v in con.sql(
        f"SELECT run_id, key, {aggregate} FROM lake_{table} GROUP BY run_id, key").fetchall()}


def same(a: object, b: object) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))


VALUES = st.one_of(st.sampled_from([0.5, 1.0, -1.0, math.inf, -math.inf, math.nan]),
                   st.floats(-3, 3))
POINTS = st.lists(st.tuples(RUNS, KEYS, VALUES, st.integers(0, 2), st.integers(0, 2)),
                  min_size=1, max_size=25)


@SETTINGS
@given(points=POINTS)
def test_latest_metric_rule(con: duckdb.DuckDBPyConnection, points: list[tuple]) -> None:
    rows = [(r, k, v, step, at(us)) for r, k, v, step, us in points]
    expected = {key: fold_rules.latest_point(p)
                for key, p in grouped(rows, lambda row: (row[2], row[3], row[4])).items()}
    batch = load(con, "metric_latest", rows)
    view(con, "latest_metrics")
    from_view = {(r, k): (v, s, t) for r, k, v, s, t in con.sql(
        "SELECT run_id, key, value, step, timestamp FROM latest_metrics").fetchall()}
    small, in_duckdb = ({(r["run_id"], r["key"]): (r["value"], r["step"], r["timestamp"])
                         for r in way(batch).to_pylist()}
                        for way in (derived.latest_points_in_python,
                                    derived.latest_points_in_duckdb))
    folded = fold(con, "metric_latest", "metrics")
    assert (from_view.keys() == small.keys() == in_duckdb.keys() == folded.keys()
            == expected.keys())
    for key, (value, step, ts) in expected.items():
        for got in (from_view[key], small[key], in_duckdb[key]):
            assert got[1:] == (step, ts) and same(got[0], value), (key, got, expected[key])
        assert same(folded[key], value), (key, folded[key], value)


@SETTINGS
@given(rows=st.lists(st.tuples(RUNS, KEYS, st.sampled_from(["x", "y", "z"])),
                     min_size=1, max_size=25))
def test_first_param_rule(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    # distinct timestamps: the views break a tie in no stated way (see store.first_wins)
    table = [(r, k, v, at(i)) for i, (r, k, v) in enumerate(reversed(rows))]
    expected = {key: fold_rules.first_param(p)
                for key, p in grouped(table, lambda row: (row[2], row[3])).items()}
    load(con, "params", table)
    view(con, "params")
    assert dict(((r, k), v) for r, k, v in con.sql(
        "SELECT run_id, key, value FROM params").fetchall()) == expected
    assert fold(con, "params", "params") == expected


@SETTINGS
@given(rows=st.lists(st.tuples(RUNS, KEYS, st.sampled_from(["x", "y", ""]), st.booleans()),
                     min_size=1, max_size=25), order=st.randoms())
def test_current_tag_rule(con: duckdb.DuckDBPyConnection, rows: list[tuple], order) -> None:  # noqa: ANN001
    # a set tag has a value (maybe ""); a deletion has none
    seqs = list(range(len(rows)))
    order.shuffle(seqs)  # rows reach the table in any order; seq says which is newer
    table = [(r, k, None if deleted else v, deleted, at(0), seq)
             for (r, k, v, deleted), seq in zip(rows, seqs)]
    expected = {key: fold_rules.current_tag(p)
                for key, p in grouped(table, lambda row: (row[2], row[3], row[5])).items()}
    load(con, "tags", table)
    view(con, "tags")
    assert dict(((r, k), v) for r, k, v in con.sql(
        "SELECT run_id, key, value FROM tags").fetchall()) == {
        key: v for key, v in expected.items() if v is not None or not _deleted(table, key)}
    assert fold(con, "tags", "tags") == expected


def _deleted(table: list[tuple], key: tuple[str, str]) -> bool:
    """Whether the newest row of ``key`` is a deletion (the view then has no row)."""
    return max((row for row in table if row[:2] == key), key=lambda row: row[5])[3]


def test_newer_point_sql_follows_the_order() -> None:
    assert fold_rules.newer_point_sql("h", "k") == (
        "(h.step > k.step) OR (h.step = k.step AND h.timestamp > k.timestamp) OR "
        "(h.step = k.step AND h.timestamp = k.timestamp AND h.value > k.value)")


def test_latest_points_of_an_empty_batch_is_empty() -> None:
    empty = schemas.METRICS.empty_table()
    for way in (derived.latest_points_in_python, derived.latest_points_in_duckdb):
        got = way(empty)
        assert got.num_rows == 0 and got.schema == empty.schema


def test_latest_points_of_timestamps_past_year_9999_match_duckdb() -> None:
    """A datetime cannot hold them; their int64 microseconds order the same."""
    big = 200_000 * 365 * 86_400 * 1_000_000  # about year 202,000
    batch = pa.table({"run_id": ["r", "r", "s"], "key": ["m", "m", "m"],
                      "value": [1.0, 2.0, 3.0], "step": [0, 0, 0],
                      "timestamp": pa.array([big, big + 1, 5], pa.int64())
                      .cast(schemas.METRICS.field("timestamp").type)},
                     schema=schemas.METRICS)
    small = derived.latest_points_in_python(batch)
    assert small.equals(derived.latest_points_in_duckdb(batch))
    assert small["value"].to_pylist() == [2.0, 3.0]
