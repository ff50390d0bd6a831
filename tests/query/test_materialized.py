"""lakeml views materialize/export: the current state as Delta tables and a DuckDB file,
read back by readers that know nothing of lakeml (deltalake, polars, plain DuckDB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake

import lakeml
from lakeml.cli.app import main as cli_main
from lakeml.errors import InvalidArgument
from lakeml.query import materialized
from lakeml.query.materialized import TARGETS, export_duckdb, materialize

ROOT = Path(__file__).resolve().parents[2]


def build(uri: str) -> tuple[lakeml.Client, dict[str, str], list[str]]:
    """Two experiments, six runs with metrics, params and tags, a model with a version."""
    client = lakeml.Client(uri)
    exps = {name: client.create_experiment(name) for name in ("churn", "fraud")}
    runs = []
    for i in range(6):
        run = client.create_run(exps["churn" if i < 4 else "fraud"], run_name=f"r{i}")
        rid = run.info.run_id
        client.log_batch(rid, metrics={"rmse": 1.0 / (i + 1), "mae": float(i)},
                         params={"alpha": str(i), "model": "gbm"}, tags={"team": "a"})
        client.log_metric(rid, "rmse", 0.5 / (i + 1), step=1)
        runs.append(rid)
    client.create_registered_model("churn-model")
    client.create_model_version("churn-model", model_folder(uri), run_id=runs[0])
    client.flush()
    return client, exps, runs


def model_folder(uri: str) -> str:
    """A folder the registry takes as a model's files (it checks for an MLmodel file)."""
    folder = Path(uri).parent / "model"
    folder.mkdir(exist_ok=True)
    (folder / "MLmodel").write_text("flavors: {}\n")
    return str(folder)


def delta_rows(uri: str) -> list[tuple]:
    """The rows of the Delta table at ``uri`` as plain DuckDB reads them (no extension:
    its data files), sorted."""
    files = DeltaTable(uri).file_uris()
    if not files:
        return []
    return sorted(duckdb.sql(f"SELECT * FROM read_parquet({files!r})").fetchall(), key=repr)


def view_rows(client: lakeml.Client, name: str) -> list[tuple]:
    return sorted(client.sql(f"SELECT * FROM {name}").fetchall(), key=repr)


def assert_same_as_views(client: lakeml.Client) -> None:
    for name in TARGETS:
        uri = materialized.table_uri(client.store, name)
        assert delta_rows(uri) == view_rows(client, name), name


def versions(client: lakeml.Client) -> dict[str, int]:
    return {name: DeltaTable(materialized.table_uri(client.store, name)).version()
            for name in TARGETS}


@pytest.fixture()
def store(tmp_path):
    return build(str(tmp_path / "lake"))


def test_materialize_writes_each_view_as_a_delta_table_any_reader_reads(store):
    client, exps, runs = store
    done = materialize(client.store)
    assert [(d.table, d.mode) for d in done] == [(n, "full") for n in TARGETS]
    assert {d.table: d.rows for d in done} == {
        "runs_wide": 6, "latest_metrics": 12, "params": 12,
        "tags": len(view_rows(client, "tags")), "model_versions": 1}
    assert_same_as_views(client)
    root = Path(client.store.uri) / "views"
    assert sorted(p.name for p in root.iterdir()) == sorted(TARGETS)
    # polars reads Delta itself: experiment names and the metrics map, no folding
    wide = pl.read_delta(str(root / "runs_wide")).sort("run_name")
    assert wide["experiment_name"].to_list() == ["churn"] * 4 + ["fraud"] * 2
    rmse = wide.select(pl.col("metrics").map.get("rmse"))["metrics"].to_list()
    assert rmse == pytest.approx([0.5 / (i + 1) for i in range(6)])  # the step-1 values
    versions_table = DeltaTable(str(root / "model_versions")).to_pyarrow_table()
    assert versions_table.to_pylist()[0]["name"] == "churn-model"
    assert versions_table.to_pylist()[0]["run_id"] == runs[0]


def test_a_refresh_replaces_only_the_changed_runs_in_one_commit_per_table(store):
    client, exps, runs = store
    materialize(client.store)
    before = versions(client)
    new = client.create_run(exps["fraud"], run_name="late").info.run_id
    client.log_metric(new, "rmse", 0.01)
    client.log_metric(runs[1], "rmse", 0.001, step=5)   # a new latest value of an old run
    client.delete_tag(runs[2], "team")                   # a row that must disappear
    client.delete_run(runs[3])
    client.rename_experiment(exps["fraud"], "fraud-v2")  # names of runs[4:] and new
    client.flush()
    done = {d.table: d for d in materialize(client.store)}
    assert {n: d.mode for n, d in done.items()} == {
        "runs_wide": "incremental", "latest_metrics": "incremental", "params": "unchanged",
        "tags": "incremental", "model_versions": "unchanged"}
    # one commit per changed table: a reader sees the table before or after, never between
    assert versions(client) == {n: v + (done[n].mode != "unchanged") for n, v in before.items()}
    # runs_wide rewrote the runs that changed (1, 2, 3), the renamed experiment's (4, 5)
    # and the new one; not runs[0]
    assert done["runs_wide"].rows == 6
    assert done["latest_metrics"].rows == 3  # runs[1]'s two keys and the new run's one
    wide = materialized.table_uri(client.store, "runs_wide")
    history = DeltaTable(wide).history(1)[0]
    assert history["operationMetrics"]["num_added_rows"] == 6
    assert runs[0] not in history["operationParameters"]["predicate"]
    assert_same_as_views(client)
    names = dict(duckdb.sql(f"SELECT run_name, experiment_name FROM read_parquet("
                            f"{DeltaTable(wide).file_uris()!r})").fetchall())
    assert names["late"] == names["r4"] == "fraud-v2" and names["r0"] == "churn"
    # nothing new: nothing written
    assert {d.mode for d in materialize(client.store)} == {"unchanged"}
    assert versions(client) == {n: v + (done[n].mode != "unchanged") for n, v in before.items()}


def test_compaction_between_refreshes_loses_nothing(store):
    client, exps, runs = store
    materialize(client.store)
    for rid in runs[:3]:
        client.set_tag(rid, "stage", "checked")
        client.flush()
    client.store.maintenance.compact()  # rewrites the files the last refresh read
    done = {d.table: d.mode for d in materialize(client.store)}
    assert done["tags"] == "incremental"
    assert_same_as_views(client)


def compacted(client: lakeml.Client, table: str) -> bool:
    """Whether one of the last commits of store table ``table`` is a compaction (the last
    is the compaction lease's release)."""
    return any(h["operation"] == "OPTIMIZE"
               for h in DeltaTable(client.store.table_uri(table)).history(3))


def test_a_compaction_alone_changes_no_run_and_new_rows_it_folded_in_are_found(store):
    """The commit log's dataChange flags: files a compaction only rewrote are not taken
    for changed runs, and rows added before a compaction are read from their own file."""
    client, exps, runs = store
    for rid in runs[:3]:  # three more small files
        client.set_tag(rid, "pass", "1")
        client.flush()
    materialize(client.store)
    before = versions(client)
    client.store.maintenance.compact()
    tags = materialized.table_uri(client.store, "tags")
    assert compacted(client, "tags")
    done = materialize(client.store)
    assert {d.mode for d in done} == {"unchanged"}
    assert versions(client) == before
    for value in ("checked", "rechecked"):
        client.set_tag(runs[2], "stage", value)
        client.flush()
    client.store.maintenance.compact()  # folds that new row's file into a compacted one
    assert compacted(client, "tags")
    done = {d.table: d for d in materialize(client.store)}
    assert done["tags"].mode == "incremental"
    # only runs[2]'s tags were replaced, not every run of the compacted files
    assert done["tags"].rows == sum(1 for row in view_rows(client, "tags") if runs[2] in row)
    assert runs[0] not in DeltaTable(tags).history(1)[0]["operationParameters"]["predicate"]
    assert_same_as_views(client)


def test_rows_another_writer_deletes_after_a_compaction_leave_the_view_tables(store):
    """A delete that rewrites a compaction's output removes a file the last refresh
    never saw: the runs of its deleted rows are found in that removed file."""
    client, exps, runs = store
    for rid in runs[:3]:
        client.set_tag(rid, "pass", "1")
        client.flush()
    materialize(client.store)
    client.store.maintenance.compact(["tags"])
    assert compacted(client, "tags")
    DeltaTable(client.store.table_uri("tags")).delete(f"run_id = '{runs[1]}'")
    done = {d.table: d.mode for d in materialize(client.store)}
    assert done["tags"] == "incremental"
    tags = materialized.table_uri(client.store, "tags")
    assert not [row for row in delta_rows(tags) if runs[1] in row]
    assert_same_as_views(client)


def test_the_registry_changing_rewrites_model_versions(store):
    client, exps, runs = store
    materialize(client.store)
    client.create_model_version("churn-model", model_folder(client.store.uri),
                                run_id=runs[1])
    client.transition_model_version_stage("churn-model", 1, "Production")
    client.flush()
    done = {d.table: d for d in materialize(client.store)}
    assert (done["model_versions"].mode, done["model_versions"].rows) == ("full", 2)
    assert done["runs_wide"].mode == "unchanged"
    assert_same_as_views(client)
    stages = dict(pl.read_delta(materialized.table_uri(client.store, "model_versions"))
                  .select("version", "current_stage").iter_rows())
    assert stages[1] == "Production"


def test_a_table_without_lakeml_s_record_is_rebuilt_whole(store):
    client, exps, runs = store
    materialize(client.store)
    params = materialized.table_uri(client.store, "params")
    # something else wrote the table last (no record of the versions it reflects)
    write_deltalake(params, DeltaTable(params).to_pyarrow_table().slice(0, 1), mode="overwrite")
    client.log_param(runs[0], "extra", "1")
    client.flush()
    done = {d.table: d.mode for d in materialize(client.store)}
    assert done["params"] == "full" and done["runs_wide"] == "incremental"
    assert_same_as_views(client)
    assert {d.mode for d in materialize(client.store, full=True)} == {"full"}
    assert_same_as_views(client)


def test_unknown_view_table_is_refused_by_name(store):
    client, _, _ = store
    with pytest.raises(InvalidArgument, match="'runs_tall'.*known"):
        materialize(client.store, ["runs_wide", "runs_tall"])
    assert not (Path(client.store.uri) / "views").exists()


def test_export_writes_a_duckdb_file_with_the_same_tables(store, tmp_path):
    client, exps, runs = store
    target = tmp_path / "bi.duckdb"
    target.write_text("an older export")  # replaced whole
    counts = export_duckdb(client.store, target)
    assert counts["runs_wide"] == 6 and counts["model_versions"] == 1
    with duckdb.connect(str(target), read_only=True) as con:
        for name in TARGETS:
            got = sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            assert got == view_rows(client, name), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bi.duckdb", "lake", "model"]
    with pytest.raises(InvalidArgument, match="does not exist"):
        export_duckdb(client.store, tmp_path / "missing" / "bi.duckdb")
    with pytest.raises(InvalidArgument, match="is a folder"):
        export_duckdb(client.store, tmp_path)


def test_cli_materializes_and_exports(store, tmp_path, capsys):
    client, _, _ = store
    uri = client.store.uri
    assert cli_main(["views", "materialize", "--store", uri, "--table", "runs_wide",
                     "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == ["table,mode,rows_written,version", "runs_wide,full,6,0"]
    assert cli_main(["views", "export", "--store", uri, "--duckdb",
                     str(tmp_path / "x.duckdb"), "--format", "csv"]) == 0
    assert "runs_wide,6" in capsys.readouterr().out
    assert cli_main(["views", "export", "--store", uri]) != 0
    assert "needs --duckdb FILE" in capsys.readouterr().err
    assert cli_main(["views", "materialize", "--store", str(tmp_path / "nowhere")]) != 0
    assert not (tmp_path / "nowhere").exists()


def test_writers_keep_the_tables_fresh_when_enabled(tmp_path):
    uri = str(tmp_path / "lake")
    script = ("import lakeml\n"
              f"c = lakeml.Client({uri!r})\n"
              "e = c.create_experiment('auto')\n"
              "for i in range(3):\n"
              "    r = c.create_run(e, run_name=f'a{i}').info.run_id\n"
              "    c.log_metric(r, 'loss', float(i))\n")
    env = {**os.environ, "LAKEML_MATERIALIZE_VIEWS": "true", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    wide = pl.read_delta(str(Path(uri) / "views" / "runs_wide"))
    assert sorted(wide["run_name"]) == ["a0", "a1", "a2"]
    assert set(wide["experiment_name"]) == {"auto"}


def test_two_processes_refreshing_at_once_leave_the_tables_right(store):
    client, exps, runs = store
    materialize(client.store)
    for i in range(5):
        rid = client.create_run(exps["churn"], run_name=f"race-{i}").info.run_id
        client.log_metric(rid, "rmse", float(i))
    client.flush()
    script = ("import lakeml\nfrom lakeml.query.materialized import materialize\n"
              f"materialize(lakeml.Client({client.store.uri!r}).store)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    racers = [subprocess.Popen([sys.executable, "-c", script], env=env,
                               stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for racer in racers:
        _, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
    assert_same_as_views(client)


def test_many_changed_runs_are_replaced_by_ranges_in_short_predicates(store, monkeypatch):
    """Past IN_LIST_MAX changed runs the predicate names id ranges (runs next to one
    another in the table) and single ids, at most RANGES_MAX ranges a commit: the commit
    log never carries a list of every changed run. Limits made small to see it at 6 runs."""
    client, exps, runs = store
    materialize(client.store)
    monkeypatch.setattr(materialized, "IN_LIST_MAX", 2)
    monkeypatch.setattr(materialized, "RANGES_MAX", 1)
    tags = materialized.table_uri(client.store, "tags")
    before = DeltaTable(tags).version()
    for rid in (runs[1], runs[2], runs[4]):
        client.set_tag(rid, "stage", "checked")
    new = [client.create_run(exps["churn"], run_name=f"n{i}").info.run_id for i in range(2)]
    for rid in new:
        client.set_tag(rid, "stage", "new")
    client.flush()
    assert sorted(runs + new) == runs + new  # ids sort by creation time
    done = {d.table: d for d in materialize(client.store)}
    assert done["tags"].mode == "incremental"
    assert_same_as_views(client)
    # islands in id order: runs 1-2 (a range), run 4 (named), the new two (a range);
    # one range a commit: two commits, the second with run 4's name and the new range
    commits = DeltaTable(tags).history(DeltaTable(tags).version() - before)[::-1]
    predicates = [c["operationParameters"]["predicate"] for c in commits]
    assert len(predicates) == 2, predicates
    assert runs[1] in predicates[0] and runs[2] in predicates[0]
    assert runs[4] not in predicates[0] and new[0] not in predicates[0]
    assert runs[4] in predicates[1] and new[0] in predicates[1] and new[1] in predicates[1]
    for text in predicates:
        for untouched in (runs[0], runs[3], runs[5]):
            assert untouched not in text
    # the first commit records the old versions, the last the new: nothing left to do
    first, last = (json.loads(c[materialized.METADATA_KEY]) for c in commits)
    assert first["tags"] < last["tags"]
    assert {d.mode for d in materialize(client.store)} == {"unchanged"}
    assert_same_as_views(client)


def test_an_exit_refresh_replaces_changed_runs_but_builds_no_large_table_whole(
        store, monkeypatch):
    client, exps, runs = store
    monkeypatch.setattr(materialized, "WRITERS_REBUILD_ROWS", 5)  # 6 runs: "large"
    done = {d.table: d.mode for d in materialize(client.store, rebuild=False)}
    # no tables yet: the run tables would be written whole, which an exit leaves alone
    assert done == {"runs_wide": "skipped", "latest_metrics": "skipped", "params": "skipped",
                    "tags": "skipped", "model_versions": "full"}
    assert not DeltaTable.is_deltatable(materialized.table_uri(client.store, "runs_wide"))
    monkeypatch.setattr(materialized, "WRITERS_REBUILD_ROWS", 6)  # small: built at exit
    assert {d.mode for d in materialize(client.store, rebuild=False)} == {"full", "unchanged"}
    assert_same_as_views(client)
    client.set_tag(runs[0], "stage", "exit")
    client.flush()
    done = {d.table: d.mode for d in materialize(client.store, rebuild=False)}
    assert done["tags"] == done["runs_wide"] == "incremental"
    assert_same_as_views(client)


def test_the_exit_refresh_is_bounded_and_can_be_turned_off(store, monkeypatch):
    from lakeml.query import materialized_upkeep

    client, exps, runs = store
    materialize(client.store)
    tags = materialized.table_uri(client.store, "tags")
    client.set_tag(runs[1], "stage", "late")
    client.flush()
    before = DeltaTable(tags).version()
    monkeypatch.setenv("LAKEML_MATERIALIZE_VIEWS_AT_EXIT", "0")
    materialized_upkeep.finish(client.store)  # turned off: returns without writing
    assert DeltaTable(tags).version() == before
    monkeypatch.setenv("LAKEML_MATERIALIZE_VIEWS_AT_EXIT", "soon")
    with pytest.raises(InvalidArgument, match="'soon'.*LAKEML_MATERIALIZE_VIEWS_AT_EXIT"):
        materialized_upkeep.finish(client.store)
    monkeypatch.setenv("LAKEML_MATERIALIZE_VIEWS_AT_EXIT", "60")
    materialized_upkeep.finish(client.store)
    assert DeltaTable(tags).version() == before + 1
    assert_same_as_views(client)


def test_a_file_entry_with_a_deletion_vector_is_a_change_whatever_its_flag(store):
    """Writers with deletion vectors (Spark, Databricks) hide rows of a file in place;
    such an entry counts as changed rows even if marked dataChange=false."""
    from lakeml.query.delta_changes import data_changes

    client, exps, runs = store
    table = DeltaTable(client.store.table_uri("tags"))
    version = table.version()
    vector = {"storageType": "i", "pathOrInlineDv": "wi5b=000010000siXQKl0rr91000f",
              "offset": 1, "sizeInBytes": 36, "cardinality": 2}
    entries = [{"remove": {"path": "part-dv.parquet", "dataChange": False,
                           "deletionVector": vector}},
               {"add": {"path": "part-dv.parquet", "dataChange": False, "size": 1,
                        "partitionValues": {}, "modificationTime": 0,
                        "deletionVector": vector}},
               {"add": {"path": "part-quiet.parquet", "dataChange": False, "size": 1,
                        "partitionValues": {}, "modificationTime": 0}}]
    log = Path(client.store.table_uri("tags")) / "_delta_log" / f"{version + 1:020d}.json"
    log.write_text("\n".join(json.dumps(e) for e in entries) + "\n")
    changes = data_changes(client.store, "tags", version, version + 1)
    assert changes.added == changes.removed == {"part-dv.parquet"}
    assert changes.quiet == {"part-quiet.parquet"}


@pytest.mark.parametrize("between", ["batches", "check_and_commit"])
def test_a_refresh_split_over_commits_is_redone_when_another_commits_in_between(
        store, monkeypatch, between):
    """Refresh A read the store before runs[1]'s last tag; refresh B, after it, replaces
    the changed runs in two commits. A committing between B's two (or between B's check
    of the table and its commit) must not leave A's older row under B's record: B
    starts over from the table as A left it."""
    import deltalake

    client, exps, runs = store
    materialize(client.store)
    monkeypatch.setattr(materialized, "IN_LIST_MAX", 2)
    monkeypatch.setattr(materialized, "RANGES_MAX", 1)
    for rid in (runs[1], runs[2], runs[4]):
        client.set_tag(rid, "stage", "checked")
    client.flush()
    older = materialized._Refresh(client.store, ["tags"], full=False)
    client.set_tag(runs[1], "stage", "final")
    client.flush()
    write = deltalake.write_deltalake
    calls = []

    def interleaved(*args, **kwargs):
        calls.append(1)
        if between == "batches":
            write(*args, **kwargs)
        if len(calls) == (1 if between == "batches" else 2):
            monkeypatch.setattr(deltalake, "write_deltalake", write)
            older.run()  # the older refresh commits in between
            monkeypatch.setattr(deltalake, "write_deltalake", interleaved)
        if between != "batches":
            write(*args, **kwargs)

    monkeypatch.setattr(deltalake, "write_deltalake", interleaved)
    materialize(client.store, ["tags"])
    monkeypatch.setattr(deltalake, "write_deltalake", write)
    tags = materialized.table_uri(client.store, "tags")
    assert [row[2] for row in delta_rows(tags) if runs[1] in row and "stage" in row] \
        == ["final"]
    assert delta_rows(tags) == view_rows(client, "tags")
