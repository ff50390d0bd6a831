"""Client processes for the server's racing and kill -9 tests (run with multiprocessing's
spawn): plain HTTP, as any language's client would send it.

A client retries a request that got no answer or a 5xx with the *same* body, as a
well-behaved client does; the server must make such a retry harmless.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

PARAMS, METRICS = 5, 5
RETRY_FOR = 120.0  # seconds a request is retried (a killed worker is replaced meanwhile)


def call(http: Any, api: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` until it is answered (retrying transport errors and 5xx); the JSON."""
    import httpx

    deadline = time.monotonic() + RETRY_FOR
    while True:
        try:
            response = http.post(f"{api}/{path}", json=body)
            if response.status_code < 500:
                if response.status_code != 200:
                    raise AssertionError(f"{path} {body}: {response.status_code} "
                                         f"{response.text}")
                return response.json()
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} was not answered in {RETRY_FOR} s")
        time.sleep(0.05)


def batch(run_id: str, step: int) -> dict[str, Any]:
    """A log-batch of ``step``: PARAMS params (the first step only), METRICS metric
    points at that step, one tag."""
    params = ([{"key": f"p{i}", "value": f"v{i}"} for i in range(PARAMS)]
              if step == 0 else [])
    metrics = [{"key": f"m{i}", "value": step * 10.0 + i, "step": step,
                "timestamp": 1_700_000_000_000 + step} for i in range(METRICS)]
    return {"run_id": run_id, "params": params, "metrics": metrics,
            "tags": [{"key": "client", "value": "load"}]}


def make_runs(api: str, experiment_id: str, count: int) -> list[str]:
    """Create ``count`` runs, each with one log-batch and ended FINISHED; their ids."""
    import httpx

    ids = []
    # a new connection per request: the kernel spreads them over the workers
    with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as http:
        for _ in range(count):
            run = call(http, api, "runs/create", {"experiment_id": experiment_id})
            run_id = run["run"]["info"]["run_id"]
            call(http, api, "runs/log-batch", batch(run_id, 0))
            call(http, api, "runs/update", {"run_id": run_id, "status": "FINISHED"})
            ids.append(run_id)
    return ids


def log_until_stopped(api: str, experiment_id: str, acks: str, stop: str) -> int:
    """Until file ``stop`` exists: create a run, then log-batch steps 0..4 to it; after
    every 200, append what it acknowledged to file ``acks`` ("run ID" / "step ID N").
    Returns the number of acknowledged writes."""
    import httpx

    count = 0
    with httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0)) as http, \
            open(acks, "a") as out:
        while not Path(stop).exists():
            run = call(http, api, "runs/create", {"experiment_id": experiment_id})
            run_id = run["run"]["info"]["run_id"]
            out.write(f"run {run_id}\n")
            out.flush()
            for step in range(5):
                call(http, api, "runs/log-batch", batch(run_id, step))
                out.write(f"step {run_id} {step}\n")
                out.flush()
                count += 1
    return count
