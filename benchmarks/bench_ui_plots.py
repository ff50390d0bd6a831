"""The web UI's plots and its per-user permission checks, timed over HTTP.

The store is bench_ui.py's ``ui-runs-<N>`` (N synthetic runs x 10 params x 10 metrics,
built once into ``benchmarks/.cache/``). A real ``lakeml server --auth-file`` serves it on
loopback with two users: ``root`` (admin: no checks) and ``ann`` (READ by default, so
every check runs and passes). Each figure is the wall time of the HTTP request, the
first call and the median of ``--repeat`` more: the plots' data (``/points``) of an
experiment's runs (at most 5,000) and of 1,000 picked runs, and the comparison of 1,000
runs, as the admin and as ann (the difference is the cost of the permission checks). It
prints figures and never asserts.

    .venv/bin/python benchmarks/bench_ui_plots.py --runs 100000
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bench_ui  # noqa: E402

import lakeml  # noqa: E402

USERS = {"root": "root-password-1", "ann": "ann-password-1"}


def server(store: Path, auth_file: Path) -> contextlib.AbstractContextManager[str]:
    """bench_ui's server, with users (``auth_file``)."""
    return bench_ui.server(store, "--auth-file", str(auth_file))


def timed(url: str, user: str, path: str, body: dict[str, Any], repeat: int
          ) -> tuple[float, float, Any]:
    """First call and median of ``repeat`` more, in ms (a POST of JSON, as the page sends
    long lists); and the last body."""
    import httpx

    auth = "Basic " + base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    times, out = [], None
    for _ in range(repeat + 1):
        t0 = time.perf_counter()
        r = httpx.post(url + bench_ui.API + path, json=body, timeout=300,
                       headers={"Authorization": auth, **bench_ui.UI_HEADER})
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path} answered {r.status_code}: {r.text[:300]}")
        out = r.json()
    return times[0], statistics.median(times[1:] or times), out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    store = args.cache / f"ui-runs-{args.runs}"
    bench_ui.build_runs(store, args.runs)
    from lakeml.server.users import AuthFile

    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        users = AuthFile(Path(tmp) / "auth.json")
        for name, password in USERS.items():
            users.add_user(name, password, admin=name == "root")
        with server(store, users.path) as url:
            exp = next(e for e in timed(url, "root", "/experiments", {}, 0)[2]["experiments"]
                       if e["name"] == "synthetic")
            page = timed(url, "root", "/runs", {"experiment_id": [exp["experiment_id"]],
                                                "max_results": "1000"}, 0)[2]
            ids = [r["run_id"] for r in page["runs"]]
            for user in ("root", "ann"):
                who = "admin" if user == "root" else "user (checks)"
                cold, warm, body = timed(url, user, "/points",
                                         {"experiment_id": [exp["experiment_id"]]}, args.repeat)
                rows.append((f"plots of an experiment ({len(body['runs']):,} runs, "
                             f"{len(body['chosen_params'])} params + 1 metric), {who}",
                             cold, warm))
                rows.append((f"plots of {len(ids):,} picked runs, {who}",
                             *timed(url, user, "/points", {"run_id": ids}, args.repeat)[:2]))
                rows.append((f"compare {len(ids):,} runs, {who}",
                             *timed(url, user, "/compare", {"run_id": ids}, args.repeat)[:2]))
    load = os.getloadavg()[0]
    print(f"\nWeb UI plots and permissions: lakeml {lakeml.__version__}; store of "
          f"{args.runs:,} runs; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"{os.cpu_count()} cores, load average {load:.1f}; median of {args.repeat} after "
          "a first call\n")
    print("| request | first call | median |")
    print("|---|---|---|")
    for name, cold, warm in rows:
        print(f"| {name} | {cold:,.0f} ms | {warm:,.0f} ms |")


if __name__ == "__main__":
    main()
