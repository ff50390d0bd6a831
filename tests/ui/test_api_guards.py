"""What keeps other pages and markdown images from using a viewer's session on the UI's
API (lakeml/ui/routes.py): every request must carry ``X-Lakeml-UI: 1``, and the SQL box
takes its query only as a JSON POST. Against the session's real server over loopback."""

from __future__ import annotations

import io

import httpx
import pyarrow.parquet as pq

UI_HEADER = {"X-Lakeml-UI": "1"}


def test_a_request_without_the_ui_header_is_refused_naming_it(ui_server) -> None:
    server, ids = ui_server
    url = f"{server.url}/ajax-api/lakeml"
    bare = httpx.get(f"{url}/experiments", timeout=30)
    assert bare.status_code == 403 and "X-Lakeml-UI: 1" in bare.json()["message"]
    wrong = httpx.get(f"{url}/experiments", headers={"X-Lakeml-UI": "yes"}, timeout=30)
    assert wrong.status_code == 403
    # an <img src> or a link to the SQL box or a write: refused before it runs
    assert httpx.get(f"{url}/run", params={"run_id": ids["run-00"]},
                     timeout=30).status_code == 403
    assert httpx.post(f"{url}/run/set-tag", json={"run_id": ids["run-00"], "key": "k",
                                                  "value": "v"}, timeout=30).status_code == 403
    assert httpx.post(f"{url}/sql", json={"q": "SELECT 1"}, timeout=30).status_code == 403
    ok = httpx.get(f"{url}/experiments", headers=UI_HEADER, timeout=30)
    assert ok.status_code == 200 and ok.json()["experiments"]
    # the pages and their scripts need no header
    assert httpx.get(server.url + "/", timeout=30).status_code == 200


def test_the_sql_box_takes_json_posts_only(ui_server) -> None:
    server, _ = ui_server
    url = f"{server.url}/ajax-api/lakeml"
    query = "SELECT 7 AS seven"
    for path in ("/sql", "/sql-download"):
        got = httpx.get(url + path, params={"q": query}, headers=UI_HEADER, timeout=30)
        assert got.status_code == 405, path
    rows = httpx.post(f"{url}/sql", json={"q": query}, headers=UI_HEADER, timeout=30)
    assert rows.status_code == 200 and rows.json()["rows"] == [[7]]
    csv = httpx.post(f"{url}/sql-download", json={"q": query}, headers=UI_HEADER, timeout=30)
    assert csv.status_code == 200 and csv.text.splitlines() == ['"seven"', "7"]
    parquet = httpx.post(f"{url}/sql-download", json={"q": query, "format": "parquet"},
                         headers=UI_HEADER, timeout=30)
    assert pq.read_table(io.BytesIO(parquet.content)).to_pylist() == [{"seven": 7}]
