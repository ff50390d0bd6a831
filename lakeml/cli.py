"""The ``lakeml`` command: experiments, runs, artifacts, maintenance, the demo.

Every command takes ``--store URI`` (default: LAKEML_STORE, conf/lakeml.yaml,
then ./lakeml-store) and prints a table, or JSON / CSV with ``--format``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from lakeml.cli_args import client as _client
from lakeml.cli_args import key_values
from lakeml.cli_format import FORMATS, ms_to_iso, render
from lakeml.errors import LakemlError


def _experiment_id(client, ref: str) -> str:  # noqa: ANN001
    exp = client.get_experiment_by_name(ref)
    if exp is None:
        if not ref.isdigit():
            from lakeml.errors import NotFound

            raise NotFound(f"no experiment named {ref!r}")
        exp = client.get_experiment(ref)
    return exp.experiment_id


def cmd_experiments_list(args: argparse.Namespace) -> str:
    exps = _client(args).search_experiments(view_type=args.view)
    rows = [(e.experiment_id, e.name, e.lifecycle_stage, ms_to_iso(e.creation_time),
             e.artifact_location) for e in exps]
    return render(["experiment_id", "name", "lifecycle_stage", "creation_time",
                   "artifact_location"], rows, args.format)


def cmd_experiments_create(args: argparse.Namespace) -> str:
    exp_id = _client(args).create_experiment(args.name, args.artifact_location)
    return render(["experiment_id", "name"], [(exp_id, args.name)], args.format)


def cmd_experiments_delete(args: argparse.Namespace) -> str:
    client = _client(args)
    exp_id = _experiment_id(client, args.experiment)
    client.delete_experiment(exp_id)
    return render(["experiment_id", "lifecycle_stage"], [(exp_id, "deleted")], args.format)


def cmd_runs_list(args: argparse.Namespace) -> str:
    client = _client(args)
    infos = client.list_runs(_experiment_id(client, args.experiment), args.view,
                             max_results=args.max_results)
    rows = [(i.run_id, i.run_name, i.status, i.user_id, ms_to_iso(i.start_time),
             ms_to_iso(i.end_time)) for i in infos]
    return render(["run_id", "run_name", "status", "user_id", "start_time", "end_time"],
                  rows, args.format)


def cmd_runs_show(args: argparse.Namespace) -> str:
    run = _client(args).get_run(args.run_id)
    i = run.info
    rows: list[tuple[str, str, object]] = [
        ("info", k, val) for k, val in (
            ("run_id", i.run_id), ("experiment_id", i.experiment_id),
            ("run_name", i.run_name), ("status", i.status), ("user_id", i.user_id),
            ("start_time", ms_to_iso(i.start_time)), ("end_time", ms_to_iso(i.end_time)),
            ("lifecycle_stage", i.lifecycle_stage), ("parent_run_id", i.parent_run_id),
            ("artifact_uri", i.artifact_uri))]
    rows += [("param", k, val) for k, val in sorted(run.data.params.items())]
    rows += [("metric", k, val) for k, val in sorted(run.data.metrics.items())]
    rows += [("tag", k, val) for k, val in sorted(run.data.tags.items())]
    rows += [("input", d.dataset.name, f"{d.dataset.digest} ({d.context})")
             for d in run.inputs.dataset_inputs]
    return render(["kind", "key", "value"], rows, args.format)


def cmd_artifacts_list(args: argparse.Namespace) -> str:
    infos = _client(args).list_artifacts(args.run_id, args.path)
    return render(["path", "is_dir", "file_size"],
                  [(f.path, f.is_dir, f.file_size) for f in infos], args.format)


def cmd_artifacts_download(args: argparse.Namespace) -> str:
    local = _client(args).download_artifacts(args.run_id, args.path or "", args.dst)
    return render(["downloaded_to"], [(local,)], args.format)


def cmd_maintenance(args: argparse.Namespace) -> str:
    client = _client(args)
    client.flush()
    m = client.store.maintenance
    tables = args.table or None
    if args.action == "compact":
        done = m.compact(tables)
        rows = [(t, r.get("numFilesRemoved"), r.get("numFilesAdded"), r.get("skipped", ""))
                for t, r in done.items()]
        return render(["table", "files_removed", "files_added", "skipped"], rows, args.format)
    if args.action == "snapshot":
        from lakeml.query import run_snapshot

        saved = run_snapshot.write(client.store)
        if saved is None:
            return render(["skipped"], [("a remote store's readers fold its tables",)],
                          args.format)
        return render(["runs", "keys", "file"], [(saved.runs, len(saved.columns), saved.path)],
                      args.format)
    if args.action == "rebuild-latest":
        return render(["points_added"], [(m.rebuild_latest(),)], args.format)
    if args.action == "checkpoint":
        return render(["table"], [(t,) for t in m.checkpoint(tables)], args.format)
    if args.action == "vacuum":
        done = m.vacuum(tables, retention_hours=args.retention_hours, dry_run=args.dry_run)
        return render(["table", "files_deleted" if not args.dry_run else "would_delete"],
                      [(t, len(files)) for t, files in done.items()], args.format)
    return render(["table", "version", "files"],
                  [(s.table, s.version, s.files) for s in m.status(tables)], args.format)


def cmd_sql(args: argparse.Namespace) -> str:
    rel = _client(args).sql(args.query, as_of=args.as_of)
    if args.output:
        out = args.output
        if out.endswith(".parquet"):
            rel.write_parquet(out)
        elif out.endswith(".csv"):
            rel.write_csv(out)
        else:
            from lakeml.errors import InvalidArgument

            raise InvalidArgument(f"--output {out!r}: name a .csv or .parquet file")
        return f"wrote {out}"
    rows = rel.limit(args.limit + 1).fetchall()
    shown = render(rel.columns, rows[:args.limit], args.format)
    if len(rows) > args.limit and args.format == "table":
        shown += f"\n(first {args.limit} rows; use --limit or --output for more)"
    return shown


def _use_store(args: argparse.Namespace) -> None:
    """Make --store the store that runs:/ model URIs are resolved in."""
    if args.store:
        from lakeml.tracking.fluent import set_store

        set_store(args.store)


def cmd_models_serve(args: argparse.Namespace) -> str:
    from lakeml.server.limits import Limits
    from lakeml.server.scoring import serve

    _use_store(args)
    limits = Limits.configured(max_body_mb=args.max_body_mb,
                               max_inflight_mb=args.max_inflight_mb,
                               max_requests=args.max_requests)
    serve(args.model_uri, args.host, args.port, workers=args.workers, limits=limits)
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

    wf = sub.add_parser("workflow", help="show or run a multi-step workflow of a project")
    wf_sub = wf.add_subparsers(dest="action", required=True)
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lakeml`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store URI (default: LAKEML_STORE or ./lakeml-store)")
    common.add_argument("--format", choices=FORMATS, default="table", help="output format")

    parser = argparse.ArgumentParser(prog="lakeml", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="group", required=True)

    exps = sub.add_parser("experiments", help="list, create or delete experiments")
    exps_sub = exps.add_subparsers(dest="action", required=True)
    p = exps_sub.add_parser("list", parents=[common])
    p.add_argument("--view", default="ACTIVE_ONLY", choices=["ACTIVE_ONLY", "DELETED_ONLY", "ALL"])
    p.set_defaults(func=cmd_experiments_list)
    p = exps_sub.add_parser("create", parents=[common])
    p.add_argument("name")
    p.add_argument("--artifact-location")
    p.set_defaults(func=cmd_experiments_create)
    p = exps_sub.add_parser("delete", parents=[common])
    p.add_argument("experiment", help="experiment name or id")
    p.set_defaults(func=cmd_experiments_delete)

    runs = sub.add_parser("runs", help="list runs or show one")
    runs_sub = runs.add_subparsers(dest="action", required=True)
    p = runs_sub.add_parser("list", parents=[common])
    p.add_argument("--experiment", required=True, help="experiment name or id")
    p.add_argument("--view", default="ACTIVE_ONLY", choices=["ACTIVE_ONLY", "DELETED_ONLY", "ALL"])
    p.add_argument("--max-results", type=int, default=1000)
    p.set_defaults(func=cmd_runs_list)
    p = runs_sub.add_parser("show", parents=[common])
    p.add_argument("run_id")
    p.set_defaults(func=cmd_runs_show)

    arts = sub.add_parser("artifacts", help="list or download a run's artifacts")
    arts_sub = arts.add_subparsers(dest="action", required=True)
    p = arts_sub.add_parser("list", parents=[common])
    p.add_argument("--run-id", required=True)
    p.add_argument("--path", default=None)
    p.set_defaults(func=cmd_artifacts_list)
    p = arts_sub.add_parser("download", parents=[common])
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
    maint.add_argument("--retention-hours", type=int, default=168)
    maint.add_argument("--dry-run", action="store_true")
    maint.set_defaults(func=cmd_maintenance)

    p = sub.add_parser("sql", parents=[common], help="run SQL over the lake's views")
    p.add_argument("query", help="e.g. \"SELECT status, count(*) FROM runs GROUP BY 1\"")
    p.add_argument("--output", "-o", help="write all rows to FILE.csv or FILE.parquet")
    p.add_argument("--limit", type=int, default=1000, help="rows to print (default 1000)")
    p.add_argument("--as-of", help="read the store as of this ISO time, e.g. 2026-03-01")
    p.set_defaults(func=cmd_sql)

    models = sub.add_parser("models", help="serve a model over HTTP or score files with it")
    models_sub = models.add_subparsers(dest="action", required=True)
    p = models_sub.add_parser("serve", help="REST scoring server (POST /invocations)")
    p.add_argument("--model-uri", "-m", required=True,
                   help="runs:/<run_id>/<path>, a folder, or a storage URI")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", "-p", type=int, default=5000, help="port (0: any free port)")
    p.add_argument("--workers", "-w", type=int, default=1,
                   help="processes that score requests (default 1)")
    p.add_argument("--store", help="store that runs:/ URIs refer to")
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
    p.add_argument("--store", help="store that runs:/ URIs refer to")
    p.set_defaults(func=cmd_models_predict)

    from lakeml import cli_registry

    cli_registry.add_parser(sub, common)

    p = sub.add_parser("config", help="list every setting with its environment variable")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("demo", help="train scikit-learn models, log runs, print a leaderboard")
    p.add_argument("--store", help="store URI (default: LAKEML_STORE or ./lakeml-store)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("spark-jars", help="fetch the Delta Lake jars for Spark from Maven "
                       "Central (needs mvn); print them comma-separated, for "
                       "spark-submit --jars")
    p.set_defaults(func=cmd_spark_jars)
    _add_project_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; errors print one line and exit 1 (2 for bad usage)."""
    args = build_parser().parse_args(argv)
    try:
        print(args.func(args))
    except LakemlError as exc:
        print(f"lakeml: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
