"""An ASGI app that answers every request at once and stores nothing (stdlib only).

bench_server.py runs its write load against it too: the runs per second a server that
does no work at all gets from the same clients on the same cores. That is the ceiling
of the load generator on this machine, and it shows how much of a real server's figure
is the server.

    uvicorn --app-dir benchmarks null_server:app --port PORT
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Awaitable, Callable

_ids = itertools.count(1)


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
              send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body whole, as a server must
        more = (await receive()).get("more_body", False)
    answer = {}
    if scope["path"].endswith("/runs/create"):
        answer = {"run": {"info": {"run_id": f"{next(_ids):032x}"}}}
    elif scope["path"].endswith("/experiments/create"):
        answer = {"experiment_id": "1"}
    body = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
