"""Real clients other than psycopg: Debian's psql (meta-commands), the PostgreSQL JDBC
driver from a Java program (as BI tools connect), SQLAlchemy and pandas.read_sql."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import lakeml
from tests.sqlserver.conftest import PASSWORD, RUNS_PER_EXPERIMENT, USER, require_tool
from tests.sqlserver.jdbc_driver import jar_path

HERE = Path(__file__).resolve().parent


def psql(sql_server, *commands: str, flags: tuple[str, ...] = ()) -> str:
    tool = require_tool(shutil.which("psql") or "/usr/bin/psql", "psql (postgresql-client)")
    args = [tool, "-X", "-v", "ON_ERROR_STOP=1", "-h", sql_server.host, "-p",
            str(sql_server.port), "-U", USER, "-d", "lakeml", *flags]
    for command in commands:
        args += ["-c", command]
    env = {**os.environ, "PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "10"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_psql_lists_the_views_with_dt(sql_server) -> None:
    out = psql(sql_server, r"\dt")
    listed = {line.split("|")[1].strip() for line in out.splitlines() if line.count("|") == 3}
    assert {"runs", "runs_wide", "experiments", "latest_metrics", "model_versions"} <= listed
    assert not any(name.startswith("empty_") for name in listed)


def test_psql_describes_runs(sql_server) -> None:
    out = psql(sql_server, r"\d runs")
    assert 'View "main.runs"' in out
    columns = {line.split("|")[0].strip(): line.split("|")[1].strip()
               for line in out.splitlines() if line.count("|") >= 4}
    assert columns["run_id"] == "character varying"
    assert columns["start_time"] == "timestamp with time zone"
    assert set(columns) >= {"run_name", "status", "experiment_id", "end_time"}


def test_psql_describes_runs_wide_in_full_with_d_plus(sql_server) -> None:
    out = psql(sql_server, r"\d+ runs_wide", flags=("-A",))
    lines = out.splitlines()
    header = lines[1].split("|")
    assert header == ["Column", "Type", "Collation", "Nullable", "Default", "Storage",
                      "Description"]
    rows = {line.split("|")[0]: line.split("|") for line in lines[2:] if line.count("|") == 6}
    assert (rows["run_id"][1], rows["run_id"][5]) == ("character varying", "extended")
    assert (rows["start_time"][1], rows["start_time"][5]) == ("timestamp with time zone",
                                                              "plain")
    assert {"experiment_name", "metrics", "params", "tags"} <= set(rows)
    definition = out.split("View definition:")[1]
    assert "CREATE VIEW runs_wide" in definition and "experiment_name" in definition


def test_psql_lists_the_views_with_sizes_dt_plus(sql_server) -> None:
    out = psql(sql_server, r"\dt+", flags=("-A", "-t"))
    rows = {line.split("|")[1]: line.split("|") for line in out.splitlines()}
    # schema|name|type|owner|persistence|access method|size|description
    assert rows["runs"][2:7] == ["view", "lakeml", "permanent", "", "0 bytes"]
    assert {"runs_wide", "latest_metrics", "model_versions"} <= set(rows)


def test_psql_runs_a_query(sql_server) -> None:
    out = psql(sql_server, "SELECT experiment_name, count(*) FROM runs_wide GROUP BY 1 "
               "ORDER BY 1", flags=("-A", "-t"))
    assert out.split() == [f"churn|{RUNS_PER_EXPERIMENT}", f"fraud|{RUNS_PER_EXPERIMENT}"]


def test_jdbc_driver_as_a_bi_tool_uses_it(sql_server, tmp_path: Path) -> None:
    javac = require_tool(shutil.which("javac"), "javac (Java 17)")
    java = require_tool(shutil.which("java"), "java (Java 17)")
    jar = require_tool(str(jar_path()), f"the PostgreSQL JDBC driver ({jar_path()})")
    subprocess.run([javac, "-d", str(tmp_path), "-cp", jar, str(HERE / "JdbcProbe.java")],
                   check=True, capture_output=True, timeout=120)
    url = f"jdbc:postgresql://{sql_server.host}:{sql_server.port}/lakeml"
    done = subprocess.run([java, "-cp", f"{tmp_path}{os.pathsep}{jar}", "JdbcProbe", url, USER,
                           PASSWORD], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    out = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert out["product"] == "PostgreSQL 16.0"
    tables = dict(item.split(":") for item in out["tables"].split(","))
    assert tables["runs"] == "VIEW" and tables["runs_wide"] == "VIEW"
    columns = dict(item.split(":") for item in out["columns"].split(","))
    assert columns["run_id"] == "varchar" and columns["start_time"] == "timestamptz"
    want = lakeml.Client(sql_server.store).sql(
        "SELECT run_name, value FROM runs JOIN latest_metrics USING (run_id) "
        "WHERE key = 'rmse' AND value < 0.6 ORDER BY value, run_name").fetchall()
    expected = ",".join(f"{name}={value}" for name, value in want)
    assert len(want) == 10
    for round_ in range(7):  # past the driver's prepareThreshold: a named statement
        assert out[f"prepared{round_}"] == expected
    assert out["big"] == f"100000:{sum(range(100000))}"


def test_sqlalchemy_and_pandas_read_sql(sql_server) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(f"postgresql+psycopg://{USER}:{PASSWORD.replace(' ', '%20')}"
                              f"@{sql_server.host}:{sql_server.port}/lakeml")
    try:
        query = ("SELECT run_name, experiment_name, start_time, metrics['rmse'] AS rmse "
                 "FROM runs_wide ORDER BY run_name")
        frame = pd.read_sql(query, engine)
        want = lakeml.Client(sql_server.store).sql(query).df()
        assert list(frame.columns) == ["run_name", "experiment_name", "start_time", "rmse"]
        assert frame["run_name"].tolist() == want["run_name"].tolist()
        assert frame["rmse"].tolist() == pytest.approx(want["rmse"].tolist())
        assert str(frame["start_time"].dt.tz) == "UTC"
        with engine.connect() as conn:
            got = conn.execute(sa.text("SELECT count(*) FROM runs WHERE run_name LIKE :p"),
                               {"p": "churn-%"}).scalar()
            assert got == RUNS_PER_EXPERIMENT
            inspector = sa.inspect(conn)
            assert {"runs", "runs_wide", "params"} <= set(inspector.get_view_names())
            columns = {c["name"]: c["type"] for c in inspector.get_columns("runs")}
            assert isinstance(columns["start_time"], sa.TIMESTAMP)
            assert columns["start_time"].timezone
            runs = sa.Table("runs", sa.MetaData(), autoload_with=conn)
            picked = conn.execute(sa.select(runs.c.run_name).where(
                runs.c.run_name == "fraud-2")).all()
            assert picked == [("fraud-2",)]
    finally:
        engine.dispose()


def test_psql_lists_the_database_and_schemas(sql_server) -> None:
    databases = psql(sql_server, r"\l", flags=("-A", "-t"))
    assert databases.split("|")[:3] == ["lakeml", "lakeml", "UTF8"]
    assert psql(sql_server, r"\dn", flags=("-A", "-t")).split() == ["main|lakeml"]
