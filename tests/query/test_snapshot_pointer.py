"""A published run snapshot pointer is trusted for nothing (query/snapshot_pointer.py):
anyone able to write <store>/state/ on S3 must not make a reader run SQL of theirs, nor
break its reads with a malformed pointer; the reader ignores it and folds the tables."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pytest

import lakeml
from lakeml.query import run_snapshot, shared_snapshot, snapshot_pointer
from tests.query.test_state_board import by_sql, cold_client, fill, rows, same

GOOD = {"format": 1, "file": "runs-" + "0" * 32 + ".parquet", "runs": 2, "bytes": 10,
        "columns": [["metrics", "acc", "c0"]], "files": {"runs": ["a.parquet"]},
        "tables": {"runs": "id"}}


@pytest.mark.parametrize("field, value", [
    ("columns", [["metrics", "acc", "c0 FROM x; COPY (SELECT 1) TO 'y'; --"]]),
    ("columns", [["nope", "acc", "c0"]]),
    ("columns", [["metrics", 3, "c0"]]),
    ("columns", [["metrics", "acc", "c0"], ["params", "p", "c0"]]),
    ("columns", {"metrics": "c0"}),
    ("files", []),
    ("files", {"runs": "a.parquet"}),
    ("files", {"runs; DROP": ["a"]}),
    ("tables", {"runs": 1}),
    ("runs", True),
    ("bytes", "10"),
    ("file", "../../etc/passwd"),
    ("format", 2),
])
def test_a_bad_field_is_refused_by_name(field: str, value: object):
    assert snapshot_pointer.checked(GOOD, 1) == GOOD
    with pytest.raises(ValueError, match="run snapshot"):
        snapshot_pointer.checked({**GOOD, field: value}, 1)


def publish_bad(uri: str, change) -> None:
    remote = fsspec.filesystem("s3")
    key = f"{uri}/state/runs.json"
    pointer = json.loads(remote.cat_file(key))
    change(pointer)
    remote.pipe_file(key, json.dumps(pointer).encode())
    remote.invalidate_cache()


def test_a_forged_s3_pointer_runs_no_sql_and_breaks_no_read(
        s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from tests.object_store import fresh_prefix

    uri = fresh_prefix()
    exp, _ = fill(lakeml.Client(uri))
    reader = cold_client(uri)
    expected = rows(reader.leaderboard(exp, "acc"))
    reader.tracking._b.engine.run_state.wait_saving()
    saved = run_snapshot.load(reader.store, fetch=False)
    assert saved is not None
    pwned = tmp_path / "pwned.csv"

    def inject(pointer: dict) -> None:
        # the last column picked: the SQL pasted after it stays valid
        last = max(range(len(pointer["columns"])), key=lambda i: pointer["columns"][i][:2])
        column = pointer["columns"][last][2]
        pointer["columns"][last][2] = (
            f"{column} AS x FROM read_parquet('{saved.path}') AS s; "
            f"COPY (SELECT 1 AS owned) TO '{pwned}'; SELECT 1 AS y, s.{column}")

    for n, change in enumerate([inject, lambda p: p.update(files=[]),
                                lambda p: p.update(columns=[["metrics", "acc"]])]):
        publish_bad(uri, change)
        monkeypatch.setenv("LAKEML_FILE_CACHE", str(tmp_path / f"machine{n}"))
        other = cold_client(uri)
        got = rows(other.leaderboard(exp, "acc"))
        assert not pwned.exists()
        assert sorted(got) == sorted(expected)
        assert same(got, by_sql(other, exp, "acc", True, 10))
        assert other.tracking._b.engine.run_state._snapshot is None  # refused: folded
        other.tracking._b.engine.run_state.wait_saving()
        # its own snapshot, written from the folded tables, replaced the forged pointer
        run_snapshot.wait(other.store)


def test_an_overlapping_writer_never_publishes_a_pointer_to_a_file_not_uploaded(
        s3_env: dict[str, str]):
    """Writer A wrote its file and pointer, then writer B its own (the local pointer names
    B now); A's publishing uploads A's file and A's pointer, never B's pointer."""
    import shutil
    import uuid

    from tests.object_store import fresh_prefix

    uri = fresh_prefix()
    exp, _ = fill(lakeml.Client(uri))
    reader = cold_client(uri)
    reader.leaderboard(exp, "acc")
    reader.tracking._b.engine.run_state.wait_saving()
    saved = run_snapshot.load(reader.store, fetch=False)
    assert saved is not None
    folder = Path(saved.path).parent
    first = json.loads((folder / "runs.json").read_text())
    pointers = []
    for _ in range(2):  # A, then B
        name = f"runs-{uuid.uuid4().hex}.parquet"
        shutil.copy(saved.path, folder / name)
        pointers.append({**first, "file": name})
        shared_snapshot.write_pointer(folder, pointers[-1])
    a, b = pointers
    shared_snapshot.publish(reader.store, a["file"], a)
    remote = fsspec.filesystem("s3")
    remote.invalidate_cache()
    assert json.loads(remote.cat_file(f"{uri}/state/runs.json")) == a
    published = {p.rsplit("/", 1)[-1] for p in remote.ls(f"{uri}/state", refresh=True)}
    assert a["file"] in published and b["file"] not in published
    # a pointer naming another file than the one uploaded is refused: nothing changes
    shared_snapshot.publish(reader.store, a["file"], b)
    assert json.loads(remote.cat_file(f"{uri}/state/runs.json")) == a
