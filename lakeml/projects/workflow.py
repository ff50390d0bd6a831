"""Running a workflow: its steps as nested runs of one parent run, as a DAG.

Steps whose upstream steps have finished run at once, up to
``max_parallel``. Before a step runs, its cache key is computed: a digest of
its entry point (command and parameter types), its code files, its
parameters, its environment, its declared outputs and the content digests of
its inputs. If an earlier FINISHED step run had the same key and its outputs
are still there unchanged, the step is not run again: a nested run records
the reuse and links the earlier run (``lakeml.workflow.reusedRunId``), whose
outputs feed the next steps. Every step's inputs and outputs, with their
digests, land in the ``workflow_lineage`` table (a Delta table as ``<path>@v<N>``, the
exact version read or written, so that ``lineage_edges`` links data version -> step
run -> output version) and each step in
``workflow_steps``, both queryable with ``lakeml.sql``.
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from lakeml.entities import RunStatus
from lakeml.errors import InvalidArgument, LakemlError, NotFound
from lakeml.projects import digests, envs, runner, source, spec
from lakeml.projects import staging as staging_folders
from lakeml.projects.submitted import ExecutionError, SubmittedRun
from lakeml.projects.workflow_spec import Input, Step, Workflow, load_workflow
from lakeml.times import now_us
from lakeml.tracking.owners import OWNER_TAG

if TYPE_CHECKING:
    from lakeml.client import Client

WORKFLOW_TAG = "lakeml.workflow"
STEP_TAG = "lakeml.workflow.step"
CACHE_KEY_TAG = "lakeml.workflow.cacheKey"
CACHE_HIT_TAG = "lakeml.workflow.cacheHit"
REUSED_TAG = "lakeml.workflow.reusedRunId"
DATA_FOLDER = "workflow_data"  # relative table locations live under <store>/workflow_data/


@dataclass
class StepResult:
    """What became of one step: executed, reused, failed or skipped."""

    step: str
    status: str
    run_id: str | None = None
    source_run_id: str | None = None
    cache_key: str | None = None
    outputs: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # kind, uri, digest
    error: str | None = None


@dataclass
class WorkflowResult:
    """The parent run of a workflow run and the result of each step."""

    run_id: str
    workflow: str
    status: str
    steps: dict[str, StepResult]

    def with_status(self, status: str) -> list[str]:
        """The steps that ended with ``status`` ('executed', 'reused'…), sorted."""
        return sorted(s for s, r in self.steps.items() if r.status == status)


def table_location(store_uri: str, workflow: str, location: str) -> str:
    """Where a Delta table of a workflow lives: a URI or absolute path as given, a
    relative location under ``<store>/workflow_data/<workflow>/``."""
    if "://" in location or os.path.isabs(location):
        return location
    return f"{store_uri}/{DATA_FOLDER}/{workflow}/{location.strip('/')}"


def run_workflow(uri: str | os.PathLike[str], workflow: str | None = None,
                 parameters: Mapping[str, Any] | None = None, *, version: str | None = None,
                 experiment_name: str | None = None, experiment_id: str | None = None,
                 env_manager: str | None = None, store: str | os.PathLike[str] | None = None,
                 max_parallel: int | None = None, use_cache: bool = True,
                 run_name: str | None = None) -> WorkflowResult:
    """Run workflow ``workflow`` of the project at ``uri``; wait for every step.

    Args:
        parameters: ``{"step.param": value}`` overrides of the steps' parameters.
        max_parallel: steps run at once (default: the CPU count, at least 2).
        use_cache: reuse earlier step runs with the same cache key.
        (the others as in :func:`lakeml.projects.run`)

    Raises:
        ExecutionError: a step failed (``.result`` holds the WorkflowResult).

    Example:
        >>> result = lakeml.projects.run_workflow("examples/wf")  # doctest: +SKIP
        >>> result.with_status("reused")                           # doctest: +SKIP
        ['combine', 'load_a', 'load_b']
    """
    client = runner.client_for(store)
    exp_id = runner.experiment_for(client, experiment_name, experiment_id)
    fetched = source.fetch(uri, version)
    try:
        project = spec.load_project(fetched.folder)
        wf = load_workflow(project, workflow)
        overrides = parse_overrides(wf, parameters or {})
        env = envs.prepare(env_manager, project.env_type, project.env,
                           project_dir=project.folder, store_uri=client.store_uri)
        result = WorkflowRunner(client, fetched, project, wf, env, exp_id, overrides,
                              max_parallel or max(2, os.cpu_count() or 2), use_cache,
                              version).run(run_name)
    finally:
        fetched.cleanup()
    if result.status != RunStatus.FINISHED:
        failed = {s: r.error for s, r in result.steps.items() if r.status == "failed"}
        error = ExecutionError(f"workflow {wf.name!r} run {result.run_id!r} failed: "
                               + "; ".join(f"step {s!r}: {e}" for s, e in failed.items()))
        error.result = result  # type: ignore[attr-defined]
        raise error
    return result


def parse_overrides(wf: Workflow, parameters: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``{"step.param": value}`` as ``{step: {param: value}}``, steps checked."""
    out: dict[str, dict[str, str]] = {}
    for key, value in parameters.items():
        step, dot, name = str(key).partition(".")
        if not dot or not name:
            raise InvalidArgument(f"workflow parameter {key!r} must be 'step.name' (e.g. "
                                  f"{next(iter(wf.steps))}.alpha=0.5)")
        if step not in wf.steps:
            raise InvalidArgument(f"workflow parameter {key!r}: no step {step!r}; steps: "
                                  f"{sorted(wf.steps)}")
        out.setdefault(step, {})[name] = str(value)
    return out


class WorkflowRunner:
    """One run of a workflow: the parent run, the scheduler and the per-step work."""

    def __init__(self, client: Client, fetched: source.FetchedProject, project: spec.Project,
                 wf: Workflow, env: envs.Environment, experiment_id: str,
                 overrides: dict[str, dict[str, str]], max_parallel: int, use_cache: bool,
                 version: str | None) -> None:
        self.client, self.fetched, self.project, self.wf = client, fetched, project, wf
        self.env, self.experiment_id, self.overrides = env, experiment_id, overrides
        self.max_parallel, self.use_cache, self.version = max_parallel, use_cache, version
        self.results: dict[str, StepResult] = {}
        self.active: set[SubmittedRun] = set()  # commands running now, to stop on Ctrl-C
        self.lock = threading.Lock()
        self.run_id = ""

    # ---- the DAG ------------------------------------------------------------------
    def begin(self, run_name: str | None, *, detached: bool = False) -> str:
        """Create the parent run (RUNNING), with the parameter overrides as its params.

        ``detached``: no process owns the run (a scheduler drives it step by step from
        short-lived processes), so ``lakeml runs cleanup --stale`` judges it by age only.
        """
        tags = {runner.SOURCE_NAME: self.fetched.uri, runner.SOURCE_TYPE: "PROJECT",
                WORKFLOW_TAG: self.wf.name, runner.ENV_MANAGER: self.env.manager}
        if detached:
            tags[OWNER_TAG] = ""
        if self.fetched.git_commit:
            tags[runner.GIT_COMMIT] = self.fetched.git_commit
        if self.version:
            tags[runner.VERSION] = self.version
        parent = self.client.create_run(self.experiment_id, tags=tags,
                                        run_name=run_name or f"workflow-{self.wf.name}")
        self.run_id = parent.info.run_id
        params = {f"{s}.{k}": v for s, values in self.overrides.items() for k, v in values.items()}
        if params:
            self.client.log_batch(self.run_id, params=params)
        self.client.store.flush(report=False)
        return self.run_id

    def end(self, status: str) -> WorkflowResult:
        """End the parent run with ``status``; the results in DAG order."""
        self.client.set_terminated(self.run_id, status)
        self.client.store.flush(report=False)
        ordered = {s: self.results[s] for level in self.wf.levels for s in level
                   if s in self.results}
        return WorkflowResult(self.run_id, self.wf.name, status, ordered)

    def succeeded(self) -> bool:
        """Whether every step of the workflow was executed or reused."""
        return all(s in self.results and self.results[s].status in ("executed", "reused")
                   for s in self.wf.steps)

    def run(self, run_name: str | None) -> WorkflowResult:
        """Run every step (as the DAG allows) under a new parent run."""
        staging_folders.sweep()  # those left by runs killed with kill -9
        self.begin(run_name)
        status = RunStatus.FAILED
        try:
            self._schedule()
            status = RunStatus.FINISHED if self.succeeded() else RunStatus.FAILED
        except KeyboardInterrupt:
            status = RunStatus.KILLED
            raise
        finally:
            result = self.end(status)
        return result

    def load(self, workflow_run_id: str) -> None:
        """Adopt workflow run ``workflow_run_id`` and the latest result of each of its steps
        (for running one step at a time, as an Airflow task does)."""
        self.run_id = workflow_run_id
        rows = self.client.sql(
            "SELECT step, status, run_id, source_run_id, cache_key, error FROM workflow_steps "
            "WHERE workflow_run_id = ? ORDER BY end_time", [workflow_run_id]).fetchall()
        outputs = self.client.sql(
            "SELECT run_id, name, kind, uri, digest FROM workflow_lineage "
            "WHERE workflow_run_id = ? AND direction = 'output'", [workflow_run_id]).fetchall()
        for step, status, run_id, source_run_id, key, error in rows:  # the latest row wins
            outs = {name: (kind, uri, digest) for rid, name, kind, uri, digest in outputs
                    if rid == run_id}
            self.results[step] = StepResult(step, status, run_id, source_run_id, key, outs,
                                            error)

    def run_one(self, name: str) -> StepResult:
        """Run step ``name`` now; its upstream steps must have succeeded in this run."""
        if name not in self.wf.steps:
            raise NotFound(f"workflow {self.wf.name!r} has no step {name!r}; steps: "
                           f"{sorted(self.wf.steps)}")
        step = self.wf.steps[name]
        for up in step.upstream:
            done = self.results.get(up)
            if done is None or done.status not in ("executed", "reused"):
                raise InvalidArgument(
                    f"step {name!r} reads from step {up!r}, which "
                    f"{'has not run' if done is None else f'ended {done.status!r}'} in "
                    f"workflow run {self.run_id!r}; run it first")
        staging_folders.sweep()
        result = self._run_step(step)
        self.results[name] = result
        return result

    def _schedule(self) -> None:
        pending = set(self.wf.steps)
        running: dict[Future[StepResult], str] = {}
        failed = False
        with ThreadPoolExecutor(self.max_parallel, thread_name_prefix="lakeml-step") as pool:
            while pending or running:
                if not failed:
                    for name in sorted(pending):
                        if all(up in self.results for up in self.wf.steps[name].upstream):
                            running[pool.submit(self._run_step, self.wf.steps[name])] = name
                            pending.discard(name)
                if not running:
                    break
                try:
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:  # stop the commands, or the pool waits for them
                    with self.lock:
                        active = list(self.active)
                    for submitted in active:
                        submitted.cancel()
                    raise
                for future in done:
                    name = running.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # a bug or a store fault: the step failed
                        result = StepResult(name, "failed", error=f"{type(exc).__name__}: {exc}")
                        self._record(self.wf.steps[name], result, now_us(), [])
                    self.results[name] = result
                    failed = failed or result.status == "failed"
        for name in sorted(pending):  # not started because a step failed
            result = StepResult(name, "skipped", error="an upstream or earlier step failed")
            self.results[name] = result
            self._record(self.wf.steps[name], result, None, [])
        self.client.store.flush(report=False)

    # ---- one step ---------------------------------------------------------------
    def _run_step(self, step: Step) -> StepResult:
        started = now_us()
        params = {**step.parameters, **self.overrides.get(step.name, {})}
        staging = staging_folders.step_folder(step.name)
        try:
            try:
                inputs = {name: self._resolve_input(step, inp, staging)
                          for name, inp in step.inputs.items()}
                key = self._cache_key(step, params, inputs)
            except LakemlError as exc:
                result = StepResult(step.name, "failed", error=str(exc))
                self._record(step, result, started, [])
                return result
            reused = self._lookup(key) if self.use_cache else None
            if reused is not None:
                result = self._reuse(step, params, key, *reused)
            else:
                result = self._execute(step, params, key, inputs, staging)
            self._record(step, result, started, [
                ("input", name, kind, uri, digest, inp.step, inp.output)
                for name, inp in step.inputs.items()
                for (_, kind, uri, digest) in [inputs[name]]])
            return result
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _resolve_input(self, step: Step, inp: Input, staging: Path
                       ) -> tuple[str, str, str, str]:
        """(local path or URI for the command, kind, uri, digest) of an input."""
        if inp.kind == "step":
            kind, uri, digest = self.results[inp.step].outputs[inp.output]  # type: ignore[index]
            if kind == "artifact":
                return self._local_artifact(uri, staging / "inputs" / inp.name), kind, uri, digest
            return digests.table_path(uri), kind, uri, digest
        if inp.kind == "path":
            path = Path(inp.ref)
            path = path if path.is_absolute() else self.project.folder / path
            if not path.exists():
                raise NotFound(f"input {inp.name!r} of step {step.name!r}: {inp.ref!r} does not "
                               f"exist (looked for {path})")
            return str(path.resolve()), "path", str(path.resolve()), digests.file_digest(path)
        uri = table_location(self.client.store_uri, self.wf.name, inp.ref)
        found = digests.table_snapshot(uri)
        if found is None:
            raise NotFound(f"input {inp.name!r} of step {step.name!r}: no Delta table at {uri!r}")
        return uri, "table", *found  # recorded as the version current when the step starts

    def _local_artifact(self, uri: str, dst: Path) -> str:
        if "://" not in uri or uri.startswith("file://"):
            return uri.removeprefix("file://")
        import fsspec.core

        fs, path = fsspec.core.url_to_fs(uri, **self.client.store.artifact_storage_options)
        dst.parent.mkdir(parents=True, exist_ok=True)
        fs.get(path, str(dst), recursive=fs.isdir(path))
        return str(dst)

    def _cache_key(self, step: Step, params: dict[str, str],
                   inputs: dict[str, tuple[str, str, str, str]]) -> str:
        entry = self.project.entry_point(step.entry_point)
        files = digests.code_files(self.project.folder, entry.command, step.code)
        path_params = {}  # a path parameter's content counts, not just its name
        for name, value in params.items():
            if name in entry.parameters and entry.parameters[name].type == "path":
                path = self.project.folder / value  # an absolute value stays as it is
                if path.exists():
                    path_params[name] = digests.file_digest(path)
        return digests.key({
            "entry_point": [entry.name, entry.command,
                            {k: [p.type, p.default] for k, p in entry.parameters.items()}],
            "code": digests.code_digest(self.project.folder, files),
            "params": params, "path_params": path_params,
            "env": self.env.content_hash or self.env.manager,
            "inputs": {name: digest for name, (_, _, _, digest) in inputs.items()},
            "outputs": {o.name: [o.kind, o.location] for o in step.outputs.values()},
        })

    def _lookup(self, key: str) -> tuple[str, dict[str, tuple[str, str, str]]] | None:
        """(source run, outputs) of an earlier finished run with ``key`` whose outputs
        are still there unchanged, or None."""
        rows = self.client.sql(
            "SELECT s.source_run_id FROM workflow_steps s JOIN runs r "
            "ON r.run_id = s.source_run_id WHERE s.cache_key = ? AND s.status = 'executed' "
            "AND r.status = 'FINISHED' AND r.lifecycle_stage = 'active' "
            "ORDER BY s.end_time DESC", [key]).fetchall()
        for (source_run_id,) in rows:
            outs = self.client.sql(
                "SELECT DISTINCT name, kind, uri, digest FROM workflow_lineage "
                "WHERE run_id = ? AND direction = 'output'", [source_run_id]).fetchall()
            outputs = {name: (kind, uri, digest) for name, kind, uri, digest in outs}
            if all(self._still_there(kind, uri, digest) for kind, uri, digest in outputs.values()):
                return source_run_id, outputs
        return None

    def _still_there(self, kind: str, uri: str, digest: str) -> bool:
        if kind == "table":
            return digests.table_digest(digests.table_path(uri)) == digest
        if "://" not in uri:
            return Path(uri).exists()
        return True  # remote artifacts are immutable once logged

    def _step_tags(self, step: Step, key: str) -> dict[str, str]:
        return {WORKFLOW_TAG: self.wf.name, STEP_TAG: step.name, CACHE_KEY_TAG: key}

    def _reuse(self, step: Step, params: dict[str, str], key: str, source_run_id: str,
               outputs: dict[str, tuple[str, str, str]]) -> StepResult:
        tags = {**self._step_tags(step, key), CACHE_HIT_TAG: "true", REUSED_TAG: source_run_id,
                runner.ENTRY_POINT: step.entry_point}
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=step.name,
                                     parent_run_id=self.run_id)
        if params:
            self.client.log_batch(run.info.run_id, params=params)
        self.client.set_terminated(run.info.run_id, RunStatus.FINISHED)
        return StepResult(step.name, "reused", run.info.run_id, source_run_id, key, outputs)

    def _execute(self, step: Step, params: dict[str, str], key: str,
                 inputs: dict[str, tuple[str, str, str, str]], staging: Path) -> StepResult:
        out_dir = staging / "outputs"
        targets: dict[str, str] = {}
        for out in step.outputs.values():
            if out.kind == "artifact":
                target = out_dir / out.location
                target.parent.mkdir(parents=True, exist_ok=True)
                targets[out.name] = str(target)
            else:
                targets[out.name] = table_location(self.client.store_uri, self.wf.name,
                                                   out.location)
        produced: dict[str, tuple[str, str, str]] = {}
        holder: dict[str, str] = {}

        def check() -> str | None:
            return self._collect_outputs(step, holder["run_id"], targets, produced)

        all_params = {**params, **{n: local for n, (local, _, _, _) in inputs.items()},
                      **targets}
        try:
            submitted = runner.launch(
                self.client, self.fetched, self.project, step.entry_point, all_params,
                experiment_id=self.experiment_id, env=self.env, run_name=step.name,
                parent_run_id=self.run_id, tags=self._step_tags(step, key),
                version=self.version, cwd=self.project.folder, check=check)
        except LakemlError as exc:
            return StepResult(step.name, "failed", cache_key=key, error=str(exc))
        holder["run_id"] = submitted.run_id
        with self.lock:
            self.active.add(submitted)
        try:
            ok = submitted.wait()
        finally:
            with self.lock:
                self.active.discard(submitted)
        if ok:
            return StepResult(step.name, "executed", submitted.run_id, submitted.run_id, key,
                              produced)
        error = submitted.error or (f"command {submitted.command!r} exited with status "
                                    f"{submitted.returncode}")
        return StepResult(step.name, "failed", submitted.run_id, submitted.run_id, key,
                          produced, error)

    def _collect_outputs(self, step: Step, run_id: str, targets: dict[str, str],
                         produced: dict[str, tuple[str, str, str]]) -> str | None:
        """Log the artifact outputs and digest every output; the error if one is missing."""
        for out in step.outputs.values():
            target = targets[out.name]
            if out.kind == "table":
                found = digests.table_snapshot(target)
                if found is None:
                    return (f"did not produce its declared output {out.name!r}: no Delta "
                            f"table at {target!r}")
                produced[out.name] = ("table", *found)  # <target>@v<N>: the version made
                continue
            path = Path(target)
            if not path.exists():
                return (f"did not produce its declared output {out.name!r}: artifact "
                        f"{out.location!r} was not written to {target!r}")
            folder = os.path.dirname(out.location) or None
            if path.is_dir():
                self.client.log_artifacts(run_id, path, out.location)
            else:
                self.client.log_artifact(run_id, path, folder)
            produced[out.name] = ("artifact", self.client.get_artifact_uri(run_id, out.location),
                                  digests.file_digest(path))
        return None

    def _record(self, step: Step, result: StepResult, started: int | None,
                inputs: list[tuple[str, str, str, str, str, str | None, str | None]]) -> None:
        """Append the step's row and its lineage rows (committed with the next flush)."""
        now = now_us()
        store = self.client.store
        store.append("workflow_steps", store.rows.workflow_steps(
            workflow_run_id=self.run_id, workflow=self.wf.name, step=step.name,
            entry_point=step.entry_point, run_id=result.run_id,
            source_run_id=result.source_run_id, cache_key=result.cache_key,
            status=result.status, error=result.error, start_time=started, end_time=now))
        rows = [*inputs, *[("output", name, kind, uri, digest, None, None)
                           for name, (kind, uri, digest) in result.outputs.items()]]
        for direction, name, kind, uri, digest, from_step, from_output in rows:
            store.append("workflow_lineage", store.rows.workflow_lineage(
                workflow_run_id=self.run_id, workflow=self.wf.name, step=step.name,
                run_id=result.run_id, source_run_id=result.source_run_id, direction=direction,
                name=name, kind=kind, uri=uri, digest=digest, from_step=from_step,
                from_output=from_output, timestamp=now))
        self.client.store.flush(report=False)


def describe(wf: Workflow) -> list[tuple[int, str, str, str, str, str]]:
    """(level, step, entry point, after, inputs, outputs) rows, in run order."""
    rows = []
    for level, names in enumerate(wf.levels):
        for name in names:
            step = wf.steps[name]
            ins = ", ".join(f"{i.name}<-{i.ref if i.kind == 'step' else f'{i.kind}:{i.ref}'}"
                            for i in step.inputs.values())
            outs = ", ".join(f"{o.name}->{o.kind}:{o.location}" for o in step.outputs.values())
            rows.append((level, name, step.entry_point, ",".join(step.upstream) or "-",
                         ins or "-", outs or "-"))
    return rows


def show(wf: Workflow) -> str:
    """The DAG as text: one line per step, indented by level, with its edges."""
    lines = [f"workflow {wf.name}: {len(wf.steps)} steps in {len(wf.levels)} levels "
             "(steps of one level may run in parallel)"]
    for level, name, entry, after, ins, outs in describe(wf):
        lines.append(f"  [{level}] {name} (entry point {entry})")
        if after != "-":
            lines.append(f"        after: {after}")
        if ins != "-":
            lines.append(f"        in:    {ins}")
        if outs != "-":
            lines.append(f"        out:   {outs}")
    for name in wf.steps:
        for down in sorted(s for s in wf.steps if name in wf.steps[s].upstream):
            lines.append(f"  {name} -> {down}")
    return "\n".join(lines)

