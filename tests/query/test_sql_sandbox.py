"""lakeml.sql is a read API: one query, the store's tables only, nothing that lasts."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import lakeml
from lakeml.cli import main
from lakeml.errors import InvalidArgument
from lakeml.query import sqlfiles
from lakeml.query.sandbox import check_read_only


@pytest.fixture
def logged(store_uri: str) -> str:
    """A store with one finished run (param p=1, metric m=2.0); returns the run id."""
    with lakeml.start_run(run_name="kept") as run:
        lakeml.log_param("p", "1")
        lakeml.log_metric("m", 2.0)
    return run.info.run_id


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the store holding a csv, a parquet and a text file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_text("user,password\nalice,hunter2\n")
    (folder / "secret.txt").write_text("top secret\n")
    duckdb.sql(f"COPY (SELECT 'hunter2' AS password) TO '{folder / 'secret.parquet'}'")
    return folder


def _refused(query: str, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        lakeml.sql(query).fetchall()


def test_files_outside_the_store_cannot_be_read(logged: str, outside: Path) -> None:
    for query in (f"SELECT * FROM read_csv('{outside}/secret.csv')",
                  f"SELECT * FROM '{outside}/secret.csv'",
                  f"SELECT * FROM read_text('{outside}/secret.txt')",
                  f"SELECT * FROM read_blob('{outside}/secret.txt')",
                  f"SELECT * FROM read_parquet('{outside}/secret.parquet')",
                  f"SELECT * FROM glob('{outside}/*')",
                  "SELECT * FROM read_csv('/etc/passwd')",
                  "SELECT * FROM read_csv('https://example.com/data.csv')"):
        _refused(query, "may read only the store's tables.*(Permission|disabled)")


def test_the_stores_own_tables_stay_readable(logged: str, store_uri: str) -> None:
    assert lakeml.sql("SELECT key, value FROM latest_metrics").fetchall() == [("m", 2.0)]
    assert lakeml.sql(f"SELECT count(*) > 0 FROM glob('{store_uri}/tables/runs/*.parquet')"
                      ).fetchall() == [(True,)]
    # the queries that read: WITH, FROM-first, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN
    assert lakeml.sql("WITH r AS (SELECT run_name FROM runs) SELECT * FROM r").fetchall() == [
        ("kept",)]
    assert lakeml.sql("FROM params SELECT key, value").fetchall() == [("p", "1")]
    assert "run_id" in {row[0] for row in lakeml.sql("DESCRIBE runs").fetchall()}
    assert ("runs",) in lakeml.sql("SHOW TABLES").fetchall()
    assert len(lakeml.sql("SUMMARIZE latest_metrics").fetchall()) == 5
    assert lakeml.sql("EXPLAIN ANALYZE SELECT count(*) FROM runs").fetchall()


@pytest.mark.parametrize(("query", "kind"), [
    ("COPY (SELECT * FROM runs) TO '{out}/copy.csv'", "COPY"),
    ("EXPORT DATABASE '{out}/export'", "EXPORT"),
    ("ATTACH ':memory:' AS other", "ATTACH"),
    ("ATTACH '{out}/other.duckdb' AS other", "ATTACH"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("SET enable_external_access = true", "SET"),
    ("RESET lock_configuration", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("CALL pragma_version()", "CALL"),
    ("CREATE TEMP TABLE t AS SELECT 1", "CREATE"),
    ("CREATE TEMP VIEW t AS SELECT 1", "CREATE"),
    ("CREATE OR REPLACE VIEW runs AS SELECT 1 AS x", "CREATE"),
    ("DROP VIEW runs", "DROP"),
    ("CREATE TABLE empty_runs2 AS SELECT 1", "CREATE"),
    ("INSERT INTO empty_runs (run_id) VALUES ('x')", "INSERT"),
    ("SET VARIABLE x = 1", "SET"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}/explained.csv'", "COPY"),
    ("CHECKPOINT", "CALL"),
])
def test_statements_that_change_anything_are_refused(logged: str, tmp_path: Path,
                                                    query: str, kind: str) -> None:
    out = tmp_path / "written"
    out.mkdir()
    text = query.format(out=out)
    with pytest.raises(InvalidArgument, match=f"read-only and refuses ({kind}) statements") as e:
        lakeml.sql(text)
    assert text[:20] in str(e.value)  # the message names the statement
    assert list(out.iterdir()) == []
    assert lakeml.sql("SELECT run_name FROM runs").fetchall() == [("kept",)]


def test_one_statement_per_call(logged: str) -> None:
    _refused("SELECT 1; CREATE OR REPLACE VIEW runs AS SELECT 1 AS x", "one query.*2 statements")
    _refused("SELECT 1; SELECT 2", "one query at a time")
    _refused("  -- only a comment", "no statement")
    assert lakeml.sql("SELECT 1;").fetchall() == [(1,)]  # a trailing semicolon is one


def test_no_call_changes_what_other_reads_see(logged: str) -> None:
    """The issue's case: a redefined runs view broke get_run and search_runs."""
    client = lakeml.Client()
    with pytest.raises(InvalidArgument):
        lakeml.sql("CREATE OR REPLACE VIEW runs AS SELECT 'x' AS nothing")
    assert client.get_run(logged).info.run_name == "kept"
    assert [r.info.run_id for r in client.search_runs(
        [client.get_run(logged).info.experiment_id], "params.p = '1'")] == [logged]
    assert lakeml.sql("SELECT count(*) FROM runs").fetchall() == [(1,)]


def test_the_database_itself_is_locked(logged: str, outside: Path) -> None:
    """Below the statement check: SQL sent through a relation's own connection (which
    skips it) still cannot reach outside files or unlock the configuration."""
    rel = lakeml.sql("SELECT 1 AS one")
    with pytest.raises(duckdb.PermissionException):
        rel.query("one", f"SELECT * FROM read_text('{outside}/secret.txt')").fetchall()
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        rel.query("one", "SET enable_external_access = true")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        rel.query("one", "SET allowed_directories = ['/']")
    with pytest.raises(duckdb.Error):
        rel.query("one", "LOAD httpfs")


def test_reads_of_the_past_are_sandboxed_too(logged: str, outside: Path) -> None:
    pinned = lakeml.store_versions()
    assert lakeml.sql("SELECT count(*) FROM runs", as_of=pinned).fetchall() == [(1,)]
    with pytest.raises(InvalidArgument, match="may read only the store's tables"):
        lakeml.sql(f"SELECT * FROM read_text('{outside}/secret.txt')", as_of=pinned)
    with pytest.raises(InvalidArgument, match="refuses CREATE"):
        lakeml.sql("CREATE VIEW v AS SELECT 1", as_of=pinned)


def test_lakemls_own_sql_files_are_accepted() -> None:
    con = duckdb.connect()
    texts = [sqlfiles.query(p.stem) for p in (sqlfiles.sql_root() / "queries").glob("*.sql")]
    texts += [text for _, text in sqlfiles.summaries()]
    assert len(texts) >= 4
    for text in texts:
        check_read_only(con, text)


def test_cli_refuses_and_names_the_statement(logged: str, store_uri: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.csv"
    assert main(["sql", f"COPY (SELECT 1) TO '{target}'", "--store", store_uri]) == 1
    assert "refuses COPY statements" in capsys.readouterr().err and not target.exists()
    assert main(["sql", "SELECT * FROM read_csv('/etc/passwd')", "--store", store_uri]) == 1
    assert "may read only the store's tables" in capsys.readouterr().err
    # --output writes the file the user named, outside the store
    assert main(["sql", "SELECT run_name FROM runs", "--store", store_uri,
                 "--output", str(target)]) == 0
    assert target.read_text().splitlines() == ["run_name", "kept"]


@pytest.mark.parametrize("limit", ["-5", "0", "ten", "1.5"])
def test_cli_limit_must_be_a_positive_whole_number(store_uri: str, limit: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sql", "SELECT 1", "--store", store_uri, "--limit", limit])
    assert exit_.value.code == 2
    assert f"--limit: {limit!r} is not a whole number >= 1" in capsys.readouterr().err


def test_cli_limit_cuts_the_rows(logged: str, store_uri: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sql", "SELECT * FROM range(5)", "--store", store_uri, "--limit", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "range", "-----", "0", "1", "(first 2 rows; use --limit or --output for more)"]
