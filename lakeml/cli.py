"""The ``lakeml`` command: its parser, the entry point, and the commands of few lines.

Groups with many commands live in modules of their own (cli_runs.py,
cli_registry.py); what they read from their arguments alike is in cli_args.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from lakeml.cli_args import at_least, key_values
from lakeml.cli_args import client as _client
from lakeml.cli_format import FORMATS, ms_to_iso, render
from lakeml.cli_runs import experiment_id
from lakeml.errors import LakemlError


def cmd_experiments_list(args: argparse.Namespace) -> str:
    from lakeml.tracking.experiments import every_experiment

    exps = every_experiment(_client(args, read=True), args.view, order_by=["creation_time ASC"])
    rows = [(e.experiment_id, e.name, e.lifecycle_stage, ms_to_iso(e.creation_time),
             e.artifact_location) for e in exps]
    return render(["experiment_id", "name", "lifecycle_stage", "creation_time",
                   "artifact_location"], rows, args.format)


def cmd_experiments_create(args: argparse.Namespace) -> str:
    exp_id = _client(args).create_experiment(args.name, args.artifact_location)
    return render(["experiment_id", "name"], [(exp_id, args.name)], args.format)


def cmd_experiments_delete(args: argparse.Namespace) -> str:
    client = _client(args)
    exp_id = experiment_id(client, args.experiment)
    client.delete_experiment(exp_id)
    return render(["experiment_id", "lifecycle_stage"], [(exp_id, "deleted")], args.format)


def cmd_artifacts_list(args: argparse.Namespace) -> str:
    infos = _client(args, read=True).list_artifacts(args.run_id, args.path)
    return render(["path", "is_dir", "file_size"],
                  [(f.path, f.is_dir, f.file_size) for f in infos], args.format)


def cmd_artifacts_download(args: argparse.Namespace) -> str:
    local = _client(args, read=True).download_artifacts(args.run_id, args.path or "", args.dst)
    return render(["downloaded_to"], [(local,)], args.format)


def cmd_maintenance(args: argparse.Namespace) -> str:
    from lakeml.progress import phase, steps

    client = _client(args, read=args.action == "status")
    client.flush()
    m = client.store.maintenance
    if args.action == "status":
        return render(["table", "version", "files"],
                      [(s.table, s.version, s.files) for s in m.status(args.table or None)],
                      args.format)
    if args.action == "snapshot":
        from lakeml.query import run_snapshot

        with phase("writing the run snapshot"):
            saved = run_snapshot.write(client.store)
        if saved is None:
            why = ("a remote store's readers fold its tables" if not client.store.is_local
                   else "more keys than a snapshot holds: readers load the keys they search")
            return render(["skipped"], [(why,)], args.format)
        return render(["runs", "keys", "file"], [(saved.runs, len(saved.columns), saved.path)],
                      args.format)
    if args.action == "rebuild-latest":
        with phase("rebuilding metric_latest"):
            return render(["points_added"], [(m.rebuild_latest(),)], args.format)
    tables = args.table or list(client.store.tables)
    done: dict = {}
    for table in steps(tables, args.action, unit="table"):
        if args.action == "compact":
            done.update(m.compact([table]))
        elif args.action == "checkpoint":
            done.update(dict.fromkeys(m.checkpoint([table])))
        else:
            done.update(m.vacuum([table], retention_hours=args.retention_hours,
                                 dry_run=args.dry_run))
    if args.action == "compact":
        rows = [(t, r.get("numFilesRemoved"), r.get("numFilesAdded"), r.get("skipped", ""))
                for t, r in done.items()]
        return render(["table", "files_removed", "files_added", "skipped"], rows, args.format)
    if args.action == "checkpoint":
        return render(["table"], [(t,) for t in done], args.format)
    return render(["table", "files_deleted" if not args.dry_run else "would_delete"],
                  [(t, len(files)) for t, files in done.items()], args.format)


def cmd_sql(args: argparse.Namespace) -> str:
    import duckdb

    from lakeml.errors import InvalidArgument

    out = args.output
    if out and not out.endswith((".parquet", ".csv")):
        raise InvalidArgument(f"--output {out!r}: name a .csv or .parquet file")
    rel = _client(args, read=True).sql(args.query, as_of=args.as_of)
    try:  # a relation runs when its rows are fetched: errors surface here
        if out:
            _write_rows(rel, out)
            return f"wrote {out}"
        rows = rel.limit(args.limit + 1).fetchall()
    except duckdb.Error as exc:
        raise InvalidArgument(f"SQL failed: {exc}\n  query: {args.query}") from exc
    shown = render(rel.columns, rows[:args.limit], args.format)
    if len(rows) > args.limit and args.format == "table":
        shown += f"\n(first {args.limit} rows; use --limit or --output for more)"
    return shown


def _write_rows(rel, out: str) -> None:  # noqa: ANN001 - a DuckDB relation
    """Stream ``rel``'s rows into a .parquet or .csv file.

    The query's database reads only the store, so the file is written by a
    connection of its own, fed batch by batch (never the whole result in memory).
    """
    import duckdb

    from lakeml.sqltext import configure

    with configure(duckdb.connect()) as con:
        rows = con.from_arrow(rel.to_arrow_reader())
        if out.endswith(".parquet"):
            rows.write_parquet(out)
        else:
            rows.write_csv(out)

def _use_store(args: argparse.Namespace) -> None:
    """Make --store the store that runs:/ model URIs are resolved in."""
    if args.store:
        from lakeml.fluent import set_store

        set_store(args.store)


def cmd_models_serve(args: argparse.Namespace) -> str:
    from lakeml.server.limits import Limits
    from lakeml.server.scoring import serve

    _use_store(args)
    limits = Limits.configured(max_body_mb=args.max_body_mb,
                               max_inflight_mb=args.max_inflight_mb,
                               max_requests=args.max_requests)
    serve(args.model_uri, args.host, args.port, workers=args.workers, limits=limits,
          access_log=args.access_log)
    return "lakeml: server stopped"


def _read_table(path: str, *, tensors: bool = False) -> tuple[object, dict | None, bool]:
    """(input, params, whether its values came from text) of a .csv, .parquet or .json file.

    A .json file is a scoring request body, so its ``params`` are honoured.
    """
    import pandas as pd

    from lakeml.errors import InvalidArgument

    if path.endswith(".parquet"):
        return pd.read_parquet(path), None, False
    if path.endswith(".csv"):
        from lakeml.models.payloads import parse_csv

        with open(path, "rb") as fh:
            return parse_csv(fh.read()), None, True
    if path.endswith(".json"):
        from lakeml.models.payloads import parse_json

        with open(path, "rb") as fh:
            data, params = parse_json(fh.read(), tensors=tensors)
            return data, params, True
    raise InvalidArgument(f"--input {path!r}: name a .csv, .parquet or .json file")


def cmd_models_predict(args: argparse.Namespace) -> str:
    import os

    from lakeml.errors import InvalidArgument, NotFound
    from lakeml.models.payloads import predictions_frame, predictions_json
    from lakeml.models.pyfunc_model import load_model

    _use_store(args)
    if not os.path.isfile(args.input):
        raise NotFound(f"--input {args.input!r} is not a file")
    out = args.output
    if out and not out.endswith((".parquet", ".csv", ".json")):
        raise InvalidArgument(f"--output {out!r}: name a .parquet, .csv or .json file")
    model = load_model(args.model_uri)
    schema = model.metadata.input_schema
    data, params, from_text = _read_table(
        args.input, tensors=schema is not None and schema.is_tensor)
    predictions = model.predict_parsed(data, params) if from_text else model.predict(data)
    if not out:
        return predictions_json(predictions).decode()
    if out.endswith(".json"):
        with open(out, "wb") as fh:
            fh.write(predictions_json(predictions))
        return f"wrote {out}"
    frame = predictions_frame(predictions)
    if out.endswith(".parquet"):
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    return f"wrote {len(frame)} predictions to {out}"


def cmd_config(args: argparse.Namespace) -> str:
    from lakeml import config

    return config.describe()


def cmd_spark_jars(args: argparse.Namespace) -> str:
    from lakeml.spark.jars import fetch

    return ",".join(str(path) for path in fetch())  # as spark-submit --jars takes them


def cmd_demo(args: argparse.Namespace) -> str:
    from lakeml.demo import run_demo

    return run_demo(args.store)


# ---- projects and workflows (lakeml/projects) --------------------------------------
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


def _add_project_commands(sub: argparse._SubParsersAction,
                          common: argparse.ArgumentParser) -> None:
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

    wf_sub = _group(sub, "workflow", "show, run or schedule a multi-step workflow of a project")
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


DESCRIPTION = """lakeml: track ML runs, register models and query them, all as Delta tables.

Every command takes --store URI (default: LAKEML_STORE, conf/lakeml.yaml, then
./lakeml-store) and prints a table, or JSON / CSV with --format. Commands that
only read never create a store. `lakeml COMMAND --help` explains each one."""


def _group(sub: argparse._SubParsersAction, name: str, text: str) -> argparse._SubParsersAction:
    """A command group whose bare use (``lakeml runs``) prints its help."""
    group = sub.add_parser(name, help=text, description=text)
    group.set_defaults(group_parser=group)
    return group.add_subparsers(dest="action", metavar="ACTION")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lakeml`` command."""
    from lakeml import cli_registry, cli_runs
    from lakeml.version import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store URI (default: LAKEML_STORE or ./lakeml-store)")
    common.add_argument("--format", choices=FORMATS, default="table", help="output format")

    parser = argparse.ArgumentParser(
        prog="lakeml", description=DESCRIPTION,
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(
            prog, max_help_position=16))
    parser.add_argument("--version", action="version", version=f"lakeml {__version__}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    views = ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]

    exps_sub = _group(sub, "experiments", "list, create or delete experiments")
    p = exps_sub.add_parser("list", parents=[common], help="experiments, oldest first")
    p.add_argument("--view", default="ACTIVE_ONLY", choices=views)
    p.set_defaults(func=cmd_experiments_list)
    p = exps_sub.add_parser("create", parents=[common], help="create an experiment; print its id")
    p.add_argument("name")
    p.add_argument("--artifact-location", help="where its runs' artifacts go "
                   "(default: under the store)")
    p.set_defaults(func=cmd_experiments_create)
    p = exps_sub.add_parser("delete", parents=[common],
                            help="mark an experiment and its runs deleted")
    p.add_argument("experiment", help="experiment name or id")
    p.set_defaults(func=cmd_experiments_delete)

    cli_runs.add_parser(sub, common)

    arts_sub = _group(sub, "artifacts", "list or download a run's artifacts")
    p = arts_sub.add_parser("list", parents=[common], help="files and folders under a path")
    p.add_argument("--run-id", required=True)
    p.add_argument("--path", default=None)
    p.set_defaults(func=cmd_artifacts_list)
    p = arts_sub.add_parser("download", parents=[common], help="copy artifacts to a folder")
    p.add_argument("--run-id", required=True)
    p.add_argument("--path", default="")
    p.add_argument("--dst", default=".", help="local folder to copy into")
    p.set_defaults(func=cmd_artifacts_download)

    maint = sub.add_parser("maintenance", parents=[common],
                           help="compact, checkpoint, vacuum, rebuild-latest, write the "
                                "run snapshot, or show status")
    maint.add_argument("action", choices=["status", "compact", "checkpoint", "vacuum",
                                          "rebuild-latest", "snapshot"])
    maint.add_argument("--table", action="append", help="limit to this table (repeatable)")
    maint.add_argument("--retention-hours", type=int, default=168,
                       help="vacuum: keep files removed less than this long ago (default 168)")
    maint.add_argument("--dry-run", action="store_true", help="vacuum: only count the files")
    maint.set_defaults(func=cmd_maintenance)

    p = sub.add_parser("sql", parents=[common], help="run read-only SQL over the lake's views")
    p.add_argument("query", help="e.g. \"SELECT status, count(*) FROM runs GROUP BY 1\"")
    p.add_argument("--output", "-o", help="write all rows to FILE.csv or FILE.parquet")
    p.add_argument("--limit", type=at_least(1), default=1000, help="rows to print (default 1000)")
    p.add_argument("--as-of", help="read the store as of this ISO time, e.g. 2026-03-01")
    p.set_defaults(func=cmd_sql)

    models_sub = _group(sub, "models", "serve a model over HTTP or score files with it")
    p = models_sub.add_parser("serve", help="REST scoring server (POST /invocations)")
    p.add_argument("--model-uri", "-m", required=True,
                   help="runs:/<run_id>/<path>, models:/<name>@<alias>, a folder, or a "
                        "storage URI")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", "-p", type=int, default=5000, help="port (0: any free port)")
    p.add_argument("--workers", "-w", type=int, default=1,
                   help="processes that score requests (default 1)")
    p.add_argument("--access-log", action="store_true",
                   help="print a line per request to stderr")
    p.add_argument("--store", help="store that runs:/ and models:/ URIs refer to")
    p.add_argument("--max-body-mb", type=float, help="largest request body in MB; larger "
                   "get 413 (default 64, LAKEML_SERVE_MAX_BODY_MB)")
    p.add_argument("--max-inflight-mb", type=float, help="request MB a process reads or "
                   "scores at once; more get 503 (default 64, LAKEML_SERVE_MAX_INFLIGHT_MB)")
    p.add_argument("--max-requests", type=int, help="requests a process reads or scores at "
                   "once; more get 503 (default 16, LAKEML_SERVE_MAX_REQUESTS)")
    p.set_defaults(func=cmd_models_serve)
    p = models_sub.add_parser("predict", help="score a .csv/.parquet/.json file")
    p.add_argument("--model-uri", "-m", required=True)
    p.add_argument("--input", "-i", required=True, help="a .csv, .parquet or .json file")
    p.add_argument("--output", "-o", help="a .parquet, .csv or .json file (default: JSON "
                   "to stdout)")
    p.add_argument("--store", help="store that runs:/ and models:/ URIs refer to")
    p.set_defaults(func=cmd_models_predict)

    cli_registry.add_parser(sub, common)

    p = sub.add_parser("config", help="list every setting with its environment variable")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("demo", help="train scikit-learn models, log runs, register the best, "
                       "print a leaderboard")
    p.add_argument("--store", help="store URI (default: LAKEML_STORE or ./lakeml-store)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("spark-jars", help="fetch the Delta Lake jars for Spark from Maven "
                       "Central (needs mvn); print them comma-separated, for "
                       "spark-submit --jars")
    p.set_defaults(func=cmd_spark_jars)
    _add_project_commands(sub, common)
    return parser


def _print(text: str) -> int:
    """Print ``text``; a reader that closed the pipe (``| head``) ends us quietly."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again at exit when flushing: point stdout at nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a process killed by SIGPIPE, what `cat big | head` reports
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; errors print one line and exit 1 (2 for bad usage).

    A command group given without a command (``lakeml``, ``lakeml runs``)
    prints its help.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        return _print(getattr(args, "group_parser", parser).format_help().rstrip())
    try:
        return _print(args.func(args))
    except LakemlError as exc:
        print(f"lakeml: error: {exc}{_where(args, exc)}", file=sys.stderr)
        return 1


def _where(args: argparse.Namespace, exc: LakemlError) -> str:
    """`` (store: URI)`` after a NotFound, so the user sees where lakeml looked."""
    from lakeml.errors import NotFound

    if not isinstance(exc, NotFound) or "store" in str(exc):
        return ""
    try:
        from lakeml.cli_args import store_uri

        return f" (store: {store_uri(args)})"
    except LakemlError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
