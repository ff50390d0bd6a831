"""The jobs/ scripts on small stores: in the shared session, and one through spark-submit."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

import lakeml
import lakeml.spark
import lakeml.spark.jars
from lakeml.query import sqlfiles
from lakeml.spark.summaries import summary_params

from .conftest import build_store, normalized, rounded

ROOT = Path(__file__).resolve().parents[2]


def job(name: str):
    spec = importlib.util.spec_from_file_location(f"job_{name}", ROOT / "jobs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_commits(uri: str, commits: int) -> str:
    """A run whose metrics arrive in ``commits`` separate commits."""
    client = lakeml.Client(uri)
    run = client.create_run(client.create_experiment("small"))
    for step in range(commits):
        client.log_metric(run.info.run_id, "m", float(step), step=step)
        client.flush()
    return run.info.run_id


def table_rows(uri: str) -> dict[str, list]:
    client = lakeml.Client(uri)
    return {name: normalized(client.sql(f"SELECT * FROM lake_{name}").fetchall())
            for name in ("runs", "metrics", "metric_latest", "params", "tags")}


def test_maintain_compacts_checkpoints_and_vacuums_without_changing_data(spark, tmp_path,
                                                                          capsys):
    uri = str(tmp_path / "lake")
    build_store(uri)
    small_commits(uri, 25)
    before = table_rows(uri)
    store = lakeml.Client(uri).store
    files_before = {s.table: s.files for s in store.maintenance.status()}
    assert files_before["metrics"] >= 25

    tables = ["metrics", "runs", "tags"]  # every table would only repeat the same steps
    argv = ["--store", uri, "--retention-hours", "0"] + [f"--table={t}" for t in tables]
    assert job("maintain").main(argv, spark=spark) == 0
    out = capsys.readouterr().out
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert sorted(lines) == sorted(tables)
    assert f"data files {files_before['metrics']} -> 1;" in lines["metrics"]
    replay = lines["metrics"].split("commits to replay ")[1].split(";")[0]
    assert replay.endswith("-> 0") and int(replay.split()[0]) > 0  # a checkpoint covers it
    vacuumed = int(lines["metrics"].split("vacuumed ")[1].split()[0])
    assert vacuumed >= files_before["metrics"]  # the compacted small files are gone
    assert len(list(Path(uri, "tables", "metrics").glob("*.parquet"))) == 1
    assert table_rows(uri) == before  # same rows, and they still read


def test_maintain_keeps_a_week_by_default(spark, tmp_path, capsys):
    uri = str(tmp_path / "lake")
    small_commits(uri, 5)
    job("maintain").main(["--store", uri, "--table", "metrics"], spark=spark)
    line = capsys.readouterr().out.strip()
    assert line.startswith("metrics: data files 5 -> 1;") and "vacuumed 0 file(s)" in line
    assert len(list(Path(uri, "tables", "metrics").glob("*.parquet"))) == 6


def view_table_rows(uri: str, name: str) -> list:
    """A view table under <store>/views as plain DuckDB reads its data files."""
    files = DeltaTable(f"{uri}/views/{name}").file_uris()
    return normalized(duckdb.sql(f"SELECT * FROM read_parquet({files!r})").fetchall())


def test_maintain_refreshes_the_view_tables_incrementally_first(spark, tmp_path, capsys):
    from lakeml.query.materialized import TARGETS, materialize

    uri = str(tmp_path / "lake")
    build_store(uri)
    client = lakeml.Client(uri)
    materialize(client.store)
    new = small_commits(uri, 3)  # a new run and experiment in small files
    for value in ("a", "b", "c"):
        client.set_tag(new, "stage", value)
        client.flush()
    job("maintain").main(["--store", uri, "--views", "--table", "tags", "--table", "metrics"],
                         spark=spark)
    out = capsys.readouterr().out.splitlines()
    views = dict(line.split(": ", 1) for line in out if line.startswith("views/"))
    # the refresh came first, replacing only the new run's rows
    assert [line.split(":")[0] for line in out] == \
        [f"views/{n}" for n in TARGETS] + ["tags", "metrics"]
    assert views["views/runs_wide"] == "incremental; 1 row(s) written"
    assert views["views/latest_metrics"] == "incremental; 1 row(s) written"
    assert views["views/params"].startswith("unchanged")
    assert views["views/tags"].startswith("incremental")
    for name in TARGETS:
        assert view_table_rows(uri, name) == normalized(
            client.sql(f"SELECT * FROM {name}").fetchall()), name
    # the OPTIMIZE after it changed no row: the next run writes nothing
    assert " -> 1;" in out[-2]  # tags: compacted into one file
    job("maintain").main(["--store", uri, "--table", "tags"], spark=spark)  # no views asked
    assert not [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("views/")]
    job("maintain").main(["--store", uri, "--views", "--table", "tags"], spark=spark)
    again = [line for line in capsys.readouterr().out.splitlines() if line.startswith("views/")]
    assert again == [f"views/{n}: unchanged; 0 row(s) written" for n in TARGETS]


def test_leaderboard_tables_match_the_same_sql_in_duckdb(spark, sample_store, tmp_path,
                                                          capsys):
    uri, experiments = sample_store
    out = tmp_path / "summaries"
    args = ["--store", uri, "--output", str(out), "--top", "2", "--maximize", "accuracy"]
    assert job("leaderboard").main(args, spark=spark) == 0
    printed = capsys.readouterr().out
    client = lakeml.Client(uri)
    for name, text in sqlfiles.summaries():
        assert f"{name}: " in printed
        expected = client.sql(text, summary_params(name, top=2, maximize=["accuracy"]) or None)
        files = DeltaTable(str(out / name)).file_uris()
        got = duckdb.sql(f"SELECT * FROM read_parquet({files!r})").fetchall()
        want = expected.fetchall()
        assert want, name
        if name == "metric_by_param":
            want, got = rounded(want), rounded(got)
        assert normalized(got) == normalized(want), name
    # the job's output lies outside the store: lakeml.sql may not read it, plain DuckDB may
    best = duckdb.execute(f"SELECT run_name, rank FROM read_parquet("
                          f"{DeltaTable(str(out / 'best_runs')).file_uris()!r}) "
                          "WHERE metric = 'accuracy' AND experiment_id = ? ORDER BY rank",
                          [experiments["grid"]]).fetchall()
    assert best == [("trial-11", 1), ("trial-10", 2)]  # trial-9 (higher) was deleted
    names = duckdb.execute(f"SELECT DISTINCT experiment_id, experiment_name FROM read_parquet("
                           f"{DeltaTable(str(out / 'runs_by_day')).file_uris()!r})").fetchall()
    assert sorted(names) == sorted((i, n) for n, i in experiments.items())


def test_spark_reads_the_materialized_view_tables(spark, tmp_path):
    """`lakeml views materialize` writes Delta that Spark reads as it is: no lakeml views,
    maps and experiment names included."""
    from lakeml.query.materialized import TARGETS, materialize

    uri = str(tmp_path / "lake")
    build_store(uri)
    client = lakeml.Client(uri)
    materialize(client.store)
    for name in TARGETS:
        frame = spark.read.format("delta").load(f"{uri}/views/{name}")
        assert frame.count() == client.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0]
    wide = spark.read.format("delta").load(f"{uri}/views/runs_wide")
    got = [tuple(r) for r in wide.selectExpr(
        "run_id", "experiment_name", "metrics['accuracy']", "params").collect()]
    want = client.sql("SELECT run_id, experiment_name, metrics['accuracy'], params "
                      "FROM runs_wide").fetchall()
    assert normalized(got) == normalized(want)
    assert {r[1] for r in got} == {"grid", "other"}


@pytest.mark.slow
def test_spark_submit_runs_a_job(tmp_path):
    uri = str(tmp_path / "lake")
    small_commits(uri, 3)
    lakeml.tracking.backend.close_all()
    submit = shutil.which("spark-submit", path=str(Path(sys.executable).parent))
    assert submit, "pyspark's spark-submit is missing from the virtualenv"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    helped = subprocess.run([submit, str(ROOT / "jobs" / "maintain.py"), "--help"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert helped.returncode == 0 and "--retention-hours" in helped.stdout
    jars = ",".join(str(p) for p in lakeml.spark.jars.fetch())
    done = subprocess.run([submit, "--jars", jars, str(ROOT / "jobs" / "maintain.py"),
                           "--store", uri, "--table", "metrics"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # spark-submit merges the driver's stderr (the progress lines) into its stdout
    lines = done.stdout.splitlines()
    assert any(line.startswith("metrics: data files 3 -> 1;") for line in lines), done.stdout
    assert "lakeml: maintain: 1/1 tables done" in lines, done.stdout


def test_score_writes_predictions_with_their_model_to_delta(spark, tmp_path, capsys):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import lakeml.sklearn
    from lakeml.models.descriptor import Model
    from lakeml.models.uri import local_model_path

    iris = load_iris(as_frame=True)
    features = iris.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    model = LogisticRegression(max_iter=500).fit(features, iris.target)
    uri = str(tmp_path / "lake")
    lakeml.set_store(uri)
    with lakeml.start_run() as run:
        info = lakeml.sklearn.log_model(model, "model", input_example=features.head(3))
    source = str(tmp_path / "features")
    spark.createDataFrame(features.assign(row=range(len(features)))).write.format(
        "delta").save(source)
    out = str(tmp_path / "scores")
    argv = ["--store", uri, "--model", info.model_uri, "--input", source, "--output", out]
    assert job("score").main(argv, spark=spark) == 0
    assert f"{out}: 150 rows" in capsys.readouterr().out

    files = DeltaTable(out).file_uris()
    got = duckdb.sql(f"SELECT row, prediction, model_uri, model_uuid, model_run_id "
                     f"FROM read_parquet({files!r}) ORDER BY row").fetchall()
    assert [r[1] for r in got] == [float(p) for p in model.predict(features)]
    uuid = Model.load(local_model_path(info.model_uri)).model_uuid
    assert {r[2:] for r in got} == {(info.model_uri, uuid, run.info.run_id)}
    with pytest.raises(lakeml.errors.InvalidArgument, match="'row'"):
        job("score").main(argv[:-1] + [out + "2", "--prediction-column", "row"], spark=spark)

    # a registered model: the alias is resolved once, name and version on every row
    client = lakeml.Client(uri)
    client.register_model(info.model_uri, "iris")
    client.register_model(info.model_uri, "iris")
    client.set_registered_model_alias("iris", "champion", 2)
    registered = str(tmp_path / "registered-scores")
    argv = ["--store", uri, "--model", "models:/iris@champion", "--input", source,
            "--output", registered]
    assert job("score").main(argv, spark=spark) == 0
    files = DeltaTable(registered).file_uris()
    got = duckdb.sql(f"SELECT row, prediction, model_name, model_version, model_uri "
                     f"FROM read_parquet({files!r}) ORDER BY row").fetchall()
    assert [r[1] for r in got] == [float(p) for p in model.predict(features)]
    assert {r[2:] for r in got} == {("iris", 2, "models:/iris/2")}
    assert lakeml.spark.model_versions(spark, uri).where("name = 'iris'").count() == 2
    # each job's lineage: the pinned model scored that input version into that output one
    jobs = lakeml.Client(uri).sql("SELECT model_uri, model_version, input, output, \"rows\" "
                                  "FROM scoring_outputs ORDER BY \"time\"").fetchall()
    assert jobs == [(info.model_uri, None, f"{source}@v0", f"{out}@v0", 150),
                    ("models:/iris/2", 2, f"{source}@v0", f"{registered}@v0", 150)]
    edges = lakeml.Client(uri).get_lineage(f"{registered}@v0")
    assert ("models:/iris/2", "scored") in {(e.src, e.kind) for e in edges}
    # appending again: the rows this job wrote, not the table's 300
    capsys.readouterr()
    assert job("score").main(argv, spark=spark) == 0
    assert f"{registered}: 150 rows" in capsys.readouterr().out
    assert lakeml.Client(uri).sql("SELECT output, \"rows\" FROM scoring_outputs ORDER BY "
                                  "\"time\" DESC LIMIT 1").fetchall() == \
        [(f"{registered}@v1", 150)]
