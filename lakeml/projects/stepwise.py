"""A workflow run driven one step at a time, by a scheduler such as Apache Airflow.

``start_workflow`` creates the parent run; ``run_workflow_step`` runs one
step of it (in any process, after its upstream steps), with the same cache,
nested runs and lineage as ``run_workflow``; ``finish_workflow`` ends the
parent run FINISHED if every step succeeded, else FAILED. ``lakeml workflow
start|step|finish`` are these three, and ``export_airflow`` writes a DAG file
that calls them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from lakeml.entities import RunStatus
from lakeml.projects import envs, runner, source, spec
from lakeml.projects.submitted import ExecutionError
from lakeml.projects.workflow import (
    WORKFLOW_TAG,
    StepResult,
    WorkflowResult,
    WorkflowRunner,
    parse_overrides,
)
from lakeml.projects.workflow_spec import load_workflow


@contextmanager
def _workflow_run(uri: str | os.PathLike[str], workflow: str | None, *,
                  version: str | None, env_manager: str | None,
                  store: str | os.PathLike[str] | None, experiment_id: str,
                  parameters: Mapping[str, Any] | None = None,
                  use_cache: bool = True) -> Iterator[WorkflowRunner]:
    client = runner.client_for(store)
    fetched = source.fetch(uri, version)
    try:
        project = spec.load_project(fetched.folder)
        wf = load_workflow(project, workflow)
        env = envs.prepare(env_manager, project.env_type, project.env,
                           project_dir=project.folder, store_uri=client.store_uri)
        yield WorkflowRunner(client, fetched, project, wf, env, experiment_id,
                           parse_overrides(wf, parameters or {}), 1, use_cache, version)
    finally:
        fetched.cleanup()


def start_workflow(uri: str | os.PathLike[str], workflow: str | None = None,
                   parameters: Mapping[str, Any] | None = None, *,
                   version: str | None = None, experiment_name: str | None = None,
                   experiment_id: str | None = None, env_manager: str | None = None,
                   store: str | os.PathLike[str] | None = None,
                   run_name: str | None = None) -> str:
    """Create the parent run of a workflow run driven step by step; returns its id.

    ``parameters`` (``{"step.param": value}``) are kept as the parent run's
    params, where every later step reads them.
    """
    client = runner.client_for(store)
    exp_id = runner.experiment_for(client, experiment_name, experiment_id)
    with _workflow_run(uri, workflow, version=version, env_manager=env_manager, store=store,
                       experiment_id=exp_id, parameters=parameters) as wf_run:
        return wf_run.begin(run_name, detached=True)


def _parent(store: str | os.PathLike[str] | None, workflow_run_id: str
            ) -> tuple[str, dict[str, str], str | None]:
    """(experiment id, parameter overrides, workflow name) of a started workflow run."""
    from lakeml.errors import InvalidArgument

    run = runner.client_for(store).get_run(workflow_run_id)
    name = run.data.tags.get(WORKFLOW_TAG)
    if name is None:
        raise InvalidArgument(f"run {workflow_run_id!r} is not a workflow run (no "
                              f"{WORKFLOW_TAG} tag); start one with `lakeml workflow start`")
    if run.info.status != RunStatus.RUNNING:
        raise InvalidArgument(f"workflow run {workflow_run_id!r} is {run.info.status}; "
                              "start a new one")
    return run.info.experiment_id, dict(run.data.params), name


def run_workflow_step(uri: str | os.PathLike[str], step: str, workflow_run_id: str, *,
                      workflow: str | None = None, version: str | None = None,
                      env_manager: str | None = None,
                      store: str | os.PathLike[str] | None = None,
                      use_cache: bool = True) -> StepResult:
    """Run one step of a started workflow run; raises ExecutionError if it fails."""
    exp_id, params, name = _parent(store, workflow_run_id)
    with _workflow_run(uri, workflow or name, version=version, env_manager=env_manager,
                       store=store, experiment_id=exp_id, parameters=params,
                       use_cache=use_cache) as wf_run:
        wf_run.load(workflow_run_id)
        result = wf_run.run_one(step)
    if result.status not in ("executed", "reused"):
        raise ExecutionError(f"step {step!r} of workflow run {workflow_run_id!r} failed: "
                             f"{result.error}")
    return result


def finish_workflow(uri: str | os.PathLike[str], workflow_run_id: str, *,
                    workflow: str | None = None, version: str | None = None,
                    store: str | os.PathLike[str] | None = None) -> WorkflowResult:
    """End a started workflow run: FINISHED if every step succeeded, else FAILED."""
    exp_id, _, name = _parent(store, workflow_run_id)
    with _workflow_run(uri, workflow or name, version=version, env_manager="local",
                       store=store, experiment_id=exp_id) as wf_run:
        wf_run.load(workflow_run_id)
        ok = wf_run.succeeded()
        return wf_run.end(RunStatus.FINISHED if ok else RunStatus.FAILED)
