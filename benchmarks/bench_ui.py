"""The web UI's server side at scale: the JSON behind each page, timed over HTTP.

Two stores, built once and kept in ``benchmarks/.cache/`` (``generate_store.py``'s bulk
path):

* ``ui-runs-<N>``: N synthetic runs x 10 params x 10 metrics (default 1,000,000);
* ``ui-chart-<R>x<S>``: R runs with a ``loss`` history of S steps each
  (default 100 x 100,000 = 10 M points).

A real ``lakeml server`` serves each store on loopback; each figure is the wall time of
the HTTP request (server work, JSON and loopback), the first call and then the median of
``--repeat`` calls, and the server process's CPU time for the median call (from /proc: on
a machine shared with other work, wall times follow the load, CPU times do not). The runs
table asks for a page of 200 runs with 8 columns, as the page does. It prints figures and
never asserts.

``--parts chooser,draw`` adds two timings in Debian's headless Chromium (selenium and
chromedriver, as tests/ui): the column chooser of an experiment of 10 runs x ``--keys``
metric keys (``ui-keys-10x<keys>``) opened and searched, and the compare page of the
chart store's runs until its chart is drawn; each the time to the animation frame that
shows the result and the longest main-thread task meanwhile.

    .venv/bin/python benchmarks/bench_ui.py                       # 1 M runs (builds ~1 min)
    .venv/bin/python benchmarks/bench_ui.py --runs 100000 --chart-steps 10000   # quicker
    .venv/bin/python benchmarks/bench_ui.py --parts chooser,draw  # in Chromium
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import generate_store  # noqa: E402

import lakeml  # noqa: E402

API = "/ajax-api/lakeml"
COLUMNS = ["metrics.m1", "metrics.m2", "metrics.m3", "metrics.m4", "params.p1", "params.p2",
           "params.p3", "params.p4"]


def build_runs(store: Path, runs: int) -> None:
    if not store.exists():
        print(f"building {store} ({runs:,} runs)...", flush=True)
        generate_store.generate(str(store), runs, quiet=True)


def build_chart(store: Path, runs: int, steps: int) -> None:
    if store.exists():
        return
    print(f"building {store} ({runs} runs x {steps:,} steps)...", flush=True)
    client = lakeml.Client(str(store))
    exp = client.create_experiment("chart")
    ids = [client.create_run(exp, run_name=f"curve-{i}").info.run_id for i in range(runs)]
    client.flush()
    step = np.arange(steps, dtype=np.int64)
    for i, run_id in enumerate(ids):
        rng = np.random.default_rng(i)
        client.log_metric_histories(pa.table({
            "run_id": pa.array([run_id] * steps, pa.string()),
            "key": pa.array(["loss"] * steps),
            "value": 1.0 / (1 + step / 1000) + 0.05 * rng.standard_normal(steps),
            "step": step, "timestamp": 1_780_000_000_000 + step * 10}))
        if i % 10 == 9:
            client.flush()
    for run_id in ids:
        client.set_terminated(run_id)
    client.flush()


def build_keys(store: Path, runs: int, keys: int) -> None:
    """An experiment "wide" of ``runs`` runs that each log the same ``keys`` metric keys
    (k00000, k00001, ...)."""
    if store.exists():
        return
    print(f"building {store} ({runs} runs x {keys:,} metric keys)...", flush=True)
    client = lakeml.Client(str(store))
    exp = client.create_experiment("wide")
    for i in range(runs):
        run_id = client.create_run(exp, run_name=f"wide-{i}").info.run_id
        client.log_metric_histories(pa.table({
            "run_id": [run_id] * keys, "key": [f"k{j:05d}" for j in range(keys)],
            "value": np.arange(keys, dtype=np.float64) + i, "step": np.zeros(keys, np.int64),
            "timestamp": np.full(keys, 1_780_000_000_000, np.int64)}))
        client.set_terminated(run_id)
    client.flush()


def browser() -> Any:
    """Debian's headless Chromium through its chromedriver (as tests/ui/conftest.py)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    return driver


# Runs in the page: start the long-task observer, do arguments[0] (JS), then wait for
# arguments[1] (a JS expression) to hold at an animation frame; answers
# [ms from the action to that frame, the longest main-thread task meanwhile (ms)].
_TIMED_JS = """
const action = arguments[0], until = arguments[1], done = arguments[arguments.length - 1];
const long = [];
const watch = new PerformanceObserver(l => long.push(...l.getEntries().map(e => e.duration)));
try { watch.observe({type: 'longtask'}); } catch (e) {}
const t0 = performance.now();
new Function(action)();
const holds = new Function('return ' + until);
(function poll() {
  if (!holds()) { requestAnimationFrame(poll); return; }
  const spent = performance.now() - t0;
  setTimeout(() => { watch.disconnect(); done([spent, Math.max(0, ...long)]); }, 300);
})();
"""


def in_page(driver: Any, action: str, until: str) -> tuple[float, float]:
    """(ms until ``until`` holds after ``action``, the longest task meanwhile in ms)."""
    spent, longest = driver.execute_async_script(_TIMED_JS, action, until)
    return float(spent), float(longest)


def time_chooser(url: str, keys: int, rows: list[tuple[str, str, str, str]]) -> None:
    """Open the column chooser of the "wide" experiment and search it, in Chromium."""
    import httpx

    exp = next(e for e in httpx.get(url + API + "/experiments", headers=UI_HEADER,
                                    timeout=300).json()["experiments"] if e["name"] == "wide")
    driver = browser()
    try:
        for attempt in ("first", "again"):  # again: the keys are kept by the server
            driver.get("about:blank")  # a new page load, not a hash change
            driver.get(f"{url}/#/experiments/{exp['experiment_id']}")
            driver.execute_async_script(  # the runs table is there
                "const done = arguments[0]; (function poll() {"
                " if (document.querySelector('#columns-button') &&"
                " document.querySelectorAll('.vt-body .vt-row').length) done();"
                " else setTimeout(poll, 20); })();")
            opened = in_page(driver, "document.querySelector('#columns-button').click()",
                             "/keys match/.test((document.querySelector('.chooser p.muted')"
                             " || {}).textContent || '')")
            rows.append((f"open the chooser ({keys:,} keys; {attempt})", f"{opened[0]:,.0f} ms",
                         f"{opened[1]:,.0f} ms", "no visible stall"))
        labels = "[...document.querySelectorAll('.chooser-list label')].map(e => e.textContent)"
        for query, until, what in (
                ("k09999", f"JSON.stringify({labels}) === "
                           "JSON.stringify(['k09999 (10)'])", "1 match"),
                ("k01", "/^1,000 of/.test(document.querySelector('.chooser p.muted')"
                        ".textContent)", "1,000 matches, 150 shown"),
                ("", "/^([\\d,]+) of \\1 keys/.test(document.querySelector("
                     "'.chooser p.muted').textContent)", "cleared: every key")):
            action = ("const s = document.querySelector('#col-search');"
                      f"s.value = {query!r}; s.dispatchEvent(new Event('input'));")
            spent, longest = in_page(driver, action, until)
            rows.append((f"search the chooser for {query!r} ({what}; 60 ms debounce incl.)",
                         f"{spent:,.0f} ms", f"{longest:,.0f} ms", "no visible stall"))
    finally:
        driver.quit()


def experiment_runs(url: str, name: str) -> tuple[dict[str, Any], list[str]]:
    """The experiment ``name`` (as the UI's API lists it) and the ids of its newest
    1,000 runs."""
    import httpx

    exp = next(e for e in httpx.get(url + API + "/experiments", headers=UI_HEADER,
                                    timeout=300).json()["experiments"] if e["name"] == name)
    ids = [r["run_id"] for r in httpx.get(
        url + API + "/runs", params={"experiment_id": exp["experiment_id"],
                                     "max_results": 1000},
        headers=UI_HEADER, timeout=300).json()["runs"]]
    return exp, ids


def time_drawn(url: str, rows: list[tuple[str, str, str, str]]) -> None:
    """The compare page of every run of the "chart" experiment, in Chromium: from
    navigation until the chart of ``loss`` is drawn (uPlot's canvas, every series)."""
    exp, ids = experiment_runs(url, "chart")
    query = "&".join(f"run={i}" for i in ids) + "&metric=loss"
    driver = browser()
    try:
        for attempt in ("a new answer", "again: kept answer"):
            driver.get("about:blank")  # a new page load, not a hash change
            driver.get(f"{url}/#/compare?{query}")
            spent = driver.execute_async_script(
                "const n = arguments[0], done = arguments[1]; (function poll() {"
                " if (document.querySelector("
                "`#compare-chart figure[data-series='${n}'] canvas`)) done(performance.now());"
                " else requestAnimationFrame(poll); })();", len(ids))
            arrived = driver.execute_script(
                "return Math.max(...performance.getEntriesByType('resource')"
                ".filter(e => e.name.includes('/metric-history')).map(e => e.responseEnd));")
            rows.append((f"compare page of {len(ids)} runs, chart drawn from navigation "
                         f"({attempt})", f"{spent:,.0f} ms", "-", "<= 1 s (data) + <= 1 s"))
            rows.append((f"  of which: its data in the page ({attempt})",
                         f"{arrived:,.0f} ms", "-", "<= 1 s"))
            rows.append((f"  of which: drawn after its data arrived ({attempt})",
                         f"{spent - arrived:,.0f} ms", "-", "<= 1 s"))
    finally:
        driver.quit()


def time_compare(url: str, rows: list[tuple[str, str, str, str]]) -> None:
    """In Chromium, on the runs store: its runs page, from navigation until rows are
    drawn; the compare page of 1,000 of its runs, from navigation until its table has a
    column per run and its chart of ``m1`` draws every series."""
    exp, ids = experiment_runs(url, "synthetic")
    query = "&".join(f"run={i}" for i in ids) + "&metric=m1"
    driver = browser()
    try:
        for attempt in ("first", "again"):  # the runs table of the 1 M runs
            driver.get("about:blank")
            driver.get(f"{url}/#/experiments/{exp['experiment_id']}")
            spent = driver.execute_async_script(
                "const done = arguments[0]; (function poll() {"
                " if (document.querySelectorAll('.vt-body .vt-row').length >= 10)"
                " done(performance.now()); else requestAnimationFrame(poll); })();")
            rows.append((f"runs page of {exp['runs']:,} runs, first rows drawn from "
                         f"navigation ({attempt})", f"{spent:,.0f} ms", "-", "<= 1 s"))
        for attempt in ("first", "again"):
            driver.get("about:blank")
            driver.get(f"{url}/#/compare?{query}")
            spent = driver.execute_async_script(
                "const n = arguments[0], done = arguments[1]; (function poll() {"
                " const head = document.querySelector('#compare-table thead tr');"
                " if (head && head.children.length === n + 1 && document.querySelector("
                "`#compare-chart figure[data-series='${n}'] canvas`)) done(performance.now());"
                " else requestAnimationFrame(poll); })();", len(ids))
            rows.append((f"compare page of {len(ids):,} runs, table and chart drawn from "
                         f"navigation ({attempt})", f"{spent:,.0f} ms", "-", "<= 2 s"))
    finally:
        driver.quit()


SERVER_PID: list[int] = []


def server_cpu() -> float:
    """The serving process's CPU time (user + system) so far, in s; 0 off Linux."""
    try:
        fields = Path(f"/proc/{SERVER_PID[-1]}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(store: Path, *options: str) -> Iterator[str]:
    """``lakeml server`` on ``store`` (with ``options``) on a free loopback port; its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LAKEML_STORE", None)
    proc = subprocess.Popen([sys.executable, "-m", "lakeml", "server", "--store", str(store),
                             "--port", str(port), "--log-level", "warning", *options],
                            env=env)
    SERVER_PID.append(proc.pid)
    url = f"http://127.0.0.1:{port}"
    import httpx

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("lakeml server did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


UI_HEADER = {"X-Lakeml-UI": "1"}  # the UI API refuses calls without it


def timed(url: str, path: str, params: Any, repeat: int, *, post: bool = False
          ) -> tuple[float, float, float, Any]:
    """First call and median of ``repeat`` more, in ms; the server's CPU ms for the
    median call; and the last body. ``post``: the parameters as a JSON body."""
    import httpx

    times, cpus = [], []
    body = None
    for _ in range(repeat + 1):
        t0, c0 = time.perf_counter(), server_cpu()
        r = (httpx.post(url + API + path, json=params, timeout=300, headers=UI_HEADER) if post
             else httpx.get(url + API + path, params=params, timeout=300, headers=UI_HEADER))
        times.append((time.perf_counter() - t0) * 1000)
        cpus.append((server_cpu() - c0) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path} answered {r.status_code}: {r.text[:300]}")
        body = r.json()
    rest = sorted(zip(times[1:], cpus[1:])) or [(times[0], cpus[0])]
    return times[0], statistics.median(times[1:] or times), rest[len(rest) // 2][1], body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--chart-runs", type=int, default=100)
    parser.add_argument("--chart-steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--parts", default="runs,charts",
                        help="comma-separated parts to time: runs, charts (server side), "
                             "chooser (the column chooser, in headless Chromium), draw (a "
                             "chart of the chart store drawn, in Chromium), compare (the "
                             "compare page of 1,000 runs, in Chromium)")
    parser.add_argument("--keys", type=int, default=10_000, help="chooser: keys (10,000)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    args.cache.mkdir(parents=True, exist_ok=True)
    runs_store = args.cache / f"ui-runs-{args.runs}"
    chart_store = args.cache / f"ui-chart-{args.chart_runs}x{args.chart_steps}"
    if parts & {"runs", "compare"}:
        build_runs(runs_store, args.runs)
    if parts & {"charts", "draw"}:
        build_chart(chart_store, args.chart_runs, args.chart_steps)
    keys_store = args.cache / f"ui-keys-10x{args.keys}"
    if "chooser" in parts:
        build_keys(keys_store, 10, args.keys)
    rows: list[tuple[str, float, float, float, str]] = []
    loads = [os.getloadavg()[0]]

    if "runs" in parts:
        with server(runs_store) as url:
            exps = timed(url, "/experiments", {}, args.repeat)
            exp = next(e for e in exps[3]["experiments"] if e["name"] == "synthetic")
            rows.append((f"experiments list (run counts of {exp['runs']:,} runs)", *exps[:3],
                         "-"))
            page = {"experiment_id": exp["experiment_id"], "column": COLUMNS, "max_results": 200}
            first = timed(url, "/runs", page, args.repeat)
            rows.append(("runs table, first page (newest first)", *first[:3], "<= 300 ms"))
            token = first[3]["next_page_token"]
            rows.append(("runs table, next page (token)",
                         *timed(url, "/runs", {**page, "page_token": token}, args.repeat)[:3],
                         "<= 300 ms"))
            rows.append(("runs table, sorted by metrics.m1",
                         *timed(url, "/runs", {**page, "order": "metrics.m1 ASC"},
                                args.repeat)[:3], "<= 300 ms"))
            rows.append(("runs table, filter metrics.m1 < 0.1 and params.p1 = 'a'",
                         *timed(url, "/runs", {**page, "filter": "metrics.m1 < 0.1 and "
                                               "params.p1 = 'a'"}, args.repeat)[:3],
                         "<= 300 ms"))
            rows.append(("column chooser keys (every key, with run counts)",
                         *timed(url, "/keys", {"experiment_id": exp["experiment_id"]},
                                args.repeat)[:3], "-"))
            ids = [r["run_id"] for r in timed(url, "/runs", {**page, "max_results": 1000},
                                              0)[3]["runs"]]
            rows.append(("compare 100 runs", *timed(url, "/compare", {"run_id": ids[:100]},
                                                    args.repeat)[:3], "-"))
            rows.append(("compare 1,000 runs (POST)", *timed(url, "/compare", {"run_id": ids},
                                                             args.repeat, post=True)[:3],
                         "<= 2 s"))
            loads.append(os.getloadavg()[0])

    if "charts" in parts:
        with server(chart_store) as url:
            exp = next(e for e in timed(url, "/experiments", {}, 0)[3]["experiments"]
                       if e["name"] == "chart")
            ids = [r["run_id"] for r in timed(url, "/runs", {"experiment_id": exp["experiment_id"],
                                                             "max_results": 1000}, 0)[3]["runs"]]
            one = timed(url, "/metric-history", {"run_id": ids[:1], "key": "loss"}, args.repeat)
            rows.append((f"chart data, 1 run x {args.chart_steps:,} steps", *one[:3], "-"))
            # each call a new answer (another max_points): what a chart not seen before costs
            fresh = [timed(url, "/metric-history", {"run_id": ids, "key": "loss",
                                                    "max_points": 2000 - i}, 0)
                     for i in range(1, max(2, args.repeat) + 1)]
            middle = sorted(fresh, key=lambda t: t[1])[len(fresh) // 2]
            sent = sum(len(s["value"]) for s in middle[3]["series"])
            source = ("metric_buckets" if all(s.get("bucket_width") for s in middle[3]["series"])
                      else "raw points")
            rows.append((f"chart data, {len(ids)} runs x {args.chart_steps:,} steps "
                         f"({sent:,} points sent, from {source}), a new answer each call",
                         fresh[0][0],
                         middle[1], middle[2], "<= 1 s"))
            many = timed(url, "/metric-history", {"run_id": ids, "key": "loss"}, args.repeat)
            rows.append((f"chart data, {len(ids)} runs, the same chart again (kept answer)",
                         *many[:3], "<= 1 s"))
            loads.append(os.getloadavg()[0])

    page_rows: list[tuple[str, str, str, str]] = []
    if "chooser" in parts:
        with server(keys_store) as url:
            time_chooser(url, args.keys, page_rows)
    if "draw" in parts:
        with server(chart_store) as url:
            time_drawn(url, page_rows)
    if "compare" in parts:
        with server(runs_store) as url:
            time_compare(url, page_rows)
    if page_rows:
        loads.append(os.getloadavg()[0])
        print(f"\nWeb UI in headless Chromium (1280x900): load average {loads[-1]:.1f}\n")
        print("| action | time to the frame that shows it | longest main-thread task | "
              "target |")
        print("|---|---|---|---|")
        for row in page_rows:
            print("| " + " | ".join(row) + " |")
    if not rows:
        return
    print(f"\nWeb UI server side: lakeml {lakeml.__version__}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, "
          f"load average {' / '.join(f'{x:.1f}' for x in loads)} (start / runs / charts); "
          f"median of {args.repeat} after a first call\n")
    print("| request | first call | median | server CPU (median call) | target |")
    print("|---|---|---|---|---|")
    for name, cold, warm, cpu, target in rows:
        print(f"| {name} | {cold:,.0f} ms | {warm:,.0f} ms | {cpu:,.0f} ms | {target} |")

if __name__ == "__main__":
    main()
