"""The import against a hostile MLflow server: a real HTTP server on loopback whose artifact
proxy lists crafted entries (``..``, ``.``, a backslash), which the importer must refuse
instead of writing outside its target or looping forever."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from lakeml.errors import InvalidArgument
from lakeml.migrate.rest_source import RestSource

LISTING = "/api/2.0/mlflow-artifacts/artifacts"
# folder listed -> its entries; "run/evil" is a run whose listing names the parent folder
LISTINGS: dict[str, list[dict]] = {
    "1/ok": [{"path": "a.txt", "is_dir": False, "file_size": 5},
             {"path": "sub", "is_dir": True}],
    "1/ok/sub": [{"path": "sub/b.bin", "is_dir": False, "file_size": 3_000_000}],
    "1/dotdot": [{"path": "..", "is_dir": True}],
    "1/dotdot-file": [{"path": "x/..", "is_dir": False, "file_size": 4}],
    "1/dot": [{"path": ".", "is_dir": True}],
    "1/backslash": [{"path": "..\\..\\evil.txt", "is_dir": False, "file_size": 4}],
    "1/empty": [{"path": "", "is_dir": False, "file_size": 4}],
}
FILES = {"1/ok/a.txt": b"hello", "1/ok/sub/b.bin": b"xyz" * 1_000_000}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        if url.path == LISTING:
            body = json.dumps({"files": LISTINGS.get(parse_qs(url.query)["path"][0], [])})
            data = body.encode()
        else:
            data = FILES.get(unquote(url.path[len(LISTING) + 1:]), b"evil")
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_plain_listing_streams_every_file(hostile: str, tmp_path: Path) -> None:
    source = RestSource(hostile)
    try:
        assert source.copy_proxied("mlflow-artifacts:/1/ok", str(tmp_path / "t")) == 2
    finally:
        source.close()
    assert (tmp_path / "t" / "a.txt").read_bytes() == b"hello"
    assert (tmp_path / "t" / "sub" / "b.bin").read_bytes() == FILES["1/ok/sub/b.bin"]


@pytest.mark.parametrize(("folder", "named"), [
    ("dotdot", "'..'"), ("dotdot-file", "'x/..'"), ("dot", "'.'"),
    ("backslash", "evil.txt"), ("empty", "''")])
def test_crafted_names_are_refused(hostile: str, tmp_path: Path, folder: str,
                                   named: str) -> None:
    target = tmp_path / "root" / "target"
    source = RestSource(hostile)
    try:
        with pytest.raises(InvalidArgument, match="refusing") as err:
            source.copy_proxied(f"mlflow-artifacts:/1/{folder}", str(target))
    finally:
        source.close()
    assert named in str(err.value)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], written
