"""The tracking server's app driven in-process, without HTTP: where its CPU goes per run.

RUNS runs (``runs/create``, one ``runs/log-batch`` of 10 params + 10 metrics,
``runs/update``) go through the ASGI app that ``lakeml server --journal DIR`` serves,
from --tasks concurrent tasks on one event loop, after --warm runs one at a time. It
prints, per run:
- the wall time;
- the CPU of the whole process (the committer and the sync thread included);
- the CPU of the loop's thread.

There is no network and there are no clients, so a change to the server's own cost
shows here even when the machine's drift hides it in bench_server.py. --profile writes
a cProfile of the timed part to the file given.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/drive_server_app.py 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from typing import Any

API = "/api/2.0/mlflow"


async def call(app: Any, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """POST ``payload`` to ``path`` through the app; its JSON answer (200 or exit)."""
    body = json.dumps(payload).encode()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": API + path,
             "raw_path": (API + path).encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:5000"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())],
             "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 5000), "state": {}}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # (the client never goes away)
        return {"type": "http.disconnect"}

    out: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(scope, receive, send)
    answer = b"".join(m.get("body", b"") for m in out[1:])
    if out[0]["status"] != 200:
        raise SystemExit(f"{path} answered {out[0]['status']}: {answer[:300]!r}")
    return json.loads(answer)


async def one_run(app: Any, i: int, experiment_id: str) -> None:
    created = await call(app, "/runs/create", {"experiment_id": experiment_id,
                                               "start_time": 1})
    run_id = created["run"]["info"]["run_id"]
    await call(app, "/runs/log-batch", {
        "run_id": run_id,
        "params": [{"key": f"p{k}", "value": str(i)} for k in range(10)],
        "metrics": [{"key": f"m{k}", "value": i * 0.5, "timestamp": 1, "step": 0}
                    for k in range(10)]})
    await call(app, "/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 2})


async def drive(app: Any, runs: int, tasks: int, warm: int, profile: str | None) -> None:
    experiment_id = (await call(app, "/experiments/create", {"name": "drive"}))["experiment_id"]
    for i in range(warm):
        await one_run(app, i, experiment_id)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    wall, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()

    async def task(first: int) -> None:
        for i in range(first, runs, tasks):
            await one_run(app, warm + i, experiment_id)

    await asyncio.gather(*(task(k) for k in range(tasks)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    loop_cpu = time.thread_time() - loop_cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    print(f"{runs} runs: wall {wall / runs * 1e3:.3f} ms/run, process CPU "
          f"{cpu / runs * 1e3:.3f} ms/run, loop thread CPU {loop_cpu / runs * 1e3:.3f} ms/run",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=int, nargs="?", default=2000)
    parser.add_argument("--tasks", type=int, default=16, help="concurrent tasks (16)")
    parser.add_argument("--warm", type=int, default=50, help="runs before timing (50)")
    parser.add_argument("--profile", help="write a cProfile of the timed runs here")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="drive-server-")
    os.environ["LAKEML_SERVER_JOURNAL"] = os.path.join(folder, "journal")
    os.environ["LAKEML_STORE"] = os.path.join(folder, "lake")
    from lakeml.server.app import app_from_environment

    app = app_from_environment()
    try:
        import uvloop  # as uvicorn runs it
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(drive(app, args.runs, args.tasks, args.warm, args.profile))
    os._exit(0)  # (the committer's thread would commit the journal at exit: not timed)


if __name__ == "__main__":
    main()
