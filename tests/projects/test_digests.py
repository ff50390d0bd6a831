"""Content digests: files, folders, Delta tables, and a step's code files."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakeml.errors import InvalidArgument, NotFound
from lakeml.projects import digests


def test_file_and_folder_digests_follow_content_and_names(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("one")
    first = digests.file_digest(tmp_path / "d")
    assert digests.file_digest(tmp_path / "d") == first
    (tmp_path / "d" / "a.txt").write_text("two")
    second = digests.file_digest(tmp_path / "d")
    assert second != first
    (tmp_path / "d" / "a.txt").rename(tmp_path / "d" / "b.txt")
    assert digests.file_digest(tmp_path / "d") not in (first, second)
    with pytest.raises(NotFound, match="does not exist"):
        digests.file_digest(tmp_path / "missing")


def test_table_digest_changes_with_each_write_and_is_none_without_a_table(tmp_path):
    uri = str(tmp_path / "t")
    assert digests.table_digest(uri) is None
    write_deltalake(uri, pa.table({"x": [1, 2]}))
    first = digests.table_digest(uri)
    assert first is not None and digests.table_digest(uri) == first
    write_deltalake(uri, pa.table({"x": [3]}), mode="append")
    assert digests.table_digest(uri) != first


def test_code_files_are_the_command_s_project_files_or_the_globs(tmp_path):
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("x = 1\n")
    found = digests.code_files(tmp_path, "python train.py --alpha {alpha} /etc/hostname", [])
    assert found == [(tmp_path / "train.py").resolve()]  # not files outside the project
    globbed = digests.code_files(tmp_path, "python train.py", ["train.py", "lib/**/*.py"])
    assert [p.name for p in globbed] == ["util.py", "train.py"]
    with pytest.raises(InvalidArgument, match="code pattern 'src/\\*.py' matches no file"):
        digests.code_files(tmp_path, "python train.py", ["src/*.py"])
    before = digests.code_digest(tmp_path, globbed)
    (tmp_path / "lib" / "util.py").write_text("x = 2\n")
    assert digests.code_digest(tmp_path, globbed) != before


def test_a_table_snapshot_names_its_exact_version(tmp_path):
    table = str(tmp_path / "t")
    assert digests.table_snapshot(table) is None
    write_deltalake(table, pa.table({"x": [1]}))
    write_deltalake(table, pa.table({"x": [2]}), mode="append")
    versioned, digest = digests.table_snapshot(table)
    assert versioned == f"{table}@v1" and digest == digests.table_digest(table)
    assert digests.table_digest(versioned) == digest  # a versioned URI names its table
    assert digests.table_path(versioned) == table
    assert digests.table_path("/data/x@vnot") == "/data/x@vnot"
