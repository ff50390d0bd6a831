"""Objects read from S3 (moto) through deltalake's object store (store/file_cache.py):
streamed to the file by ranges of CHUNK_BYTES (a bounded buffer, whatever the size), and
never pieced together from two versions of an object overwritten while being read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakeml.store import file_cache
from tests.object_store import fresh_prefix


def moto_gets(log: Path, since: int, path: str) -> tuple[int, int]:
    """GETs of object ``path`` (bucket/key) moto logged after byte ``since``; the end."""
    import re
    import time

    time.sleep(0.3)  # moto writes a request's line after answering it
    text = log.read_bytes()
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text[since:].decode(errors="replace"))
    return plain.count(f'"GET /{path} HTTP'), len(text)


@pytest.fixture
def s3_object(s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """(deltalake's object store, a key, the moto log) with a 1 MB object written there."""
    uri = f"{fresh_prefix()}/object.bin"
    files, key = file_cache.object_files(uri, None)
    data = os.urandom(1 << 20)
    file_cache.write_object(files, key, data)
    prefix = key.split("/")[0]
    (log,) = {p.resolve() for p in tmp_path_factory.getbasetemp().glob("moto*/moto.log")
              if prefix.encode() in p.read_bytes()}
    return files, key, data, log, uri.removeprefix("s3://")


def test_a_large_object_is_streamed_by_ranges(s3_object, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch):
    files, key, data, log, path = s3_object
    monkeypatch.setattr(file_cache, "CHUNK_BYTES", 100_000)
    _, mark = moto_gets(log, 0, path)
    with (tmp_path / "copy").open("wb") as out:
        assert file_cache.copy_object(files, key, out) == len(data)
    assert (tmp_path / "copy").read_bytes() == data
    gets, _ = moto_gets(log, mark, path)
    assert gets == -(-len(data) // 100_000)  # one ranged GET per chunk, not one of it all


class OverwrittenMidRead:
    """The store's real object store, the first GET's body cut short, and another writer
    overwriting the object (same size, other bytes) just then."""

    def __init__(self, files, key: str, other: bytes) -> None:
        self.files, self.key, self.other, self.done = files, key, other, False

    def __getattr__(self, name: str):
        return getattr(self.files, name)

    def open_input_file(self, key: str):
        source = self.files.open_input_file(key)
        outer = self

        class Source:
            def size(self) -> int:
                return source.size()

            def seek(self, at: int) -> None:
                source.seek(at)

            def read(self, n: int) -> bytes:
                at = source.tell()
                chunk = source.read(n)
                if not outer.done:  # the body of the first GET ends early
                    outer.done = True
                    chunk = chunk[:len(chunk) // 2]
                    source.seek(at + len(chunk))
                    import time

                    time.sleep(1.1)  # S3's modification times are to the second
                    file_cache.write_object(outer.files, outer.key, outer.other)
                return chunk

        return Source()


def test_an_object_overwritten_while_read_is_not_mixed(s3_object,
                                                       monkeypatch: pytest.MonkeyPatch):
    files, key, data, _, _ = s3_object
    monkeypatch.setattr(file_cache, "CHUNK_BYTES", 100_000)
    other = os.urandom(len(data))
    got = file_cache.read_object(OverwrittenMidRead(files, key, other), key)
    assert got in (data, other)  # one version, not data's first bytes and other's rest
    assert got == other  # it changed: read again from byte 0


def test_a_copy_that_cannot_be_fetched_leaves_no_part_file(s3_object,
                                                           tmp_path: Path) -> None:
    # local_copies fetches each missing file to a temporary name, renamed once whole: a
    # fetch that fails names the file and leaves nothing behind; the others land whole
    import re

    from lakeml.errors import StoreUnavailable

    _files, _key, data, _log, path = s3_object
    uri, missing = f"s3://{path}", f"s3://{path}.missing"
    folder = tmp_path / "copies"
    with pytest.raises(StoreUnavailable, match=re.escape(missing)):
        file_cache.local_copies([uri, missing], folder=folder, delta_options={})
    assert sorted(os.listdir(folder)) == [file_cache.copy_name(uri)]
    assert (folder / file_cache.copy_name(uri)).read_bytes() == data


def test_a_copy_fetched_with_fsspec_that_fails_leaves_no_part_file(tmp_path: Path) -> None:
    import re

    import fsspec

    from lakeml.errors import StoreUnavailable

    fs = fsspec.filesystem("memory")
    fs.pipe("/lakeml-copies/part-0.parquet", b"not really parquet")
    uri, missing = "memory://lakeml-copies/part-0.parquet", "memory://lakeml-copies/gone"
    folder = tmp_path / "copies"
    try:
        with pytest.raises(StoreUnavailable, match=re.escape(missing)):
            file_cache.local_copies([uri, missing], folder=folder)
    finally:
        fs.rm("/lakeml-copies", recursive=True)
    assert sorted(os.listdir(folder)) == [file_cache.copy_name(uri)]
    assert (folder / file_cache.copy_name(uri)).read_bytes() == b"not really parquet"
