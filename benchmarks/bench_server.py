"""Tracking servers side by side: ``lakeml server`` against MLflow's ``mlflow server``.

Both servers are started here, on loopback, and driven by the same plain HTTP client
(MLflow's REST API 2.0; raw_http.py for the write load, whose cost per request is a
fraction of an HTTP library's, httpx for the rest), so the figures compare servers, not
client libraries:

1. **Write load**: CLIENTS concurrent clients (asyncio tasks, each with its own
   keep-alive connection, spread over CLIENT_PROCESSES processes) each make RUNS runs:
   ``runs/create``, one ``runs/log-batch`` of 10 params + 10 metrics, ``runs/update``
   to FINISHED (the calls MLflow's client makes for a run). Each server starts on an
   empty store; the figure is runs per second of wall time, and every run is checked
   afterwards through the server (count, params and metrics). The same load against
   null_server.py, which answers at once and stores nothing, gives the ceiling of the
   clients on this machine (they share its cores with the server). Each server's CPU
   time per run (its processes, measured over the load) is printed too: on a machine
   whose speed drifts, the steadier measure of a change to a server's cost.
2. **Search**: ``runs/search`` with the leaderboard query of synthetic.py (a filter on
   a metric and a param, ordered by the metric, 10 results) over an experiment of
   SEARCH_RUNS runs: p50 of --search-calls sequential calls after WARMUP calls, the
   answer checked against ``synthetic.expected_leaderboard``.

The search stores hold the same synthetic runs and are built once, cached in --cache
(default benchmarks/.cache, shared with bench_search.py): lakeml's by
``generate_store.generate`` (the bulk API ``Client.log_runs``, 10,000 runs a call);
MLflow's by ``mlflow_search_worker.py --build-only`` (MLflow creates its schema and
experiment through ``MlflowClient``, then the runs go into its sqlite tables in one
transaction, row for row what ``SqlAlchemyStore`` writes for create_run + log_batch +
set_terminated).

MLflow runs with its defaults (``mlflow server --backend-store-uri sqlite:///...``:
FastAPI on uvicorn, 4 workers), but for uvicorn's worker health check, given 60 s as
``lakeml server`` gives it (uvicorn's 5 s kills slow workers on a loaded machine, and
their requests with them); lakeml with its write-ahead journal and ``--workers`` 2 by
default (one process commits the journal, so a second worker adds no commit conflicts,
and it measured faster than one; without the journal, one worker was the better choice).

    .venv/bin/python benchmarks/bench_server.py            # 16 x 50 runs, 100,000-run search
    .venv/bin/python benchmarks/bench_server.py --quick    # 4 x 10 runs, 10,000-run search
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synthetic  # noqa: E402
from bench_common import markdown  # noqa: E402
from bench_http import free_port, stop_server  # noqa: E402

MLFLOW_PYTHON = HERE / ".venv-mlflow" / "bin" / "python"
# MLflow's venv is only read: no bytecode written into it, no telemetry sent
MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
              "PYTHONDONTWRITEBYTECODE": "1"}
API = "/api/2.0/mlflow"
WARMUP, SEARCH_CALLS = 3, 30


# ---- servers -------------------------------------------------------------------------------
def start(cmd: list[str], port: int, cwd: Path, env: dict[str, str],
          timeout: float = 300.0) -> subprocess.Popen[bytes]:
    """Start a server and wait until GET /health answers 200."""
    import httpx

    log = open(cwd / f"server-{port}.log", "wb")  # noqa: SIM115 - lives with the process
    proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {' '.join(cmd)}\n"
                               f"{(cwd / f'server-{port}.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server not ready after {timeout} s: {' '.join(cmd)}")


def lakeml_server(store: Path, port: int, cwd: Path, workers: int,
                  journal: str = "on") -> subprocess.Popen[bytes]:
    env = {"PYTHONPATH": str(HERE.parent)}
    # the journal in the run's folder (removed with it); "off": writes wait for Delta
    return start([sys.executable, "-m", "lakeml", "server", "--store", str(store), "--port",
                  str(port), "--workers", str(workers), "--log-level", "warning",
                  "--journal", str(cwd / "journal") if journal == "on" else "off"],
                 port, cwd, env)


def null_server(port: int, cwd: Path) -> subprocess.Popen[bytes]:
    return start([sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "null_server:app",
                  "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                 port, cwd, {})


def mlflow_server(python: Path, db: Path, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    return start([str(python), "-m", "mlflow", "server", "--backend-store-uri",
                  f"sqlite:///{db}", "--default-artifact-root", str(cwd / "mlartifacts"),
                  "--host", "127.0.0.1", "--port", str(port),
                  # as lakeml server does: a slow worker is not killed after 5 s (uvicorn's
                  # default, which on a loaded machine drops MLflow's requests mid-load)
                  "--uvicorn-opts", "--timeout-worker-healthcheck 60"], port, cwd, MLFLOW_ENV)


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by a server: its process and every worker under it."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# ---- the write load ------------------------------------------------------------------------
def _run_body(i: int) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    params = [{"key": f"p{j}", "value": f"v{(i + j) % 7}"} for j in range(10)]
    now = int(time.time() * 1000)
    metrics = [{"key": f"m{j}", "value": (i * 10 + j) / 7, "timestamp": now, "step": 0}
               for j in range(10)]
    return params, metrics


async def _client(url: str, experiment_id: str, runs: int, first: int) -> None:
    """One client: ``runs`` runs, each created, logged to with one log-batch and ended,
    on one keep-alive connection (raw_http: its cost per request is a fraction of an
    HTTP library's, and the clients share the 2 cores with the server measured)."""
    from raw_http import JsonConnection

    host, port = url.removeprefix("http://").split(":")

    async def call(connection: JsonConnection, path: str, body: dict[str, Any]) -> Any:
        status, answer = await connection.post(API + path, body)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}: {answer}")
        return answer

    async with JsonConnection(host, int(port)) as connection:
        for i in range(first, first + runs):
            created = await call(connection, "/runs/create", {
                "experiment_id": experiment_id, "run_name": f"load-{i}",
                "start_time": int(time.time() * 1000)})
            run_id = created["run"]["info"]["run_id"]
            params, metrics = _run_body(i)
            await call(connection, "/runs/log-batch",
                       {"run_id": run_id, "params": params, "metrics": metrics})
            await call(connection, "/runs/update", {
                "run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)})


def _client_process(url: str, experiment_id: str, clients: int, runs: int, first: int,
                    start_at: float) -> tuple[float, float]:
    """``clients`` concurrent clients in one process, started at wall time ``start_at``;
    (start, end) wall times."""
    async def all_clients() -> None:
        await asyncio.gather(*(_client(url, experiment_id, runs, first + k * runs)
                               for k in range(clients)))

    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.time()
    asyncio.run(all_clients())
    return t0, time.time()


def write_load(url: str, clients: int, runs: int, processes: int,
               check: bool = True, server: int | None = None) -> dict[str, Any]:
    """Run the write load against the server at ``url``; its figures, checked (unless
    ``check`` is False: the null server keeps nothing to check), with the CPU the server
    (process ``server`` and its workers) used per run, from the start of the load to its
    end (the clients' start-up wait included, the check's reads not)."""
    import httpx

    experiment_id = httpx.post(f"{url}{API}/experiments/create",
                               json={"name": f"load-{time.time_ns()}"}, timeout=60
                               ).json()["experiment_id"]
    per_process = [clients // processes + (k < clients % processes) for k in range(processes)]
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # every process imported and ready
    cpu_before = server_cpu(server) if server is not None else 0.0
    with context.Pool(processes) as pool:
        spans = pool.starmap(_client_process, [
            (url, experiment_id, n, runs, sum(per_process[:k]) * runs, start_at)
            for k, n in enumerate(per_process) if n])
    seconds = max(end for _, end in spans) - min(begin for begin, _ in spans)
    total = clients * runs
    figures = {"runs": total, "seconds": seconds, "runs_per_s": total / seconds}
    if server is not None:
        figures["server_cpu_ms_per_run"] = (server_cpu(server) - cpu_before) * 1000 / total
    if check:
        _check_load(url, experiment_id, total)
    return figures


def _check_load(url: str, experiment_id: str, total: int) -> None:
    """Every run is there, FINISHED, with its 10 params and 10 metrics."""
    import httpx

    found, token = [], None
    while True:
        body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": 1000}
        if token:
            body["page_token"] = token
        page = httpx.post(f"{url}{API}/runs/search", json=body, timeout=300).json()
        found += page.get("runs", [])
        token = page.get("next_page_token")
        if not token:
            break
    if len(found) != total:
        raise RuntimeError(f"{url}: {len(found)} runs found, {total} made")
    for run in found:
        data = run["data"]
        if (run["info"]["status"] != "FINISHED" or len(data.get("params", [])) != 10
                or len(data.get("metrics", [])) != 10):
            raise RuntimeError(f"{url}: run incomplete: {json.dumps(run)[:500]}")


# ---- search --------------------------------------------------------------------------------
def lakeml_search_store(cache: Path, runs: int) -> Path:
    from generate_store import generate

    store = cache / f"lake-{runs}"
    if not store.exists():
        print(f"  building lakeml's {runs:,}-run store in {store} (bulk log_runs)", flush=True)
        generate(str(store), runs, 0, quiet=True)
    return store


def mlflow_search_store(python: Path, cache: Path, runs: int) -> Path:
    db = cache / f"mlflow-{runs}.db"
    if not db.exists():
        print(f"  building MLflow's {runs:,}-run sqlite store in {db}", flush=True)
        subprocess.run([str(python), str(HERE / "mlflow_search_worker.py"), "--runs",
                        str(runs), "--cache-dir", str(cache), "--build-only"], check=True,
                       env={**os.environ, **MLFLOW_ENV}, stdout=subprocess.DEVNULL)
    return db


def search_p50(url: str, experiment_name: str, runs: int, calls: int) -> dict[str, Any]:
    """p50 of the leaderboard search through ``url``, its answer checked."""
    import httpx

    with httpx.Client(base_url=url + API, timeout=600) as http:
        experiment = http.get("/experiments/get-by-name",
                              params={"experiment_name": experiment_name})
        experiment.raise_for_status()
        body = {"experiment_ids": [experiment.json()["experiment"]["experiment_id"]],
                "filter": synthetic.LEADERBOARD["filter_string"],
                "order_by": synthetic.LEADERBOARD["order_by"],
                "max_results": synthetic.LEADERBOARD["max_results"]}
        times = []
        for i in range(WARMUP + calls):
            t0 = time.perf_counter()
            response = http.post("/runs/search", json=body)
            elapsed = time.perf_counter() - t0
            response.raise_for_status()
            if i >= WARMUP:
                times.append(elapsed)
    got = [(int(_tag(r, "mlflow.runName").removeprefix("run-")), _metric(r, "m0"))
           for r in response.json()["runs"]]
    want = synthetic.expected_leaderboard(runs)
    if len(got) != len(want) or any(g[0] != w[0] or abs(g[1] - w[1]) > 1e-12
                                    for g, w in zip(got, want)):
        raise RuntimeError(f"{url}: leaderboard {got}, expected {want}")
    return {"p50_s": statistics.median(times), "first_s": times[0], "max_s": max(times)}


def _tag(run: dict[str, Any], key: str) -> str:
    return next(t["value"] for t in run["data"]["tags"] if t["key"] == key)


def _metric(run: dict[str, Any], key: str) -> float:
    return next(m["value"] for m in run["data"]["metrics"] if m["key"] == key)


# ---- main ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 4 clients x 10 runs, search over 10,000 runs")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 16)")
    parser.add_argument("--runs", type=int, help="runs per client (default 50)")
    parser.add_argument("--search-runs", type=int, help="runs in the searched experiment "
                        "(default 100,000)")
    parser.add_argument("--search-calls", type=int, default=SEARCH_CALLS,
                        help=f"timed searches per server (default {SEARCH_CALLS})")
    parser.add_argument("--build-only", action="store_true",
                        help="only build the cached search stores")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="processes the clients are spread over (default 2)")
    parser.add_argument("--lakeml-journal", choices=("on", "off"), default="on",
                        help="lakeml server's write-ahead journal (default on; off: each "
                        "write is answered after its Delta commit)")
    parser.add_argument("--lakeml-workers", type=int, default=2,
                        help="lakeml server --workers (default 2)")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache",
                        help="where the search stores are kept between runs")
    parser.add_argument("--mlflow-python", type=Path, default=MLFLOW_PYTHON,
                        help="python of a venv with mlflow (default benchmarks/.venv-mlflow, "
                        "made by setup_mlflow.sh)")
    args = parser.parse_args(argv)
    clients = args.clients or (4 if args.quick else 16)
    runs = args.runs or (10 if args.quick else 50)
    search_runs = args.search_runs or (10_000 if args.quick else 100_000)
    if not args.mlflow_python.exists():
        raise SystemExit(f"no MLflow at {args.mlflow_python}: run benchmarks/setup_mlflow.sh "
                         "or give --mlflow-python")
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.build_only:
        lakeml_search_store(args.cache, search_runs)
        mlflow_search_store(args.mlflow_python, args.cache, search_runs)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-server-"))
    figures: dict[str, dict[str, Any]] = {"null": {}, "lakeml": {}, "mlflow": {}}
    try:
        for name in ("null", "lakeml", "mlflow"):
            print(f"write load on {name}: {clients} clients x {runs} runs ...", flush=True)
            port, cwd = free_port(), work / f"{name}-load"
            cwd.mkdir()
            proc = (lakeml_server(cwd / "lake", port, cwd, args.lakeml_workers,
                                  args.lakeml_journal)
                    if name == "lakeml" else null_server(port, cwd) if name == "null" else
                    mlflow_server(args.mlflow_python, cwd / "mlflow.db", port, cwd))
            try:
                figures[name]["load"] = write_load(f"http://127.0.0.1:{port}", clients, runs,
                                                   args.client_processes,
                                                   check=name != "null", server=proc.pid)
            finally:
                stop_server(proc)
        print(f"search stores ({search_runs:,} runs) ...", flush=True)
        stores = {"lakeml": lakeml_search_store(args.cache, search_runs),
                  "mlflow": mlflow_search_store(args.mlflow_python, args.cache, search_runs)}
        for name, experiment in (("lakeml", "synthetic"), ("mlflow", "synthetic-search")):
            print(f"search on {name} ...", flush=True)
            port, cwd = free_port(), work / f"{name}-search"
            cwd.mkdir()
            proc = (lakeml_server(stores[name], port, cwd, args.lakeml_workers)
                    if name == "lakeml" else
                    mlflow_server(args.mlflow_python, stores[name], port, cwd))
            try:
                figures[name]["search"] = search_p50(f"http://127.0.0.1:{port}", experiment,
                                                     search_runs, args.search_calls)
            finally:
                stop_server(proc)
    except BaseException:
        print(f"failed: the servers' logs are in {work}", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)
    report(figures, clients, runs, search_runs, args)


def report(figures: dict[str, dict[str, Any]], clients: int, runs: int, search_runs: int,
           args: argparse.Namespace) -> None:
    lk, ml = figures["lakeml"], figures["mlflow"]
    write_ratio = lk["load"]["runs_per_s"] / ml["load"]["runs_per_s"]
    search_ratio = ml["search"]["p50_s"] / lk["search"]["p50_s"]
    body = [
        [f"runs/s, {clients} clients x {runs} runs (create + log-batch 10p/10m + update)",
         f"{lk['load']['runs_per_s']:,.0f}", f"{ml['load']['runs_per_s']:,.1f}",
         f"{write_ratio:,.1f}x", ">= 20x"],
        [f"runs/search p50 at {search_runs:,} runs (ms)",
         f"{lk['search']['p50_s'] * 1000:,.1f}", f"{ml['search']['p50_s'] * 1000:,.1f}",
         f"{search_ratio:,.1f}x", ">= 50x"],
    ]
    print()
    print(f"lakeml server (--workers {args.lakeml_workers}, --journal {args.lakeml_journal}) "
          f"vs mlflow server (sqlite, "
          f"defaults), {os.cpu_count()} CPUs, clients over {args.client_processes} "
          "processes")
    print(markdown(["figure", "lakeml", "MLflow", "lakeml vs MLflow", "target"], body))
    print(f"server CPU per run under that load (all its processes; the clients excluded): "
          f"lakeml {lk['load']['server_cpu_ms_per_run']:.2f} ms, MLflow "
          f"{ml['load']['server_cpu_ms_per_run']:.2f} ms")
    null = figures["null"]["load"]["runs_per_s"]
    print(f"the same write load against a server that stores nothing (null_server.py): "
          f"{null:,.0f} runs/s = {null / ml['load']['runs_per_s']:,.1f}x MLflow; lakeml "
          f"reaches {lk['load']['runs_per_s'] / null:.0%} of it")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
