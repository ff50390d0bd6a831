"""Running one entry point of a project as a lakeml run, in a child process.

The parent creates the run (params, source and entry point as tags), then
starts the command with ``LAKEML_RUN_ID`` and ``LAKEML_STORE`` set, so that
``lakeml.start_run()`` (or a first ``log_*`` call) in the child resumes that
run instead of starting another. The child's output goes straight to the
parent's stdout and stderr; its exit status decides how the run ends. A guard
process stands between them (lakeml/projects/guard.py): when the parent dies,
even by ``kill -9``, the command and everything it started die too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from lakeml import config
from lakeml.projects import envs, source, spec
from lakeml.projects.submitted import ExecutionError, SubmittedRun

if TYPE_CHECKING:
    from lakeml.client import Client

# Tag names as MLflow's projects write them, so MLflow-minded queries find them.
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
GIT_COMMIT = "mlflow.source.git.commit"
GIT_REPO = "mlflow.source.git.repoURL"
ENTRY_POINT = "mlflow.project.entryPoint"
ENV_MANAGER = "mlflow.project.env"
BACKEND = "mlflow.project.backend"
VERSION = "lakeml.project.version"
COMMAND = "lakeml.project.command"
ENV_HASH = "lakeml.project.envHash"


def client_for(store: str | os.PathLike[str] | None) -> Client:
    """A client of ``store``, or of the store in force (set_store, LAKEML_STORE…)."""
    from lakeml.client import Client

    return Client(os.fspath(store) if store is not None else config.store_uri())


def experiment_for(client: Client, experiment_name: str | None,
                   experiment_id: str | None) -> str:
    """The experiment id to run in: by name (created if missing), by id, or the default."""
    from lakeml.errors import AlreadyExists, InvalidArgument

    if experiment_name is not None and experiment_id is not None:
        raise InvalidArgument("give experiment_name or experiment_id, not both")
    if experiment_id is not None:
        return client.get_experiment(str(experiment_id)).experiment_id
    name = experiment_name or config.get("experiment_name")
    if name:
        exp = client.get_experiment_by_name(name)
        if exp is None:
            try:
                return client.create_experiment(name)
            except AlreadyExists:
                exp = client.get_experiment_by_name(name)  # created concurrently
        assert exp is not None
        return exp.experiment_id
    return str(config.get("experiment_id") or "0")


def guarded(argv: list[str]) -> list[str]:
    """``argv`` run by the guard (lakeml/projects/guard.py), which ends the command and
    everything it started when this process dies, even by ``kill -9``. (Without a
    Python interpreter to run it, as in some embedded hosts, ``argv`` runs bare.)"""
    if not sys.executable:
        return list(argv)
    return [sys.executable, "-I", "-S", str(Path(__file__).with_name("guard.py")),
            str(os.getpid()), "--", *argv]


def launch(client: Client, fetched: source.FetchedProject, project: spec.Project,
           entry_point: str, parameters: Mapping[str, Any] | None, *, experiment_id: str,
           env: envs.Environment, run_name: str | None = None,
           parent_run_id: str | None = None, tags: Mapping[str, str] | None = None,
           version: str | None = None, cwd: Path | None = None,
           on_exit: Any = None, check: Any = None) -> SubmittedRun:
    """Create the run and start the command of ``entry_point``; do not wait for it."""
    entry = project.entry_point(entry_point)
    declared, extra = entry.resolve(dict(parameters or {}), project_dir=project.folder, cwd=cwd)
    command = entry.command_line(declared, extra)
    all_tags = {SOURCE_NAME: fetched.uri, SOURCE_TYPE: "PROJECT", ENTRY_POINT: entry.name,
                ENV_MANAGER: env.manager, BACKEND: "local", COMMAND: command}
    if fetched.git_commit:
        all_tags[GIT_COMMIT] = fetched.git_commit
    if fetched.git_repo:
        all_tags[GIT_REPO] = fetched.git_repo
    if version is not None:
        all_tags[VERSION] = version
    if env.content_hash:
        all_tags[ENV_HASH] = env.content_hash
    all_tags.update(tags or {})
    run = client.create_run(experiment_id, tags=all_tags, run_name=run_name,
                            parent_run_id=parent_run_id)
    run_id = run.info.run_id
    try:
        client.log_batch(run_id, params={**declared, **extra})
        client.store.flush(report=False)  # the child reads the run from the store
        child_env = {k: v for k, v in os.environ.items()
                     if k not in ("LAKEML_EXPERIMENT_NAME", "LAKEML_RUN_ID")}
        child_env.update(LAKEML_RUN_ID=run_id, LAKEML_STORE=client.store_uri,
                         LAKEML_EXPERIMENT_ID=experiment_id)
        process = subprocess.Popen(guarded(env.argv(command)), cwd=project.folder,
                                   env=env.environ(child_env), start_new_session=True)
    except BaseException as exc:
        client.set_terminated(run_id, "KILLED" if isinstance(exc, KeyboardInterrupt)
                              else "FAILED")
        client.store.flush(report=False)
        raise
    return SubmittedRun(client, run_id, process, command, on_exit=on_exit, check=check)


def run(uri: str | os.PathLike[str], entry_point: str = "main",
        parameters: Mapping[str, Any] | None = None, *, version: str | None = None,
        experiment_name: str | None = None, experiment_id: str | None = None,
        env_manager: str | None = None, synchronous: bool = True,
        run_name: str | None = None, store: str | os.PathLike[str] | None = None
        ) -> SubmittedRun:
    """Run entry point ``entry_point`` of the project at ``uri`` as a new lakeml run.

    Args:
        uri: a project folder, or a git repository (path, file:// or remote URL;
            ``#subdir`` for a project inside it).
        entry_point: an entry point of the MLproject file, or a .py/.sh file.
        parameters: values by name; checked against the declared types, with the
            declared defaults filled in; undeclared ones are passed as ``--k v``.
        version: a git commit, branch or tag to check out (in a fresh clone).
        experiment_name / experiment_id: where the run goes (a missing name is
            created); default LAKEML_EXPERIMENT_NAME/_ID, else Default.
        env_manager: local, virtualenv, conda or docker; default from the
            project's python_env / conda_env / docker_env, else local.
        synchronous: wait for the command; raise ExecutionError if it fails.
        store: the store to log into; default the store in force.

    Returns:
        The SubmittedRun (already finished if ``synchronous``).

    Example:
        >>> submitted = lakeml.projects.run("tests/projects/examples/local_project",
        ...                                 parameters={"alpha": 0.3})   # doctest: +SKIP
        >>> submitted.get_status()                                       # doctest: +SKIP
        'FINISHED'
    """
    client = client_for(store)
    fetched = source.fetch(uri, version)
    try:
        project = spec.load_project(fetched.folder)
        project.entry_point(entry_point).resolve(  # bad parameters fail before any side effect
            dict(parameters or {}), project_dir=project.folder)
        env = envs.prepare(env_manager, project.env_type, project.env,
                           project_dir=project.folder, store_uri=client.store_uri)
        exp_id = experiment_for(client, experiment_name, experiment_id)
        submitted = launch(client, fetched, project, entry_point, parameters,
                           experiment_id=exp_id, env=env, run_name=run_name,
                           version=version, on_exit=fetched.cleanup)
    except BaseException:
        fetched.cleanup()
        raise
    if synchronous and not submitted.wait():
        raise ExecutionError(f"run {submitted.run_id!r} of entry point {entry_point!r} of "
                             f"{os.fspath(uri)!r} failed: {submitted.command!r} exited with "
                             f"status {submitted.returncode}")
    return submitted
