"""`lakeml run` and lakeml.projects.run on the example projects, in real processes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import lakeml
from lakeml.errors import NotFound
from lakeml.projects import ExecutionError

from .conftest import EXAMPLES, lakeml_cli, run_id_of

LOCAL = EXAMPLES / "local_project"


def expected_rmse(alpha: float) -> float:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_squared_error
    from sklearn.model_selection import train_test_split

    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = Ridge(alpha=alpha, max_iter=100).fit(X_train, y_train)
    return mean_squared_error(y_test, model.predict(X_test)) ** 0.5


def git_head(folder: Path) -> str | None:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                          text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


@pytest.mark.slow
def test_local_project_runs_and_its_child_logs_into_the_same_run(tmp_path):
    store = str(tmp_path / "lake")
    proc = lakeml_cli("run", str(LOCAL), "-P", "alpha=0.5", "-P", "extra=a b",
                      "--experiment", "projects", "--store", store, "--format", "json")
    run_id = run_id_of(proc)
    assert "trained ridge alpha=0.5" in proc.stdout  # the child's output passes through
    client = lakeml.Client(store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"alpha": "0.5", "max_iter": "100", "data_note": "diabetes",
                               "extra": "a b"}
    assert run.data.metrics["rmse"] == pytest.approx(expected_rmse(0.5), rel=1e-9)
    tags = run.data.tags
    assert tags["child.run_id_env"] == run_id and tags["child.extra"] == "a b"
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.name"] == str(LOCAL)
    assert tags["mlflow.project.env"] == "local"
    assert tags["lakeml.project.command"].endswith("--extra 'a b'")
    assert tags.get("mlflow.source.git.commit") == git_head(LOCAL)
    exp = client.get_experiment_by_name("projects")
    assert [i.run_id for i in client.list_runs(exp.experiment_id)] == [run_id]


@pytest.mark.slow
def test_failing_command_passes_its_status_and_output_and_ends_the_run_failed(tmp_path):
    store = str(tmp_path / "lake")
    proc = lakeml_cli("run", str(LOCAL), "-e", "fail", "--experiment", "f", "--store", store)
    assert proc.returncode == 3
    assert "about to fail" in proc.stdout
    assert "FAILED" in proc.stderr and "exited with status 3" in proc.stderr
    client = lakeml.Client(store)
    (info,) = client.list_runs(client.get_experiment_by_name("f").experiment_id)
    assert info.status == "FAILED"


@pytest.mark.parametrize(("args", "message"), [
    (["-P", "alpha=abc"], "parameter 'alpha' must be a float, got 'abc'"),
    (["-P", "max_iter=ten"], "parameter 'max_iter' must be an int, got 'ten'"),
    (["-e", "needs_path"], r"needs parameter(s) ['table'] that have no default"),
    (["-e", "nope"], "has no entry point 'nope'"),
    (["-P", "alpha"], "-P 'alpha': give parameters as name=value"),
])
def test_bad_parameters_fail_before_any_run_with_a_clear_error(tmp_path, capsys, args,
                                                              message):
    from lakeml.cli import main

    store = str(tmp_path / "lake")
    assert main(["run", str(LOCAL), *args, "--experiment", "bad", "--store", store]) == 1
    assert message in capsys.readouterr().err
    assert lakeml.Client(store).get_experiment_by_name("bad") is None  # nothing created


def test_api_run_is_asynchronous_and_can_be_cancelled(tmp_path):
    store = str(tmp_path / "lake")
    submitted = lakeml.projects.run(LOCAL, "sleep", synchronous=False, store=store)
    assert submitted.get_status() == "RUNNING"
    assert lakeml.Client(store).get_run(submitted.run_id).info.status == "RUNNING"
    submitted.cancel()
    assert submitted.get_status() == "KILLED"
    assert submitted.returncode is not None and submitted.returncode < 0  # by a signal
    assert lakeml.Client(store).get_run(submitted.run_id).info.status == "KILLED"
    assert submitted.wait() is False


@pytest.mark.slow
def test_api_run_synchronous_raises_when_the_command_fails(tmp_path):
    store = str(tmp_path / "lake")
    with pytest.raises(ExecutionError, match="exited with status 3"):
        lakeml.projects.run(LOCAL, "fail", store=store, experiment_name="sync")
    done = lakeml.projects.run(LOCAL, "show_args.py", {"x": "1"}, store=store,
                               experiment_name="sync")
    assert done.get_status() == "FINISHED" and done.returncode == 0
    run = lakeml.Client(store).get_run(done.run_id)
    assert run.data.params == {"x": "1"}
    assert run.data.tags["lakeml.project.command"] == "python show_args.py --x 1"


def make_repo(src: Path, repo: Path) -> tuple[str, str]:
    """A git repository of ``src`` with two commits (VERSION 1, then 2)."""
    shutil.copytree(src, repo)

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q", "-b", "main")
    git("config", "user.email", "test@example.com")
    git("config", "user.name", "test")
    git("add", ".")
    git("commit", "-q", "-m", "version 1")
    first = git("rev-parse", "HEAD")
    (repo / "VERSION").write_text("2\n")
    git("commit", "-q", "-am", "version 2")
    git("branch", "old", first)
    return first, git("rev-parse", "HEAD")


@pytest.mark.slow
def test_git_project_runs_at_the_commit_or_branch_asked_for(tmp_path):
    first, second = make_repo(EXAMPLES / "git_project", tmp_path / "repo")
    store = str(tmp_path / "lake")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}  # where the clones go: they must be removed afterwards
    client = lakeml.Client(store)
    repo = str(tmp_path / "repo")
    cases = [(repo, ["--version", first], first, "1"),
             (f"file://{repo}", ["--version", "old"], first, "1"),  # a branch, by URL
             (repo, [], second, "2")]  # no version: the folder as it is, in place
    for uri, args, commit, version in cases:
        proc = lakeml_cli("run", uri, *args, "-P", "greeting=hi", "--store", store,
                          "--format", "json", env=env)
        run = client.get_run(run_id_of(proc))
        assert run.data.params == {"greeting": "hi", "code_version": version}, args
        assert run.data.tags["mlflow.source.git.commit"] == commit
        assert run.data.tags["mlflow.source.name"] == uri
        assert run.data.tags["greeting"] == "hi"
        assert run.data.tags.get("lakeml.project.version") == (args[1] if args else None)
    assert list(scratch.iterdir()) == []
    proc = lakeml_cli("run", str(tmp_path / "repo"), "--version", "v9", "--store", store,
                      env=env)
    assert proc.returncode == 1
    assert "version 'v9' is not a commit, branch or tag" in proc.stderr
    assert list(scratch.iterdir()) == []


def test_conda_and_docker_projects_say_what_is_missing(tmp_path):
    store = str(tmp_path / "lake")
    if shutil.which("conda") is None and shutil.which("mamba") is None:
        with pytest.raises(NotFound, match="declares conda_env 'conda.yaml' but conda is not "
                                           "on PATH.*--env-manager local"):
            lakeml.projects.run(EXAMPLES / "conda_project", store=store)
    docker = shutil.which("docker")
    engine = docker is not None and subprocess.run(
        [docker, "info"], capture_output=True, timeout=30).returncode == 0
    if not engine:
        with pytest.raises(NotFound, match="docker_env image 'python:3.11-slim' but (docker is "
                                           "not on PATH|no Docker engine is reachable)"):
            lakeml.projects.run(EXAMPLES / "docker_project", store=store)
    if engine and shutil.which("conda"):
        pytest.skip("conda and a Docker engine are both here: nothing is missing")
    # with --env-manager local the same projects run in the current environment
    done = lakeml.projects.run(EXAMPLES / "conda_project", env_manager="local", store=store)
    assert done.get_status() == "FINISHED"


def sigint_by_default() -> None:
    """As in a terminal: Ctrl-C's signal acts (a background job, as CI may run the tests,
    starts with SIGINT ignored, and a process keeps ignoring it then)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_sleeping_run(store: str) -> subprocess.Popen[str]:
    """`lakeml run` of the example's two-minute `sleep` entry point, in experiment "c"."""
    import sys

    return subprocess.Popen([sys.executable, "-m", "lakeml", "run", str(LOCAL), "-e", "sleep",
                             "--experiment", "c", "--store", store],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_by_default)


@pytest.mark.slow
def test_ctrl_c_on_lakeml_run_stops_the_command_and_ends_the_run_killed(tmp_path):
    import os
    import signal
    import time

    psutil = pytest.importorskip("psutil")
    store = str(tmp_path / "lake")
    proc = start_sleeping_run(store)
    def command_started() -> bool:  # not just any child (git runs first)
        return any("time.sleep" in " ".join(child.cmdline())
                   for child in psutil.Process(proc.pid).children(recursive=True))

    deadline = time.monotonic() + 60
    while not command_started() and time.monotonic() < deadline:
        time.sleep(0.05)
    client = lakeml.Client(store)
    (info,) = client.list_runs(client.get_experiment_by_name("c").experiment_id)
    assert info.status == "RUNNING"
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"run {info.run_id} KILLED" in err
    assert client.get_run(info.run_id).info.status == "KILLED"


def test_fetch_takes_a_subfolder_and_cleans_up_its_clone(tmp_path):
    from lakeml.errors import InvalidArgument
    from lakeml.projects import source

    outer = tmp_path / "outer"
    first, _ = make_repo(EXAMPLES / "git_project", outer / "sub" / "proj")
    in_place = source.fetch(f"{outer}/sub#proj")
    assert in_place.folder == (outer / "sub" / "proj").resolve()
    assert in_place.temporary is None and in_place.git_commit is not None
    clone = source.fetch(f"{outer}/sub/proj#", version=first)
    assert (clone.folder / "VERSION").read_text().strip() == "1"
    assert clone.git_commit == first
    assert (outer / "sub" / "proj" / "VERSION").read_text().strip() == "2"  # untouched
    temporary = clone.temporary
    clone.cleanup()
    assert temporary is not None and not temporary.exists()
    with pytest.raises(InvalidArgument, match="must stay inside the repository"):
        source.fetch(f"{outer}#../x")
    with pytest.raises(NotFound, match="no folder 'nope'"):
        source.fetch(f"{outer}/sub#nope")


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0])
def test_ctrl_c_at_any_moment_leaves_no_running_run_or_command(tmp_path, delay):
    import signal
    import time

    psutil = pytest.importorskip("psutil")
    store = str(tmp_path / "lake")
    proc = start_sleeping_run(store)
    started = time.time() - 1
    time.sleep(delay)  # somewhere in: starting up, fetching, creating the run, launching
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode in (130, 1, -signal.SIGINT), proc.returncode
    time.sleep(0.5)
    survivors = [p for p in psutil.process_iter(["cmdline", "create_time", "status"])
                 if p.info["create_time"] >= started and p.info["status"] != "zombie"
                 and "time.sleep(120)" in " ".join(p.info["cmdline"] or [])]
    assert survivors == []
    exp = lakeml.Client(store).get_experiment_by_name("c") if (tmp_path / "lake").exists() \
        else None
    if exp is not None:
        statuses = {i.status for i in lakeml.Client(store).list_runs(exp.experiment_id)}
        assert statuses <= {"KILLED"}, statuses
