"""Projects: reproducible runs of ML code from an MLproject file, and multi-step workflows.

``lakeml.projects.run(uri, entry_point, parameters)`` runs one entry point
as a lakeml run in a child process; ``run_workflow`` runs a workflow of the
project file as a DAG of nested runs, reusing steps whose code, parameters
and inputs are unchanged. The format is documented in docs/projects.md.
"""

from __future__ import annotations

from lakeml.projects.airflow import export_airflow
from lakeml.projects.runner import run
from lakeml.projects.spec import EntryPoint, Parameter, Project, load_project
from lakeml.projects.stepwise import finish_workflow, run_workflow_step, start_workflow
from lakeml.projects.submitted import ExecutionError, SubmittedRun
from lakeml.projects.workflow import WorkflowResult, run_workflow
from lakeml.projects.workflow_spec import Workflow, load_workflow

__all__ = [
    "EntryPoint",
    "ExecutionError",
    "Parameter",
    "Project",
    "SubmittedRun",
    "Workflow",
    "WorkflowResult",
    "export_airflow",
    "finish_workflow",
    "load_project",
    "load_workflow",
    "run",
    "run_workflow",
    "run_workflow_step",
    "start_workflow",
]
