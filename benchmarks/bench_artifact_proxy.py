"""The mlflow-artifacts proxy: one large file up and down, lakeml server beside mlflow server.

Both servers get the same plain-HTTP client (stdlib ``http.client``): the file is
PUT to ``/api/2.0/mlflow-artifacts/artifacts/<path>`` in 1 MiB chunks (chunked transfer,
as a streaming client sends) and read back with GET. Printed: MB/s each way and the
growth of the server's resident memory (its whole process tree) over the transfer,
which shows whether a server streams the file or holds it whole.

    python benchmarks/bench_artifact_proxy.py [--mb 256]

mlflow server runs from MLflow's venv (benchmarks/.venv-mlflow, or the interpreter in
LAKEML_MLFLOW_PYTHON), with a sqlite backend and ``--artifacts-destination``; without
it only lakeml is measured. Loopback only.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_common import ROOT, markdown
from bench_http import HOST, free_port, stop_server

CHUNK = 1 << 20


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 180.0) -> None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout} s")


class PeakRss:
    """The peak resident memory of a process tree, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._proc = psutil.Process(pid)
        self.peak = self.start = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        procs = [self._proc, *self._proc.children(recursive=True)]
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except Exception:  # a child that just ended
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def growth_mb(self) -> float:
        self._stop.set()
        self._thread.join()
        return (self.peak - self.start) / 1e6


def transfer(port: int, pid: int, path: str, size_mb: int) -> dict[str, float]:
    block = os.urandom(CHUNK)
    watch = PeakRss(pid)
    conn = http.client.HTTPConnection(HOST, port, timeout=600)
    t0 = time.perf_counter()
    conn.request("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{path}",
                 body=(block for _ in range(size_mb)), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked",
                          "Content-Type": "application/octet-stream"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"upload answered {response.status}")
    up = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.request("GET", f"/api/2.0/mlflow-artifacts/artifacts/{path}")
    response = conn.getresponse()
    got = 0
    while chunk := response.read(CHUNK):
        got += len(chunk)
    down = time.perf_counter() - t0
    conn.close()
    if got != size_mb * CHUNK:
        raise RuntimeError(f"downloaded {got} bytes, uploaded {size_mb * CHUNK}")
    mb = size_mb * CHUNK / 1e6
    return {"up": mb / up, "down": mb / down, "rss": watch.growth_mb()}


def mlflow_python() -> Path | None:
    named = os.environ.get("LAKEML_MLFLOW_PYTHON")
    python = Path(named) if named else ROOT / "benchmarks" / ".venv-mlflow" / "bin" / "python"
    return python if python.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="file size in MiB (default 256)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        lake = subprocess.Popen([sys.executable, "-m", "lakeml", "server", "--store",
                                 f"{tmp}/lake", "--port", str(port), "--log-level", "warning"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(lake, port)
            rows.append(("lakeml server", transfer(port, lake.pid, "0/bench/big.bin", args.mb)))
        finally:
            stop_server(lake)
        python = mlflow_python()
        if python is not None:
            port = free_port()
            mlflow = subprocess.Popen(
                [str(python), "-m", "mlflow", "server", "--backend-store-uri",
                 f"sqlite:///{tmp}/mlflow.db", "--artifacts-destination", f"{tmp}/mlartifacts",
                 "--host", HOST, "--port", str(port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_ready(mlflow, port)
                rows.append(("mlflow server", transfer(port, mlflow.pid, "0/bench/big.bin",
                                                       args.mb)))
            finally:
                stop_server(mlflow)
        else:
            print("(no MLflow venv: run benchmarks/setup_mlflow.sh or set "
                  "LAKEML_MLFLOW_PYTHON to compare with mlflow server)")
    print(f"mlflow-artifacts proxy, one {args.mb} MiB file, loopback, 1 MiB chunks")
    print(markdown(["server", "upload MB/s", "download MB/s", "server RSS growth MB"],
                   [[name, f"{r['up']:.0f}", f"{r['down']:.0f}", f"{r['rss']:.0f}"]
                    for name, r in rows]))


if __name__ == "__main__":
    main()
