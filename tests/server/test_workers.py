"""``lakeml server --workers 2``: each request may reach either worker process; a write
acknowledged by one is seen by the next request, whichever worker takes it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import lakeml
from tests.server.conftest import settled, start_server


@pytest.mark.slow
def test_two_workers_read_what_either_acknowledged(tmp_path: Path) -> None:
    with start_server(tmp_path, "--workers", "2") as server:
        api = server.api
        eid = httpx.post(f"{api}/experiments/create", json={"name": "w"}, timeout=60
                         ).json()["experiment_id"]
        ids = []
        for i in range(12):  # a new connection per request: the kernel spreads them
            run = httpx.post(f"{api}/runs/create", json={"experiment_id": eid}, timeout=60)
            run_id = run.json()["run"]["info"]["run_id"]
            httpx.post(f"{api}/runs/log-metric", json={"run_id": run_id, "key": "m",
                                                       "value": i, "timestamp": 1},
                       timeout=60).raise_for_status()
            got = httpx.get(f"{api}/runs/get", params={"run_id": run_id}, timeout=60)
            assert got.status_code == 200, got.text
            assert got.json()["run"]["data"]["metrics"][0]["value"] == i
            ids.append(run_id)
        found = httpx.post(f"{api}/runs/search", json={"experiment_ids": [eid]}, timeout=60)
        assert sorted(r["info"]["run_id"] for r in found.json()["runs"]) == sorted(ids)
        settled(server)  # the server's journal is committed: read the store
        assert len(lakeml.Client(server.store).search_runs([eid])) == 12
