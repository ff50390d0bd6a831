"""A real S3 endpoint for the tests: moto's server on loopback (``moto_server`` from the
``moto[server]`` package), one per session, and the environment that points lakeml,
deltalake and s3fs at it."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

START_TIMEOUT = 60.0
BUCKET = "lakeml-tests"


def s3_environment(endpoint: str, cache: Path) -> dict[str, str]:
    """What a process needs to use ``s3://`` stores on ``endpoint``: the standard AWS
    variables (read by deltalake, s3fs and boto3 alike) and a file cache of its own."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
            "LAKEML_FILE_CACHE": str(cache)}


@contextlib.contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """Start moto's S3 server on a free loopback port; yield its URL; stop it."""
    import httpx

    executable = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    if executable is None:
        pytest.fail("moto_server is missing: install the dev extra (moto[server])")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([executable, "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"moto_server exited with {proc.returncode}: {log.read_text()}")
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer in {START_TIMEOUT} s")
                time.sleep(0.2)
        create_bucket(url, BUCKET)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def create_bucket(endpoint: str, name: str) -> None:
    """A plain CreateBucket (s3fs's mkdir sends a location constraint moto refuses)."""
    import boto3

    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1"
                 ).create_bucket(Bucket=name)


def fresh_prefix() -> str:
    """A store URI of its own in the session's bucket."""
    return f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}"
