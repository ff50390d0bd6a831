"""The run filter grammar and its SQL: parser units, and DuckDB checked against a Python oracle.

The property tests build a few runs as plain Python objects, load them into an
in-memory DuckDB under the table layout the compiled SQL expects, draw random
filter trees, render them as filter text in random styles (this file's own
renderer), parse and compile that text, run it, and compare the answer with
an oracle written here in plain Python (its own LIKE matcher, its own sort).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakeml.errors import InvalidArgument
from lakeml.search import (
    And,
    Comparison,
    Or,
    OrderKey,
    Relations,
    compile_filter,
    compile_order_by,
    compile_search,
    format_filter,
    parse_filter,
    parse_order_by,
    quote_string,
)

C = Comparison
INF, NAN = math.inf, math.nan

# --------------------------------------------------------------------------- parser units


@pytest.mark.parametrize(("text", "expected"), [
    ("metrics.acc = 1", C("metrics", "acc", "=", 1.0)),
    ("metrics.acc != 1", C("metrics", "acc", "!=", 1.0)),
    ("metrics.acc < 1", C("metrics", "acc", "<", 1.0)),
    ("metrics.acc <= 1", C("metrics", "acc", "<=", 1.0)),
    ("metrics.acc > 1", C("metrics", "acc", ">", 1.0)),
    ("metrics.acc >= 1", C("metrics", "acc", ">=", 1.0)),
    ("metrics.acc IS NULL", C("metrics", "acc", "IS NULL")),
    ("metrics.acc IS NOT NULL", C("metrics", "acc", "IS NOT NULL")),
    ("params.p = 'a'", C("params", "p", "=", "a")),
    ("params.p != 'a'", C("params", "p", "!=", "a")),
    ("params.p LIKE 'a%'", C("params", "p", "LIKE", "a%")),
    ("params.p ILIKE 'a_'", C("params", "p", "ILIKE", "a_")),
    ("params.p IN ('a')", C("params", "p", "IN", ("a",))),
    ("params.p NOT IN ('a', \"b\")", C("params", "p", "NOT IN", ("a", "b"))),
    ("params.p IS NULL", C("params", "p", "IS NULL")),
    ("tags.t = 'x'", C("tags", "t", "=", "x")),
    ("tags.t IS NOT NULL", C("tags", "t", "IS NOT NULL")),
    ("tags.t NOT IN ('x','y' , 'z')", C("tags", "t", "NOT IN", ("x", "y", "z"))),
    ("attributes.status = 'FAILED'", C("attributes", "status", "=", "FAILED")),
    ("attributes.run_id IN ('a', 'b')", C("attributes", "run_id", "IN", ("a", "b"))),
    ("attributes.run_id NOT IN ('a')", C("attributes", "run_id", "NOT IN", ("a",))),
    ("attributes.user_id LIKE 'ann%'", C("attributes", "user_id", "LIKE", "ann%")),
    ("attributes.artifact_uri ILIKE 's3://%'", C("attributes", "artifact_uri", "ILIKE", "s3://%")),
    ("attributes.run_name != 'x'", C("attributes", "run_name", "!=", "x")),
    ("attributes.start_time >= 1700000000000", C("attributes", "start_time", ">=", 1.7e12)),
    ("attributes.end_time < 5", C("attributes", "end_time", "<", 5.0)),
    ("datasets.name = 'wine'", C("datasets", "name", "=", "wine")),
    ("datasets.digest IN ('d1', 'd2')", C("datasets", "digest", "IN", ("d1", "d2"))),
    ("datasets.context LIKE 'train%'", C("datasets", "context", "LIKE", "train%")),
    ("datasets.context NOT IN ('eval')", C("datasets", "context", "NOT IN", ("eval",))),
])
def test_every_operator_of_every_entity(text: str, expected: Comparison) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(("prefix", "entity"), [
    ("metric", "metrics"), ("metrics", "metrics"), ("METRICS", "metrics"),
    ("param", "params"), ("params", "params"), ("parameter", "params"),
    ("parameters", "params"), ("tag", "tags"), ("tags", "tags"),
    ("attribute", "attributes"), ("attributes", "attributes"), ("attr", "attributes"),
    ("run", "attributes"), ("dataset", "datasets"), ("datasets", "datasets"),
])
def test_entity_prefixes_and_aliases(prefix: str, entity: str) -> None:
    key = {"attributes": "status", "datasets": "name"}.get(entity, "k")
    value = "1" if entity == "metrics" else "'v'"
    parsed = parse_filter(f"{prefix}.{key} = {value}")
    assert (parsed.entity, parsed.key) == (entity, key)


@pytest.mark.parametrize(("text", "key"), [
    ("status = 'x'", "status"),
    ("run_id = 'x'", "run_id"),
    ("created > 1", "start_time"),
    ("Created > 1", "start_time"),
    ("attributes.created > 1", "start_time"),
    ('"run name" = \'x\'', "run_name"),
    ("`Run name` = 'x'", "run_name"),
    ('attributes."Run Name" = \'x\'', "run_name"),
    ("end_time > 1", "end_time"),
])
def test_bare_attribute_names_and_mlflow_aliases(text: str, key: str) -> None:
    parsed = parse_filter(text)
    assert (parsed.entity, parsed.key) == ("attributes", key)


@pytest.mark.parametrize(("text", "entity", "key"), [
    ("metrics.`my metric.v2` > 1", "metrics", "my metric.v2"),
    ('metrics."my metric.v2" > 1', "metrics", "my metric.v2"),
    ("params.'single quoted' = 'v'", "params", "single quoted"),
    ("metrics.a.b.c > 1", "metrics", "a.b.c"),
    ("metrics.val/loss-2:x > 1", "metrics", "val/loss-2:x"),
    ("metrics.1st_place > 1", "metrics", "1st_place"),
    ("metrics.`back``tick` > 1", "metrics", "back`tick"),
    ('params."say ""hi""" = \'v\'', "params", 'say "hi"'),
    ("`metrics`.acc > 1", "metrics", "acc"),
    ("`metrics`.`a b` > 1", "metrics", "a b"),
    ('"tags"."a b" = \'v\'', "tags", "a b"),
    ("tags.日本語 = 'v'", "tags", "日本語"),
    ("params.AND = 'v'", "params", "AND"),
])
def test_key_quoting(text: str, entity: str, key: str) -> None:
    parsed = parse_filter(text)
    assert (parsed.entity, parsed.key) == (entity, key)


@pytest.mark.parametrize(("literal", "value"), [
    ("'it''s'", "it's"),
    ('"it\'s"', "it's"),
    ('"say ""hi"""', 'say "hi"'),
    ("'say \"hi\"'", 'say "hi"'),
    ("'C:\\tmp\\'", "C:\\tmp\\"),
    ("'a\\'", "a\\"),
    ("''", ""),
    ("'%_'", "%_"),
    ("'; DROP TABLE runs; --'", "; DROP TABLE runs; --"),
    ("'line\nbreak'", "line\nbreak"),
])
def test_string_literals_double_the_quote_and_keep_backslashes(literal: str, value: str) -> None:
    assert parse_filter(f"params.p = {literal}").value == value


@pytest.mark.parametrize(("literal", "value"), [
    ("0", 0.0), ("12", 12.0), ("-3", -3.0), ("+3", 3.0), ("0.25", 0.25), (".5", 0.5),
    ("-.5", -0.5), ("5.", 5.0), ("1e3", 1000.0), ("1E-3", 0.001), ("-2.5e+2", -250.0),
    ("1e999", INF), ("-1e999", -INF),
])
def test_numbers(literal: str, value: float) -> None:
    assert parse_filter(f"metrics.m > {literal}").value == value
    assert parse_filter(f"metrics.m>{literal}").value == value


def test_keywords_are_case_insensitive() -> None:
    text = ("params.a like 'x' and params.b ILike 'y' Or params.c in ('z') "
            "AND params.d Not In ('w') anD params.e is NOT null OR metrics.m iS nUlL")
    a, b, c, d, e, m = (
        C("params", "a", "LIKE", "x"), C("params", "b", "ILIKE", "y"),
        C("params", "c", "IN", ("z",)), C("params", "d", "NOT IN", ("w",)),
        C("params", "e", "IS NOT NULL"), C("metrics", "m", "IS NULL"))
    assert parse_filter(text) == Or((And((a, b)), And((c, d, e)), m))


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a, b, c = C("metrics", "a", "=", 1.0), C("metrics", "b", "=", 2.0), C("metrics", "c", "=", 3.0)
    assert parse_filter("metrics.a = 1 OR metrics.b = 2 AND metrics.c = 3") == Or((a, And((b, c))))
    assert parse_filter("metrics.a = 1 AND metrics.b = 2 OR metrics.c = 3") == Or((And((a, b)), c))
    assert parse_filter("(metrics.a = 1 OR metrics.b = 2) AND metrics.c = 3") == And(
        (Or((a, b)), c))
    assert parse_filter("((metrics.a = 1))") == a
    assert parse_filter("metrics.a = 1 AND (metrics.b = 2 AND metrics.c = 3)") == And(
        (a, And((b, c))))
    assert parse_filter("metrics.a=1 and metrics.b=2 and metrics.c=3") == And((a, b, c))


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_is_none_and_compiles_to_true(text: str | None) -> None:
    assert parse_filter(text) is None
    assert compile_filter(text) == ("TRUE", [])


@pytest.mark.parametrize(("text", "column", "expected"), [
    ("metrics.acc >> 1", 13, "unknown operator '>>'"),
    ("metrics.acc == 1", 13, "(use =)"),
    ("metrics.acc <> 1", 13, "(use !=)"),
    ("params.x < 'a'", 10, "operator '<' is not allowed for params"),
    ("tags.x > 'a'", 8, "operator '>' is not allowed for tags"),
    ("metrics.x LIKE '1'", 11, "operator 'LIKE' is not allowed for metrics"),
    ("metrics.x IN ('1')", 11, "operator 'IN' is not allowed for metrics"),
    ("start_time LIKE 'x'", 12, "operator 'LIKE' is not allowed for the attribute start_time"),
    ("status < 'x'", 8, "operator '<' is not allowed for the attribute status"),
    ("status IS NULL", 8, "operator 'IS NULL' is not allowed"),
    ("metrics.x = 'abc'", 13, "expected a number after 'metrics.x =', found the string 'abc'"),
    ("start_time > '5'", 14, "expected a number"),
    ("params.x = 1", 12, "expected a quoted string after 'params.x =', found the number 1"),
    ("params.x = abc", 12, "expected a quoted string"),
    ("params.x = `abc`", 12, "backticks quote names, not values"),
    ("foo.x = 1", 1, "unknown entity 'foo'"),
    ("foo = 1", 1, "unknown identifier 'foo'"),
    ("attributes.foo = 'x'", 1, "unknown run attribute 'foo'"),
    ("lifecycle_stage = 'active'", 1, "'lifecycle_stage' is not searchable"),
    ("datasets.source = 'x'", 1, "unknown dataset field 'source'"),
    ("params.x = 'abc", 12, "unterminated string"),
    ("params.`x = 'abc'", 8, "unterminated backtick"),
    ("metrics.x > 1 2", 15, "expected AND, OR or the end of the filter, found '2'"),
    ("metrics.x > 1 metrics.y > 2", 15, "expected AND, OR or the end of the filter"),
    ("metrics.x > 1 AND", 18, "expected an identifier"),
    ("AND metrics.x > 1", 1, "expected an identifier"),
    ("(metrics.x > 1", 15, "to close the '(' at column 1"),
    ("metrics.x > 1)", 14, "found ')'"),
    ("()", 2, "expected an identifier"),
    ("params.x IN ()", 14, "the list after 'params.x IN' is empty"),
    ("params.x IN ('a',)", 18, "expected a quoted string in the list"),
    ("params.x IN ('a' 'b')", 18, "expected ',' or ')'"),
    ("params.x IN ('a', 1)", 19, "expected a quoted string in the list"),
    ("params.x IN 'a'", 13, "expected a parenthesised list"),
    ("params.x NOT LIKE 'a'", 14, "expected IN after NOT"),
    ("params.x IS 'a'", 13, "expected NULL or NOT NULL after IS"),
    ("params.x IS NOT 'a'", 17, "expected NULL after IS NOT"),
    ("params.x 'a'", 10, "expected a comparison operator"),
    ("params.x", 9, "expected a comparison operator"),
    ("metrics. > 1", 10, "expected a key after 'metrics.'"),
    ("metrics.a`b` > 1", 10, "quote the whole key"),
    ('tags."a"."b" = \'x\'', 9, "unexpected '.' right after the key 'a'"),
    ("`metrics`x > 1", 10, "expected '.' after the quoted entity name"),
    ("status`x` = 'a'", 7, "expected a '.' between 'status' and the quoted key"),
    ("metrics.x > 1abc", 13, "malformed number '1abc'"),
    ("metrics.x > 1.2.3", 13, "malformed number"),
    ("metrics.x > - 1", 13, "unexpected character '-'"),
    ("status = 'a'; DROP TABLE runs", 13, "unexpected character ';'"),
    ("'status' = 'a'", 1, "found a string"),
])
def test_errors_quote_the_filter_and_point_at_the_position(
        text: str, column: int, expected: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(text)
    message = str(caught.value)
    headline, shown, caret = message.split("\n")
    assert headline.startswith(f"invalid filter at column {column}: "), message
    assert expected in headline, message
    assert shown == "    " + text
    assert caret == " " * (4 + column - 1) + "^"
    assert isinstance(caught.value, ValueError)


def test_error_caret_counts_wide_characters_and_shows_line_breaks_as_blanks() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_filter("tags.日本 = 'x' AND\nmetrics.m = 'y'")
    _, shown, caret = str(caught.value).split("\n")
    assert shown == "    tags.日本 = 'x' AND metrics.m = 'y'"
    assert caret == " " * (4 + len("tags.日本 = 'x' AND metrics.m = ") + 2) + "^"


def test_error_in_a_long_filter_shows_a_window_around_the_position() -> None:
    text = " AND ".join(f"metrics.m{i} > {i}" for i in range(40)) + " AND metrics.z >> 1"
    with pytest.raises(InvalidArgument) as caught:
        parse_filter(text)
    _, shown, caret = str(caught.value).split("\n")
    assert shown.startswith("    ...") and shown.endswith(">> 1")
    assert shown[len(caret) - 1:].startswith(">>")


def test_first_error_wins_over_later_bad_characters() -> None:
    with pytest.raises(InvalidArgument, match="unknown entity 'foo'"):
        parse_filter("foo.x = 1 ; $$$")


def test_deep_nesting_is_refused_cleanly() -> None:
    with pytest.raises(InvalidArgument, match="nest deeper"):
        parse_filter("(" * 500 + "metrics.x > 1" + ")" * 500)
    assert parse_filter("(" * 30 + "metrics.x > 1" + ")" * 30) == C("metrics", "x", ">", 1.0)


@pytest.mark.parametrize(("args", "expected"), [
    (("metrics", "x", "LIKE", "a"), "operator 'LIKE' is not allowed for metrics"),
    (("metrics", "x", "<", "1"), "needs a number"),
    (("metrics", "x", "<", NAN), "needs a number (not NaN)"),
    (("params", "x", "=", 1.0), "needs a string"),
    (("params", "x", "IN", ()), "non-empty tuple of strings"),
    (("params", "", "=", "a"), "non-empty string"),
    (("attributes", "run_id); DROP TABLE runs; --", "=", "a"), "unknown run attribute"),
    (("bogus", "x", "=", "a"), "unknown entity 'bogus'"),
    (("tags", "x", "IS NULL", "a"), "takes no value"),
])
def test_trees_are_valid_by_construction(args: tuple, expected: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(expected)):
        Comparison(*args)


def test_nodes_normalise_values_and_refuse_bad_items() -> None:
    assert C("metrics", "x", "<", 1).value == 1.0
    assert C("params", "x", "IN", ["a", "b"]).value == ("a", "b")
    assert And([C("metrics", "x", "<", 1)]).items == (C("metrics", "x", "<", 1.0),)
    with pytest.raises(InvalidArgument, match="non-empty tuple"):
        And(())
    with pytest.raises(InvalidArgument, match="must be Comparison"):
        Or(("metrics.x > 1",))


@pytest.mark.parametrize(("clause", "expected"), [
    ("metrics.acc", OrderKey("metrics", "acc", True)),
    ("metrics.acc DESC", OrderKey("metrics", "acc", False)),
    ("metric.`val loss` desc", OrderKey("metrics", "val loss", False)),
    ("params.p ASC", OrderKey("params", "p", True)),
    ('tags."a.b" Asc', OrderKey("tags", "a.b", True)),
    ("start_time DESC", OrderKey("attributes", "start_time", False)),
    ("created", OrderKey("attributes", "start_time", True)),
    ("attributes.run_name", OrderKey("attributes", "run_name", True)),
    ("attr.end_time desc", OrderKey("attributes", "end_time", False)),
    ("  run_id  ", OrderKey("attributes", "run_id", True)),
])
def test_order_by_clauses(clause: str, expected: OrderKey) -> None:
    assert parse_order_by(clause) == expected


@pytest.mark.parametrize(("clause", "column", "expected"), [
    ("", 1, "expected an identifier"),
    ("metrics.acc DOWN", 13, "expected ASC, DESC or the end of the clause"),
    ("metrics.acc DESC ASC", 18, "expected ASC, DESC"),
    ("datasets.name", 1, "datasets cannot be sorted on"),
    ("foo.x", 1, "unknown entity 'foo'"),
    ("lifecycle_stage", 1, "not searchable"),
])
def test_order_by_errors(clause: str, column: int, expected: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_order_by(clause)
    headline = str(caught.value).split("\n")[0]
    assert headline.startswith(f"invalid order_by clause at column {column}: ")
    assert expected in headline


def test_order_by_refuses_repeated_keys_and_a_bare_string() -> None:
    with pytest.raises(InvalidArgument, match="twice"):
        compile_order_by(["start_time", "created DESC"])
    with pytest.raises(InvalidArgument, match="list of strings"):
        compile_order_by("metrics.m")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- SQL shape


def test_compiled_example() -> None:
    where = compile_filter("metrics.m0 < 0.1 and params.p1 = 'a'")
    assert where.sql == (
        "(EXISTS (SELECT 1 FROM latest_metrics AS k WHERE k.run_id = r.run_id AND k.key = ? "
        "AND NOT isnan(k.value) AND k.value < ?) AND EXISTS (SELECT 1 FROM params AS k "
        "WHERE k.run_id = r.run_id AND k.key = ? AND k.value = ?))")
    assert where.params == ["m0", 0.1, "p1", "a"]
    order = compile_order_by(["metrics.m0 ASC"])
    assert order.joins == "LEFT JOIN latest_metrics AS o1 ON o1.run_id = r.run_id AND o1.key = ?"
    assert order.params == ("m0",)
    assert order.columns == ("o1.value AS order_1",)
    assert order.clause == ("CASE WHEN o1.value IS NULL THEN 2 WHEN isnan(o1.value) THEN 1 "
                            "ELSE 0 END, o1.value ASC, r.start_time DESC NULLS LAST, "
                            "r.run_id ASC")


NASTY = ["'; DROP TABLE runs; --", "\" OR 1=1 --", "x') OR ('1'='1", "%", "_", "\\", "",
         "O'Brien", "a\"b", "`tick`", "日本語", "ÉCOLE", "école", "Robert'); DROP TABLE params;--",
         "$1", "?", ":name", "/* c */", "\n", "ß"]


def test_user_text_never_reaches_the_sql() -> None:
    comparisons = []
    keys = [text for text in NASTY if text]
    for i, text in enumerate(keys):
        comparisons += [C("params", text, "=", text), C("tags", text, "LIKE", text),
                        C("metrics", text, ">", float(i)), C("datasets", "name", "IN", (text,))]
    query = compile_search(Or(tuple(comparisons)), [f"params.{_backticked(t)}" for t in keys])
    for text in NASTY:
        if len(text) > 1 and text not in ("?", "$1"):
            assert text not in query.sql
    assert "'" not in query.sql and '"' not in query.sql and ";" not in query.sql
    assert query.sql.count("?") == len(query.params)
    assert set(keys) <= set(query.params)


@pytest.mark.parametrize("name", ["runs; DROP TABLE runs", "", "a b", "1abc", "x.y.z.w",
                                  "main.\"t\"", None])
def test_relation_names_must_be_plain_identifiers(name: object) -> None:
    with pytest.raises(InvalidArgument, match="plain SQL identifier"):
        Relations(metrics=name)  # type: ignore[arg-type]
    assert Relations(metrics="main.latest_metrics_v2").metrics == "main.latest_metrics_v2"
    with pytest.raises(InvalidArgument, match="must be a Relations"):
        compile_filter("params.p = 'a'", {"params": "p"})  # type: ignore[arg-type]


def test_limit_and_offset_are_parameters_too() -> None:
    query = compile_search("params.p = 'a'", limit=5, offset=10)
    assert query.sql.endswith(" LIMIT ? OFFSET ?") and query.params[-2:] == [5, 10]
    assert not compile_search().sql.endswith("OFFSET ?")
    with pytest.raises(InvalidArgument, match="limit must be a non-negative integer"):
        compile_search(limit=-1)


# --------------------------------------------------------------------------- the world


@dataclass
class Run:
    """One run as the oracle sees it: plain Python values."""

    run_id: str
    run_name: str | None
    status: str
    user_id: str
    start_us: int
    end_us: int | None
    artifact_uri: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class World:
    runs: list[Run]


ALPHABET = "aAbBzZ09 %_\\'\"`;-./:éÉжЖß日😀\n"
VALUES = ["a", "A", "ab", "a_b", "a%b", "", "'; DROP TABLE runs; --", "O'Brien", 'say "hi"',
          "\\", "C:\\tmp", "école", "ÉCOLE", "日本", "x\ny", "ß"]
KEYS = ["a", "b.c", "my metric", "x-y/z", "it's", 'q"uote`', "'; DROP TABLE runs; --"]
METRIC_KEYS = ["a", "my metric", "'; DROP TABLE runs; --"]
RUN_IDS = [f"r{i}{suffix}" for i in range(8) for suffix in ("", "'")]
STATUSES = ["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"]
METRIC_VALUES = [0.0, -0.0, 1.0, -1.5, 2.5, 1e-3, 1e300, INF, -INF, NAN]
BASE_US = 1_700_000_000_000_000
BASE_MS = BASE_US // 1000

# Runs and filters draw from the same small sets, so that comparisons often match.
texts = st.one_of(st.sampled_from(VALUES), st.sampled_from(VALUES),
                  st.text(alphabet=ALPHABET, max_size=5))
metric_values = st.one_of(st.sampled_from(METRIC_VALUES), st.sampled_from([NAN, NAN, INF, 0.0]),
                          st.floats(-10, 10, allow_nan=False, width=32))
numbers = st.one_of(st.sampled_from([v for v in METRIC_VALUES if not math.isnan(v)]),
                    st.sampled_from([INF, 0.0]), st.floats(-10, 10, allow_nan=False, width=32))
micros = st.one_of(st.sampled_from([0, 1, 499, 500, 999, 1000, 2500]), st.integers(0, 5000))


@st.composite
def worlds(draw: st.DrawFn, min_runs: int = 0, max_runs: int = 7) -> World:
    keys = st.sampled_from(KEYS)
    runs = []
    for i in range(draw(st.integers(min_runs, max_runs))):
        start = BASE_US + draw(micros)
        runs.append(Run(
            run_id=RUN_IDS[2 * i + draw(st.integers(0, 1))],
            run_name=draw(st.none() | texts),
            status=draw(st.sampled_from(STATUSES)),
            user_id=draw(texts),
            start_us=start,
            end_us=None if draw(st.booleans()) else start + draw(micros),
            artifact_uri=draw(texts),
            metrics=draw(st.dictionaries(st.sampled_from(METRIC_KEYS), metric_values)),
            params=draw(st.dictionaries(keys, texts, max_size=3)),
            tags=draw(st.dictionaries(keys, texts, max_size=3)),
            inputs=draw(st.lists(st.tuples(texts, texts, texts), max_size=2)),
        ))
    return World(runs)


_SHARED: list[duckdb.DuckDBPyConnection] = []


def load(world: World, con: duckdb.DuckDBPyConnection | None = None
         ) -> duckdb.DuckDBPyConnection:
    """DuckDB holding the world under the layout the SQL expects.

    Without ``con``, one in-memory database is reused (a new one costs ~20 ms,
    which hypothesis would pay per example); its tables are replaced each time.
    """
    if con is None:
        if not _SHARED:
            _SHARED.append(duckdb.connect())
        con = _SHARED[0]
    con.execute("""CREATE OR REPLACE TABLE runs (run_id VARCHAR, experiment_id VARCHAR,
                   run_name VARCHAR, status VARCHAR, user_id VARCHAR, start_time TIMESTAMPTZ,
                   end_time TIMESTAMPTZ, artifact_uri VARCHAR, lifecycle_stage VARCHAR,
                   parent_run_id VARCHAR)""")
    con.execute("CREATE OR REPLACE TABLE latest_metrics (run_id VARCHAR, key VARCHAR, "
                "value DOUBLE)")
    con.execute("CREATE OR REPLACE TABLE params (run_id VARCHAR, key VARCHAR, value VARCHAR)")
    con.execute("CREATE OR REPLACE TABLE tags (run_id VARCHAR, key VARCHAR, value VARCHAR)")
    con.execute("""CREATE OR REPLACE TABLE inputs (run_id VARCHAR, name VARCHAR,
                   digest VARCHAR, context VARCHAR, source VARCHAR)""")
    timestamp = "make_timestamp(?::BIGINT)::TIMESTAMPTZ"
    insert(con, "runs", f"?, ?, ?, ?, ?, {timestamp}, {timestamp}, ?, ?, ?",
           [(r.run_id, "0", r.run_name, r.status, r.user_id, r.start_us, r.end_us,
             r.artifact_uri, "active", None) for r in world.runs])
    for table, attribute in (("latest_metrics", "metrics"), ("params", "params"),
                             ("tags", "tags")):
        insert(con, table, "?, ?, ?", [(r.run_id, k, v) for r in world.runs
                                       for k, v in getattr(r, attribute).items()])
    insert(con, "inputs", "?, ?, ?, ?, ?",
           [(r.run_id, *i, "src") for r in world.runs for i in r.inputs])
    return con


WIDE = Relations(runs="wide_runs")


def load_wide(world: World, con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """Beside ``load``'s tables, ``wide_runs``: one row per run, one generated column per
    key any run has (the layout searches read, lakeml/query/run_state.py); returns
    the (entity, key) -> column map."""
    relations = {"metrics": "latest_metrics", "params": "params", "tags": "tags"}
    keys = sorted({(entity, key) for r in world.runs for entity in relations
                   for key in getattr(r, entity)})
    columns = {key: f"c{i}" for i, key in enumerate(keys)}
    picks = "".join(f", (SELECT value FROM {relations[entity]} AS k WHERE k.run_id = r.run_id "
                    f"AND k.key = ?) AS {columns[(entity, key)]}" for entity, key in keys)
    con.execute(f"CREATE OR REPLACE TABLE wide_runs AS SELECT r.*{picks} FROM runs AS r",
                [key for _, key in keys])
    return columns


def insert(con: duckdb.DuckDBPyConnection, table: str, row: str, rows: list[tuple]) -> None:
    """All ``rows`` in one parameterised INSERT (much faster than executemany)."""
    if rows:
        values = ", ".join([f"({row})"] * len(rows))
        con.execute(f"INSERT INTO {table} VALUES {values}", [v for r in rows for v in r])


# --------------------------------------------------------------------------- the oracle


def like(value: str, pattern: str) -> bool:
    """SQL LIKE without an escape character: % is any run, _ any one character."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def fold(text: str) -> str:
    """Per-character lower case (every character of ALPHABET lowers to one character)."""
    return "".join(c.lower() for c in text)


def epoch_ms(micros: int) -> int:
    """Microseconds to milliseconds as DuckDB's epoch_ms does: rounded half away from 0."""
    return int(math.copysign((abs(micros) + 500) // 1000, micros))


def compare(left: object, op: str, right: object) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "LIKE":
        return like(left, right)
    if op == "ILIKE":
        return like(fold(left), fold(right))
    if op == "IN":
        return left in right
    if op == "NOT IN":
        return left not in right
    raise AssertionError(op)


def matches(run: Run, node: object) -> bool:
    if isinstance(node, And):
        return all(matches(run, item) for item in node.items)
    if isinstance(node, Or):
        return any(matches(run, item) for item in node.items)
    assert isinstance(node, Comparison)
    if node.entity == "datasets":
        column = ("name", "digest", "context").index(node.key)
        return any(compare(i[column], node.op, node.value) for i in run.inputs)
    if node.entity == "attributes":
        if node.key in ("start_time", "end_time"):
            micros = run.start_us if node.key == "start_time" else run.end_us
            left = None if micros is None else epoch_ms(micros)
        else:
            left = getattr(run, node.key)
    else:
        values = getattr(run, node.entity)
        if node.op in ("IS NULL", "IS NOT NULL"):
            return (node.key in values) == (node.op == "IS NOT NULL")
        left = values.get(node.key)
    return left is not None and compare(left, node.op, node.value)


def sort_value(run: Run, key: OrderKey) -> object:
    if key.entity == "attributes" and key.key.endswith("_time"):
        return run.start_us if key.key == "start_time" else run.end_us
    if key.entity == "attributes":
        return getattr(run, key.key)
    return getattr(run, key.entity).get(key.key)


def oracle_order(runs: list[Run], keys: list[OrderKey]) -> list[str]:
    """MLflow's order: per key, present values sorted, then NaN, then missing; ties by
    start_time DESC (unless a key) and run_id; built from stable sorts, last key first."""
    ordered = sorted(runs, key=lambda r: r.run_id)
    if not any((k.entity, k.key) == ("attributes", "start_time") for k in keys):
        ordered = sorted(ordered, key=lambda r: r.start_us, reverse=True)
    for key in reversed(keys):
        present = [r for r in ordered if sort_value(r, key) is not None
                   and sort_value(r, key) == sort_value(r, key)]
        nan = [r for r in ordered if isinstance(sort_value(r, key), float)
               and math.isnan(sort_value(r, key))]
        missing = [r for r in ordered if sort_value(r, key) is None]
        present = sorted(present, key=lambda r, k=key: sort_value(r, k),
                         reverse=not key.ascending)
        ordered = present + nan + missing
    return [r.run_id for r in ordered]


# --------------------------------------------------------------------------- random filters


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    entity = draw(st.sampled_from(["metrics", "params", "tags", "attributes", "datasets"]))
    if entity == "metrics":
        key = draw(st.sampled_from(METRIC_KEYS + ["absent"]))
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IS NULL", "IS NOT NULL"]))
        return C(entity, key, op, None if op.startswith("IS") else draw(numbers))
    if entity == "attributes":
        key = draw(st.sampled_from(["run_id", "run_name", "status", "user_id", "artifact_uri",
                                    "start_time", "end_time"]))
        if key.endswith("_time"):
            op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
            offset = draw(st.one_of(st.integers(-1, 9), st.sampled_from([0.5, 2.5, -1e9])))
            return C(entity, key, op, float(BASE_MS + offset))
        ops = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]
    elif entity == "datasets":
        key = draw(st.sampled_from(["name", "digest", "context"]))
        ops = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]
    else:
        key = draw(st.sampled_from(KEYS + ["absent"]))
        ops = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    op = draw(st.sampled_from(ops))
    if op.startswith("IS"):
        return C(entity, key, op)
    strings = texts
    if key == "run_id":
        strings = st.one_of(st.sampled_from(RUN_IDS), texts)
    elif key == "status":
        strings = st.one_of(st.sampled_from(STATUSES), texts)
    if op in ("IN", "NOT IN"):
        return C(entity, key, op, tuple(draw(st.lists(strings, min_size=1, max_size=3))))
    if op in ("LIKE", "ILIKE"):
        return C(entity, key, op, like_pattern(draw, draw(strings)))
    return C(entity, key, op, draw(strings))


def like_pattern(draw: st.DrawFn, text: str) -> str:
    """A LIKE pattern that often matches ``text``: some characters become _ or %,
    letters may change case, % may be added around."""
    out = []
    for ch in text:
        choice = draw(st.sampled_from(["keep"] * 5 + ["_", "%", "case"]))
        swapped = ch.swapcase() if len(ch.swapcase()) == 1 else ch
        out.append(ch if choice == "keep" else swapped if choice == "case" else choice)
    return "".join(out).join(draw(st.sampled_from([("", ""), ("%", ""), ("", "%"),
                                                    ("%", "%")])))


def _and(items: list) -> And:
    return And(tuple(items))


def _or(items: list) -> Or:
    return Or(tuple(items))


def _compounds(children: st.SearchStrategy) -> st.SearchStrategy:
    items = st.lists(children, min_size=2, max_size=3)
    return st.one_of(items.map(_and), items.map(_or))


trees = st.recursive(comparisons(), _compounds, max_leaves=6)


@st.composite
def worlds_and_probes(draw: st.DrawFn, count: int = 8) -> tuple[World, list[Comparison]]:
    """A world of at least one run, and single comparisons aimed at what its runs hold."""
    world = draw(worlds(min_runs=1))
    return world, [probe(draw, world) for _ in range(count)]


def probe(draw: st.DrawFn, world: World) -> Comparison:
    """A comparison against a value some run has: equal to it, a neighbour of it, a LIKE
    pattern for it, a list holding it; or against a key it lacks."""
    run = draw(st.sampled_from(world.runs))
    entity = draw(st.sampled_from(["metrics", "params", "tags", "attributes", "datasets"]))
    if entity in ("metrics", "params", "tags"):
        held = getattr(run, entity)
        key = draw(st.sampled_from(sorted(held) + ["absent"]))
        target = held.get(key)
    elif entity == "attributes":
        key = draw(st.sampled_from(["run_id", "run_name", "status", "user_id", "artifact_uri",
                                    "start_time", "end_time"]))
        target = getattr(run, key, None)
        if key.endswith("_time"):
            micros = run.start_us if key == "start_time" else run.end_us
            target = None if micros is None else float(epoch_ms(micros))
    else:
        key = draw(st.sampled_from(["name", "digest", "context"]))
        held_inputs = [i[("name", "digest", "context").index(key)] for i in run.inputs]
        target = draw(st.sampled_from(held_inputs)) if held_inputs else None
    if entity == "metrics" or key.endswith("_time"):
        ops = ["=", "!=", "<", "<=", ">", ">="] + (["IS NULL", "IS NOT NULL"] * (
            entity == "metrics"))
        op = draw(st.sampled_from(ops))
        if op.startswith("IS"):
            return C(entity, key, op)
        value = draw(numbers) if target is None or math.isnan(target) else target + draw(
            st.sampled_from([0, 0, 0, -1, 1, 0.5, -0.5]))
        return C(entity, key, op, value)
    ops = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"]
    if entity in ("params", "tags"):
        ops += ["IS NULL", "IS NOT NULL"]
    op = draw(st.sampled_from(ops))
    if op.startswith("IS"):
        return C(entity, key, op)
    base = draw(texts) if target is None else target
    if op in ("IN", "NOT IN"):
        return C(entity, key, op, (base, *draw(st.lists(texts, max_size=2))))
    if op in ("LIKE", "ILIKE"):
        return C(entity, key, op, like_pattern(draw, base))
    return C(entity, key, op, base.swapcase() if draw(st.integers(0, 4)) == 0 else base)


# --------------------------------------------------------------------------- this file's renderer

ENTITY_SPELLINGS = {
    "metrics": ["metrics", "metric", "Metrics"], "params": ["params", "param", "parameter",
                                                            "parameters", "PARAMS"],
    "tags": ["tags", "tag"], "attributes": ["attributes", "attribute", "attr", "run", ""],
    "datasets": ["datasets", "dataset"],
}
SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/:]*")


def _backticked(text: str) -> str:
    return "`" + text.replace("`", "``") + "`"


def _quoted(text: str, quote: str) -> str:
    return quote + text.replace(quote, quote * 2) + quote


def render_identifier(rnd: random.Random, entity: str, key: str) -> str:
    prefix = rnd.choice(ENTITY_SPELLINGS[entity])
    if entity == "attributes":
        key = rnd.choice({"start_time": ["start_time", "created", "Created"],
                          "run_name": ["run_name", "run name", "Run Name"]}.get(key, [key]))
    styles = ["`", '"'] + (["bare", "bare"] if SIMPLE_KEY.fullmatch(key) else [])
    if prefix:
        styles.append("'")
    style = rnd.choice(styles)
    rendered = key if style == "bare" else _quoted(key, style)
    if not prefix:
        return rendered
    if rnd.random() < 1 / 6:
        prefix = rnd.choice([_backticked(prefix), _quoted(prefix, '"')])
    return f"{prefix}.{rendered}"


def render_number(rnd: random.Random, value: float) -> str:
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    forms = [repr(value)]
    if value.is_integer() and abs(value) < 1e15:
        whole = int(value)
        forms += [str(whole), f"{whole}e0", f"{whole}.0"]
        if math.copysign(1.0, value) < 0 and whole == 0:
            forms = ["-0", "-0.0", "-0e0"]
    if value > 0:
        forms.append("+" + repr(value))
    return rnd.choice(forms)


def render_keyword(rnd: random.Random, word: str) -> str:
    spelling = rnd.choice([word, word.lower(), word.capitalize()])
    return spelling.replace(" ", rnd.choice([" ", "  ", "\t"]))


def render(rnd: random.Random, node: object) -> str:
    """Filter text for ``node``: random entity spellings, quoting, keyword case, blanks."""
    blank = rnd.choice([" ", " ", "  ", "\n", "\t "])
    if isinstance(node, (And, Or)):
        word = render_keyword(rnd, "AND" if isinstance(node, And) else "OR")
        parts = []
        for item in node.items:
            text = render(rnd, item)
            if isinstance(item, (And, Or)) and (isinstance(node, And) or isinstance(item, Or)
                                                or rnd.random() < 0.5):
                text = f"({text})"
            parts.append(text)
        text = f"{blank}{word}{blank}".join(parts)
    else:
        assert isinstance(node, Comparison)
        subject = render_identifier(rnd, node.entity, node.key)
        if node.op in ("=", "!=", "<", "<=", ">", ">="):
            op = rnd.choice(["", " ", "  "]) + node.op + rnd.choice(["", " ", "  "])
        else:
            op = f" {render_keyword(rnd, node.op)} "
        if isinstance(node.value, float):
            value = render_number(rnd, node.value)
        elif isinstance(node.value, str):
            value = _quoted(node.value, rnd.choice(["'", '"']))
        elif isinstance(node.value, tuple):
            comma = rnd.choice([",", ", ", " , "])
            value = "(" + comma.join(_quoted(v, rnd.choice(["'", '"'])) for v in node.value) + ")"
        else:
            value = ""
        text = f"{subject}{op}{value}".rstrip()
    if rnd.random() < 1 / 8:
        text = f"({blank}{text}{blank})"
    return text


def render_order_key(rnd: random.Random, key: OrderKey) -> str:
    subject = render_identifier(rnd, key.entity, key.key)
    if key.ascending and rnd.random() < 0.5:
        return subject
    return f"{subject} {render_keyword(rnd, 'ASC' if key.ascending else 'DESC')}"


ORDER_KEYS = ([OrderKey("metrics", k) for k in METRIC_KEYS]
              + [OrderKey("params", k) for k in KEYS[:4]] + [OrderKey("tags", k) for k in KEYS[:4]]
              + [OrderKey("attributes", k) for k in ("run_id", "run_name", "status", "user_id",
                                                     "artifact_uri", "start_time", "end_time")])


# --------------------------------------------------------------------------- properties

FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_ids(con: duckdb.DuckDBPyConnection, query: str, params: list) -> list[str]:
    return [row[0] for row in con.execute(query, params).fetchall()]


def selections(con: duckdb.DuckDBPyConnection, trees: list,
               wide: dict[tuple[str, str], str] | None = None) -> list[set[str]]:
    """The runs each filter selects, all filters in one query (planning dominates here);
    with ``wide``, compiled for and run over ``wide_runs`` (see load_wide).

    ``(expr) IS TRUE`` keeps exactly the rows ``WHERE expr`` keeps."""
    compiled = [compile_filter(tree, WIDE if wide is not None else None, wide=wide)
                for tree in trees]
    columns = ", ".join(f"({c.sql}) IS TRUE" for c in compiled)
    table = "wide_runs" if wide is not None else "runs"
    rows = con.execute(f"SELECT r.run_id, {columns} FROM {table} AS r",
                       [p for c in compiled for p in c.params]).fetchall()
    return [{row[0] for row in rows if row[i + 1]} for i in range(len(trees))]


@FAST
@given(world=worlds(), filters=st.lists(trees, min_size=1, max_size=6),
       style=st.randoms(use_true_random=False))
def test_filters_select_what_the_oracle_selects(
        world: World, filters: list, style: random.Random) -> None:
    con = load(world)
    wide = load_wide(world, con)
    texts = [render(style, tree) for tree in filters]
    parsed = [parse_filter(text) for text in texts]
    assert parsed == filters, texts
    for layout in (None, wide):
        for text, tree, got in zip(texts, parsed, selections(con, parsed, layout)):
            assert got == {r.run_id for r in world.runs if matches(r, tree)}, (text, tree, layout)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (len(world.runs),)


@FAST
@given(case=worlds_and_probes(), style=st.randoms(use_true_random=False))
def test_comparisons_aimed_at_the_data_select_what_the_oracle_selects(
        case: tuple[World, list[Comparison]], style: random.Random) -> None:
    world, probes = case
    texts = [render(style, tree) for tree in probes]
    parsed = [parse_filter(text) for text in texts]
    assert parsed == probes, texts
    con = load(world)
    wide = load_wide(world, con)
    for layout in (None, wide):
        for text, tree, got in zip(texts, parsed, selections(con, parsed, layout)):
            assert got == {r.run_id for r in world.runs if matches(r, tree)}, (text, tree, layout)


@FAST
@given(world=worlds(),
       keys=st.lists(st.tuples(st.one_of(st.sampled_from(ORDER_KEYS[:len(METRIC_KEYS)]),
                                         st.sampled_from(ORDER_KEYS)), st.booleans()),
                     max_size=3,
                     unique_by=lambda pair: pair[0]),
       tree=st.one_of(st.none(), st.none(), trees), limit=st.none() | st.integers(0, 4),
       offset=st.integers(0, 3),
       style=st.randoms(use_true_random=False))
def test_order_by_sorts_as_the_oracle_sorts(
        world: World, keys: list, tree: object, limit: int | None, offset: int,
        style: random.Random) -> None:
    con = load(world)
    wide = load_wide(world, con)
    order = [OrderKey(key.entity, key.key, ascending) for key, ascending in keys]
    clauses = [render_order_key(style, key) for key in order]
    selected = [r for r in world.runs if tree is None or matches(r, tree)]
    expected = oracle_order(selected, order)
    for relations, layout in ((None, None), (WIDE, wide)):
        query = compile_search(tree, clauses, relations, limit=limit, offset=offset, wide=layout)
        got = run_ids(con, query.sql, query.params)
        assert got == expected[offset:None if limit is None else offset + limit], (clauses, query)


@settings(max_examples=100, deadline=None)
@given(tree=trees)
def test_format_filter_round_trips(tree: object) -> None:
    assert parse_filter(format_filter(tree)) == tree


def test_injection_strings_are_only_ever_values() -> None:
    evil = "'; DROP TABLE runs; --"
    world = World([Run("r1", evil, "FINISHED", evil, BASE_US, None, evil,
                       metrics={evil: 1.0}, params={evil: evil}, tags={"t": evil},
                       inputs=[(evil, evil, evil)]),
                   Run("r2", "ok", "FAILED", "u", BASE_US + 5000, None, "a",
                       params={"p": "x"})])
    con = load(world)
    filters = [
        f"params.{_backticked(evil)} = {quote_string(evil)}",
        f"tags.t LIKE {quote_string(evil + '%')} OR run_name = {quote_string(evil)}",
        f"metrics.{_quoted(evil, chr(34))} >= 1 AND datasets.name IN ({quote_string(evil)})",
        f"params.p NOT IN ({quote_string(evil)}) or user_id != {quote_string(evil)}",
    ]
    wide = load_wide(world, con)
    for text in filters:
        tree = parse_filter(text)
        for relations, layout in ((None, None), (WIDE, wide)):
            query = compile_search(tree, [f"params.{_backticked(evil)} DESC"], relations,
                                   wide=layout)
            got = run_ids(con, query.sql, query.params)
            assert sorted(got) == sorted(r.run_id for r in world.runs if matches(r, tree))
            assert evil not in query.sql
    for table in ("runs", "params", "tags", "latest_metrics", "inputs"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 1


def test_relations_can_be_swapped_for_other_tables() -> None:
    world = World([Run("r1", "a", "FINISHED", "u", BASE_US, None, "s3://x",
                       metrics={"m": 0.5}, params={"p": "a"}, tags={"t": "x"},
                       inputs=[("wine", "d1", "train")]),
                   Run("r2", "b", "FINISHED", "u", BASE_US + 1000, None, "s3://y",
                       metrics={"m": 2.0}, params={"p": "a"})])
    con = load(world, duckdb.connect())
    for name in ("latest_metrics", "params", "tags", "inputs", "runs"):
        con.execute(f"CREATE TABLE mat_{name} AS SELECT * FROM {name}; DELETE FROM {name}")
    relations = Relations(metrics="mat_latest_metrics", params="mat_params", tags="mat_tags",
                          inputs="mat_inputs", runs="mat_runs")
    query = compile_search("metrics.m < 1 and params.p = 'a' and datasets.context = 'train'"
                           " and tags.t IS NOT NULL", ["metrics.m DESC"], relations)
    assert run_ids(con, query.sql, query.params) == ["r1"]
    query = compile_search(None, ["metrics.m DESC"], relations)
    assert run_ids(con, query.sql, query.params) == ["r2", "r1"]


def test_nan_inf_and_missing_metrics() -> None:
    world = World([Run(f"r{i}", None, "FINISHED", "u", BASE_US + i, None, "a",
                       metrics={} if v is None else {"m": v})
                   for i, v in enumerate([NAN, INF, -INF, 1.0, None, -0.0])])
    con = load(world)

    def select(text: str, order: list[str] | None = None) -> list[str]:
        query = compile_search(text, order)
        return run_ids(con, query.sql, query.params)

    assert sorted(select("metrics.m < 1e999")) == ["r2", "r3", "r5"]
    assert sorted(select("metrics.m > -1e999")) == ["r1", "r3", "r5"]
    assert sorted(select("metrics.m != 1")) == ["r0", "r1", "r2", "r5"]
    assert select("metrics.m = 0") == ["r5"]
    assert select("metrics.m IS NULL") == ["r4"]
    assert select(None, ["metrics.m"]) == ["r2", "r5", "r3", "r1", "r0", "r4"]
    assert select(None, ["metrics.m DESC"]) == ["r1", "r3", "r5", "r2", "r0", "r4"]


def test_times_compare_as_the_epoch_milliseconds_lakeml_reports() -> None:
    """DuckDB's epoch_ms rounds to the nearest millisecond, as lakeml's run reads do."""
    world = World([Run("r1", None, "FINISHED", "u", BASE_US + 499, BASE_US + 1000, "a"),
                   Run("r2", None, "RUNNING", "u", BASE_US + 500, None, "a")])
    con = load(world)

    def select(text: str) -> list[str]:
        query = compile_search(text)
        return sorted(run_ids(con, query.sql, query.params))

    assert select(f"start_time = {BASE_MS}") == ["r1"]
    assert select(f"attributes.start_time >= {BASE_MS + 1}") == ["r2"]
    assert select(f"end_time > {BASE_MS}") == ["r1"]
    assert select(f"end_time != {BASE_MS + 1}") == []
    assert select(f"created < {BASE_MS}.5") == ["r1"]


def test_wide_columns_must_be_generated_names() -> None:
    with pytest.raises(InvalidArgument, match="generated"):
        compile_filter("params.p = 'a'", WIDE, wide={("params", "p"): "p; DROP TABLE runs"})
    query = compile_filter("params.gone = 'a' or params.gone IS NULL", WIDE, wide={})
    assert "NULL::VARCHAR" in query.sql and query.params == ["a"]
