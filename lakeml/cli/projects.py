"""``lakeml run`` and ``lakeml workflow …``: projects and their multi-step workflows
(lakeml/projects)."""

from __future__ import annotations

import argparse
import sys

from lakeml.cli.args import group, key_values
from lakeml.cli.format import render


def cmd_run(args: argparse.Namespace) -> str:
    """Run an entry point; the child's exit status becomes lakeml's when it fails."""
    import signal
    import threading

    from lakeml.projects import run

    # Ctrl-C only raises a flag: a KeyboardInterrupt landing between the run's creation and
    # the wait would leave the command running and the run RUNNING. (From a terminal, the
    # signal also reaches a git clone or pip install in progress, which then fail.) A
    # process started with SIGINT ignored (a background job, nohup) keeps ignoring it.
    interrupted = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())
    try:
        submitted = run(args.uri, args.entry_point, key_values(args.param),
                        version=args.version, experiment_name=args.experiment,
                        experiment_id=args.experiment_id, env_manager=args.env_manager,
                        synchronous=False, run_name=args.run_name, store=args.store)
        while not interrupted.is_set() and not submitted.join(0.2):
            pass
        if interrupted.is_set():
            submitted.cancel()  # stops the command's process group, ends the run KILLED
            print(f"lakeml: run {submitted.run_id} KILLED", file=sys.stderr)
            raise SystemExit(130)
        ok = submitted.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    status = submitted.get_status()
    if not ok:
        print(f"lakeml: run {submitted.run_id} {status}: {submitted.command!r} exited with "
              f"status {submitted.returncode}", file=sys.stderr)
        code = submitted.returncode
        raise SystemExit(code if code and code > 0 else 1)
    return render(["run_id", "status"], [(submitted.run_id, status)], args.format)


def cmd_workflow_show(args: argparse.Namespace) -> str:
    from lakeml.projects import load_project, load_workflow, source
    from lakeml.projects.workflow import describe, show

    fetched = source.fetch(args.uri, args.version)
    try:
        wf = load_workflow(load_project(fetched.folder), args.workflow)
    finally:
        fetched.cleanup()
    if args.format == "table":
        return show(wf)
    return render(["level", "step", "entry_point", "after", "inputs", "outputs"],
                  describe(wf), args.format)


def cmd_workflow_run(args: argparse.Namespace) -> str:
    from lakeml.projects import ExecutionError, run_workflow

    try:
        result = run_workflow(args.uri, args.workflow, key_values(args.param),
                              version=args.version, experiment_name=args.experiment,
                              experiment_id=args.experiment_id, env_manager=args.env_manager,
                              store=args.store, max_parallel=args.max_parallel,
                              use_cache=not args.no_cache)
    except ExecutionError as exc:
        result = getattr(exc, "result", None)
        if result is None:
            raise
        print(f"lakeml: error: {exc}", file=sys.stderr)
    rows = [(name, r.status, r.run_id, r.source_run_id, r.error)
            for name, r in result.steps.items()]
    shown = render(["step", "status", "run_id", "source_run_id", "error"], rows, args.format)
    if result.status != "FINISHED":
        print(shown)
        raise SystemExit(1)
    return shown if args.format != "table" else f"workflow run {result.run_id}\n{shown}"


def cmd_workflow_start(args: argparse.Namespace) -> str:
    from lakeml.projects.stepwise import start_workflow

    return start_workflow(args.uri, args.workflow, key_values(args.param),
                          version=args.version, experiment_name=args.experiment,
                          experiment_id=args.experiment_id, env_manager=args.env_manager,
                          store=args.store)  # the id alone: a scheduler reads the last line


def cmd_workflow_step(args: argparse.Namespace) -> str:
    from lakeml.projects.stepwise import run_workflow_step

    result = run_workflow_step(args.uri, args.step, args.workflow_run_id,
                               workflow=args.workflow, version=args.version,
                               env_manager=args.env_manager, store=args.store,
                               use_cache=not args.no_cache)
    return render(["step", "status", "run_id", "source_run_id"],
                  [(result.step, result.status, result.run_id, result.source_run_id)],
                  args.format)


def cmd_workflow_finish(args: argparse.Namespace) -> str:
    from lakeml.projects.stepwise import finish_workflow

    result = finish_workflow(args.uri, args.workflow_run_id, workflow=args.workflow,
                             version=args.version, store=args.store)
    shown = render(["workflow_run_id", "status"], [(result.run_id, result.status)],
                   args.format)
    if result.status != "FINISHED":
        print(shown)
        raise SystemExit(1)
    return shown


def cmd_workflow_export_airflow(args: argparse.Namespace) -> str:
    from lakeml.projects.airflow import export_airflow

    text = export_airflow(args.uri, args.workflow, version=args.version, store=args.store,
                          env_manager=args.env_manager, dag_id=args.dag_id,
                          lakeml_command=args.lakeml_command)
    if not args.output:
        return text
    with open(args.output, "w") as fh:
        fh.write(text)
    return f"wrote {args.output}"


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``run``, and the ``workflow`` group: show, run, start, step, finish, export-airflow."""

    def project_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("uri", help="project folder or git repository (path, file:// or URL; "
                       "#subdir for a project inside it)")
        p.add_argument("--version", "-v", help="git commit, branch or tag to run")
        p.add_argument("-P", "--param", action="append", metavar="NAME=VALUE",
                       help="a parameter (repeatable)")
        p.add_argument("--experiment", "--experiment-name", dest="experiment",
                       help="experiment name (created if missing)")
        p.add_argument("--experiment-id")
        p.add_argument("--env-manager", choices=["local", "virtualenv", "conda", "docker"],
                       help="default: from the project's python_env/conda_env/docker_env")

    p = sub.add_parser("run", parents=[common], help="run an entry point of a project as a run")
    project_options(p)
    p.add_argument("--entry-point", "-e", default="main")
    p.add_argument("--run-name")
    p.set_defaults(func=cmd_run)

    wf_sub = group(sub, "workflow", "show, run or schedule a multi-step workflow of a project")
    p = wf_sub.add_parser("show", parents=[common], help="print the DAG of a workflow")
    p.add_argument("uri", help="project folder or git repository")
    p.add_argument("--version", "-v", help="git commit, branch or tag")
    p.add_argument("--workflow", "-w", help="workflow name (default: the only one)")
    p.set_defaults(func=cmd_workflow_show)
    p = wf_sub.add_parser("run", parents=[common],
                          help="run a workflow's steps as nested runs, reusing unchanged ones")
    project_options(p)
    p.add_argument("--workflow", "-w", help="workflow name (default: the only one)")
    p.add_argument("--max-parallel", type=int, help="steps run at once (default: CPUs, >= 2)")
    p.add_argument("--no-cache", action="store_true", help="run every step again")
    p.set_defaults(func=cmd_workflow_run)
    # one step at a time, for a scheduler (the Airflow export calls these)
    p = wf_sub.add_parser("start", parents=[common],
                          help="create a workflow run to drive step by step; print its id")
    project_options(p)
    p.add_argument("--workflow", "-w", help="workflow name (default: the only one)")
    p.set_defaults(func=cmd_workflow_start)
    p = wf_sub.add_parser("step", parents=[common], help="run one step of a started workflow run")
    project_options(p)
    p.add_argument("--workflow", "-w", help="workflow name (default: the run's)")
    p.add_argument("--step", required=True)
    p.add_argument("--workflow-run-id", required=True)
    p.add_argument("--no-cache", action="store_true", help="run the step even if unchanged")
    p.set_defaults(func=cmd_workflow_step)
    p = wf_sub.add_parser("finish", parents=[common],
                          help="end a started workflow run: FINISHED if every step succeeded")
    p.add_argument("uri", help="project folder or git repository")
    p.add_argument("--version", "-v", help="git commit, branch or tag")
    p.add_argument("--workflow", "-w", help="workflow name (default: the run's)")
    p.add_argument("--workflow-run-id", required=True)
    p.set_defaults(func=cmd_workflow_finish)
    p = wf_sub.add_parser("export-airflow", parents=[common],
                          help="write an Apache Airflow DAG file that runs the workflow")
    p.add_argument("uri", help="project folder or git repository")
    p.add_argument("--version", "-v", help="git commit, branch or tag")
    p.add_argument("--workflow", "-w", help="workflow name (default: the only one)")
    p.add_argument("--env-manager", choices=["local", "virtualenv", "conda", "docker"])
    p.add_argument("--dag-id", help="default: lakeml_<project>_<workflow>")
    p.add_argument("--lakeml-command", default="lakeml",
                   help="how Airflow's workers call lakeml (default: lakeml)")
    p.add_argument("--output", "-o", help="the .py file to write (default: stdout)")
    p.set_defaults(func=cmd_workflow_export_airflow)
