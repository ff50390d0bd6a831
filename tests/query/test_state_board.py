"""The leaderboard read from the run state (query/state_board.py) on both backends: the
rows sql/queries/leaderboard.sql gives over the views, every committed run shown (another
process's too), and on S3 the reader's state saved and published as the run snapshot that
a process on another machine starts from (query/state_save.py, query/shared_snapshot.py)."""

from __future__ import annotations

import math
from pathlib import Path

import fsspec
import pytest

import lakeml
from lakeml.query import run_snapshot
from lakeml.query.sqlfiles import query
from lakeml.tracking import backend
from tests.conftest import run_python


def cold_client(uri: str) -> lakeml.Client:
    """A client of a process that has read nothing yet."""
    backend.close_all()
    return lakeml.Client(uri)


def by_sql(client: lakeml.Client, exp: str, metric: str, ascending: bool, limit: int
           ) -> list[tuple]:
    """The leaderboard as sql/queries/leaderboard.sql states it, over the views."""
    return client.sql(query("leaderboard"), {"experiment_id": exp, "metric": metric,
                                             "ascending": ascending, "limit": limit}
                      ).fetchall()


def rows(board) -> list[tuple]:
    return [(r.run_id, r.run_name, r.status,
             "nan" if isinstance(r.metric_value, float) and math.isnan(r.metric_value)
             else r.metric_value, r.start_time) for r in board.itertuples()]


def same(a: list[tuple], b: list[tuple]) -> bool:
    def norm(row: tuple) -> tuple:
        return tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in row)
    return [norm(r) for r in a] == [norm(r) for r in b]


def fill(client: lakeml.Client) -> tuple[str, str]:
    """Two experiments whose runs cover what a leaderboard must get right: several steps
    (the latest counts), NaN, a run without the metric, a deleted run, a running one."""
    exp, other = client.create_experiment("board"), client.create_experiment("elsewhere")
    for i, acc in enumerate([0.7, 0.9, float("nan"), 0.8, 0.6, 0.9]):
        run_id = client.create_run(exp, run_name=f"r{i}").info.run_id
        client.log_metric(run_id, "acc", 0.0, step=0)
        client.log_metric(run_id, "acc", acc, step=5)  # the latest: highest step
        if i != 5:
            client.set_terminated(run_id)
    client.log_metric(client.create_run(exp, run_name="no-acc").info.run_id, "loss", 1.0)
    gone = client.create_run(exp, run_name="deleted").info.run_id
    client.log_metric(gone, "acc", 1.0)
    client.delete_run(gone)
    client.log_metric(client.create_run(other, run_name="other").info.run_id, "acc", 5.0)
    client.flush()
    return exp, other


def test_the_state_board_is_the_sql_board(any_store: str):
    client = lakeml.Client(any_store)
    exp, other = fill(client)
    for reader in (client, cold_client(any_store)):
        for ascending in (True, False):
            for limit in (1, 3, 10):
                board = rows(reader.leaderboard(exp, "acc", ascending=ascending,
                                                max_results=limit))
                assert same(board, by_sql(reader, exp, "acc", ascending, limit))
        names = reader.leaderboard(exp, "acc", ascending=False)["run_name"].tolist()
        assert names == ["r1", "r5", "r3", "r0", "r4", "r2"]  # ties by run id; NaN last
        assert reader.leaderboard(other, "acc")["run_name"].tolist() == ["other"]


def test_the_next_board_shows_another_process_commit(any_store: str,
                                                     monkeypatch: pytest.MonkeyPatch):
    # every read lists the remote tables (no freshness window): "next" means next
    monkeypatch.setenv("LAKEML_REMOTE_FRESHNESS", "0")
    client = cold_client(any_store)
    exp = client.create_experiment("race")
    first = client.create_run(exp, run_name="mine").info.run_id
    client.log_metric(first, "rmse", 0.5)
    client.flush()
    assert client.leaderboard(exp, "rmse")["run_name"].tolist() == ["mine"]  # state built
    run_python(f"""
import lakeml
c = lakeml.Client({any_store!r})
r = c.create_run({exp!r}, run_name="theirs").info.run_id
c.log_metric(r, "rmse", 0.1)
c.flush()
""")
    assert client.leaderboard(exp, "rmse")["run_name"].tolist() == ["theirs", "mine"]
    assert same(rows(client.leaderboard(exp, "rmse")), by_sql(client, exp, "rmse", True, 10))


def test_an_s3_reader_publishes_its_state_for_other_machines(
        s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from tests.object_store import fresh_prefix

    uri = fresh_prefix()
    exp, _ = fill(lakeml.Client(uri))
    reader = cold_client(uri)
    board = rows(reader.leaderboard(exp, "acc"))
    reader.tracking._b.engine.run_state.wait_saving()
    saved = run_snapshot.load(reader.store, fetch=False)
    assert saved is not None and saved.runs == 9  # every run of both experiments
    remote = fsspec.filesystem("s3")
    published = {p.rsplit("/", 1)[-1] for p in remote.ls(f"{uri}/state", refresh=True)}
    assert published == {"runs.json", Path(saved.path).name}

    # another machine (a file cache of its own): it starts from the published snapshot,
    # and folds from the lake only the runs of files added since
    monkeypatch.setenv("LAKEML_FILE_CACHE", str(tmp_path / "elsewhere"))
    writer = cold_client(uri)
    late = writer.create_run(exp, run_name="late").info.run_id
    writer.log_metric(late, "acc", 0.95)
    writer.flush()
    other = cold_client(uri)
    got = rows(other.leaderboard(exp, "acc", ascending=False))
    state = other.tracking._b.engine.run_state
    assert state._snapshot is not None and Path(state._snapshot.path).name == \
        Path(saved.path).name  # fetched, not folded anew
    assert [r[1] for r in got][:2] == ["late", "r1"]
    assert same(got, by_sql(other, exp, "acc", False, 10))
    assert sorted(board) == sorted(r for r in got if r[1] != "late")
    state.wait_saving()  # it may save a fresher one (the late run's files): let it end


def moto_requests(log: Path, since: int) -> tuple[list[str], int]:
    """The methods and paths of the requests moto logged after byte ``since``; the end."""
    import re
    import time

    time.sleep(0.3)  # moto writes a request's line after answering it
    text = log.read_bytes()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text[since:].decode(errors="replace"))
    return re.findall(r'"([A-Z]+ \S+) HTTP', plain), len(text)


def test_a_warm_s3_board_asks_each_run_table_one_head(
        s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        tmp_path_factory: pytest.TempPathFactory):
    """Outside the freshness window a read looks for each table's next log file (one HEAD)
    and lists the log of a table only once another process has committed to it."""
    from tests.object_store import fresh_prefix

    monkeypatch.setenv("LAKEML_REMOTE_FRESHNESS", "0")
    uri = fresh_prefix()
    exp, _ = fill(lakeml.Client(uri))
    prefix = uri.rsplit("/", 1)[1]
    (log,) = {p.resolve() for p in tmp_path_factory.getbasetemp().glob("moto*/moto.log")
              if prefix.encode() in p.read_bytes()}  # the log of the server this test uses
    reader = cold_client(uri)
    reader.leaderboard(exp, "acc")
    reader.tracking._b.engine.run_state.wait_saving()
    _, mark = moto_requests(log, 0)
    reader.leaderboard(exp, "acc")
    asked, mark = moto_requests(log, mark)
    assert asked and all(r.startswith("HEAD ") and "/_delta_log/" in r for r in asked), asked
    assert len(asked) == len({r.split("/tables/")[1].split("/")[0] for r in asked})

    run_python(f"""
import lakeml
c = lakeml.Client({uri!r})
c.log_metric(c.create_run({exp!r}, run_name="new").info.run_id, "acc", 2.0)
c.flush()
""")
    _, mark = moto_requests(log, mark)
    assert reader.leaderboard(exp, "acc", ascending=False)["run_name"].tolist()[0] == "new"
    asked, _ = moto_requests(log, mark)
    listed = {r.split("/tables/")[1].split("/")[0] for r in asked if "list-type=2" in r}
    assert listed == {"runs", "metric_latest", "tags"}  # moved; params and inputs did not
