"""lakeml's /api/2.0/lakeml routes: every one reaches its handler through the server's
permission check when the app has one (lakeml_api.install's ``guard``)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

import lakeml
from lakeml.errors import PermissionDenied
from lakeml.server import lakeml_api


def test_every_lakeml_route_goes_through_the_guard(tmp_path: Path) -> None:
    import asyncio

    import httpx
    from fastapi import FastAPI

    from lakeml.server import errors
    from lakeml.server.app import _endpoint

    checked: list[tuple[str, str]] = []

    def guard(method: str, path: str, handler: Any) -> Any:
        def guarded(client: lakeml.Client, f: Any) -> Any:
            checked.append((method, path))
            if path.endswith("/sql"):
                raise PermissionDenied(f"may not call {method} {path}")
            return handler(client, f)
        return guarded

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    lakeml_api.install(app, lakeml.Client(str(tmp_path / "lake")), threading.Lock(),
                       _endpoint, guard)

    async def requests() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://lakeml") as http:
            return [await http.post("/api/2.0/lakeml/sql", json={"query": "SELECT 1"}),
                    await http.get("/api/2.0/lakeml/store-versions"),
                    await http.get("/api/2.0/lakeml/runs/list", params={"experiment_id": "0"})]

    denied, versions, listed = asyncio.run(requests())
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    assert versions.status_code == 200 and listed.json() == {"runs": []}
    assert checked == [("POST", "/api/2.0/lakeml/sql"), ("GET", "/api/2.0/lakeml/store-versions"),
                       ("GET", "/api/2.0/lakeml/runs/list")]
    routes = {(m, r.path) for r in app.routes for m in getattr(r, "methods", ()) - {"HEAD"}}
    expected = {(m, lakeml_api.PREFIX + p) for m, p, _, _ in lakeml_api.ROUTES} | \
        {("POST", lakeml_api.PREFIX + p) for p, _ in lakeml_api.TABLE_ROUTES}
    assert routes == expected


@pytest.mark.parametrize("value, shown", [
    (float("nan"), "NaN"), (float("-inf"), "-Infinity"), (b"\x01\xff", "01ff"),
    ([1.5, None], [1.5, None]), ({"a": float("inf")}, {"a": "Infinity"})])
def test_sql_json_writes_values_json_lacks_as_text(value: Any, shown: Any) -> None:
    import pyarrow as pa

    table = pa.table({"v": [value]})
    assert lakeml_api.rows_json(table)["rows"] == [[shown]]
