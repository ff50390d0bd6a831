"""Writing into a running MLflow server through its REST API: the export's server target.

What MLflow's REST API lets a client set comes over as lakeml holds it:
experiment names, tags and lifecycle; run names, users, start and end times,
statuses, lifecycle, params, tags, full metric histories (values, steps,
timestamps), dataset inputs; artifacts through the server's artifact proxy;
registered models with descriptions and tags, versions with stages,
descriptions and tags, and aliases.

What it does not let a client set, the server chooses:

* **ids**: the server numbers experiments and names runs itself. Experiments
  are matched by name; each run carries a tag ``lakeml.source_run_id`` (its
  lakeml id), by which a re-export finds it instead of creating it again, and
  ``mlflow.parentRunId`` and ``runs:/`` model sources are rewritten to the
  server's ids;
* **creation times** of experiments, registered models and versions (now);
* **version numbers** follow creation order (1, 2, …): lakeml's numbers are
  kept when they have no gaps; otherwise the summary counts the versions
  renumbered. Each version carries a tag ``lakeml.source_version`` (its lakeml
  number), by which a re-export finds it, whatever number the server gave it:
  stages, tags and aliases go to that version. A version the export created
  whose lakeml version is deleted since is deleted on the server; versions
  without the tag (added on the server by hand) are left alone.

Each model a run logged becomes an MLflow 3 logged model with an id of the
server's, tagged ``lakeml.source_model_id``, its files uploaded to it (a copy
beside the run's), READY and an output of its run.

A registered model the export creates carries a tag ``lakeml.exported``; a
model of the same name already on the server without it is someone else's,
and the export stops with an error naming it rather than write into it.

Sending a run again (it changed in lakeml since) re-sends all its rows: MLflow
keeps one copy of a metric point sent twice, params must keep their values,
tags are overwritten. A deleted run is restored while it is written and
deleted again right after its rows, before its chunk is recorded as sent (an
interrupted export leaves no deleted run active); a deleted experiment is
restored while its runs are written and deleted again at the end.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from lakeml.errors import AlreadyExists
from lakeml.migrate.file_source import local_path
from lakeml.migrate.mlflow_rest import MlflowRest

if TYPE_CHECKING:
    from lakeml.migrate.source import (
        ExperimentRecord,
        LoggedModelRecord,
        RegisteredModelRecord,
        RunBatch,
    )

SOURCE_TAG = "lakeml.source_run_id"
VERSION_TAG = "lakeml.source_version"  # a model version's number in lakeml
MODEL_TAG = "lakeml.exported"  # on a registered model the export created
MODEL_SOURCE_TAG = "lakeml.source_model_id"  # on a logged model: its id in the export
_MODEL_READY = 2  # MLflow's LoggedModelStatus.READY
_BATCH_METRICS, _BATCH_PARAMS, _BATCH_TAGS = 1000, 100, 100


def _kv(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": "" if v is None else str(v)} for k, v in values.items()]


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class RestSink:
    """MLflow server ``uri``, written through its REST API."""

    keeps_ids = False

    def __init__(self, uri: str) -> None:
        self.rest = MlflowRest(uri)
        self.uri = self.rest.uri
        self._deleted_experiments: list[str] = []
        self._server_runs: dict[str, dict[str, Any]] = {}  # by lakeml id: the server's info

    def close(self) -> None:
        self.rest.close()

    # ---- experiments --------------------------------------------------------------------
    def put_experiments(self, records: list[ExperimentRecord]) -> dict[str, str]:
        ids = {}
        for rec in records:
            found = self.rest.call("GET", "experiments/get-by-name",
                                   params={"experiment_name": rec.name}, missing_ok=True)
            if found is None:
                exp_id = self.rest.call("POST", "experiments/create", {
                    "name": rec.name, "tags": _kv(rec.tags)})["experiment_id"]
            else:
                exp = found["experiment"]
                exp_id = exp["experiment_id"]
                if exp.get("lifecycle_stage") == "deleted":
                    self.rest.call("POST", "experiments/restore", {"experiment_id": exp_id})
                have = {t["key"]: t["value"] for t in exp.get("tags", [])}
                for key, value in rec.tags.items():
                    if have.get(key) != value:
                        self.rest.call("POST", "experiments/set-experiment-tag", {
                            "experiment_id": exp_id, "key": key, "value": value})
            if rec.lifecycle_stage == "deleted":
                self._deleted_experiments.append(exp_id)
            ids[rec.experiment_id] = exp_id
        return ids

    # ---- runs ---------------------------------------------------------------------------
    def known_runs(self, experiments: dict[str, str]) -> dict[str, tuple[str, str]]:
        """Runs of these experiments that carry a ``lakeml.source_run_id`` tag."""
        found = {}
        exp_ids = sorted(set(experiments.values()))
        for start in range(0, len(exp_ids), 100):
            for run in self.rest.pages("runs/search", {
                    "experiment_ids": exp_ids[start:start + 100], "run_view_type": "ALL",
                    "filter": f"tags.`{SOURCE_TAG}` != ''"}, "runs"):
                tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
                if SOURCE_TAG in tags:
                    self._server_runs[tags[SOURCE_TAG]] = run["info"]
                    found[tags[SOURCE_TAG]] = (run["info"]["run_id"],
                                               run["info"]["artifact_uri"])
        return found

    def _create(self, run: dict[str, Any], experiments: dict[str, str]) -> dict[str, Any]:
        info = self.rest.call("POST", "runs/create", {
            "experiment_id": experiments[run["experiment_id"]], "user_id": run["user_id"] or "",
            "start_time": run["start_time"], "run_name": run["run_name"] or "",
            "tags": [{"key": SOURCE_TAG, "value": run["run_id"]}]})["run"]["info"]
        self._server_runs[run["run_id"]] = info
        return info

    def put_runs(self, batch: RunBatch, experiments: dict[str, str]
                 ) -> dict[str, tuple[str, str]]:
        runs = batch.runs.to_pylist()
        for run in runs:  # every run first, so a parent in the same batch has its id
            info = self._server_runs.get(run["run_id"])
            if info is None:
                self._create(run, experiments)
            elif info.get("lifecycle_stage") == "deleted":
                self.rest.call("POST", "runs/restore", {"run_id": info["run_id"]})
        rows = _grouped(batch)
        out = {}
        for run in runs:
            info = self._server_runs[run["run_id"]]
            self._put_rows(info["run_id"], run, rows.get(run["run_id"], {}))
            if run["lifecycle_stage"] == "deleted":  # now, before the chunk is recorded
                self.rest.call("POST", "runs/delete", {"run_id": info["run_id"]})
            out[run["run_id"]] = (info["run_id"], info["artifact_uri"])
        return out

    def _server_id(self, lake_run_id: str | None) -> str | None:
        info = self._server_runs.get(lake_run_id or "")
        return info["run_id"] if info else lake_run_id

    def _put_rows(self, server_id: str, run: dict[str, Any], rows: dict[str, Any]) -> None:
        tags = dict(rows.get("tags", {}))
        parent = run["parent_run_id"] or tags.get("mlflow.parentRunId")
        if parent:
            tags["mlflow.parentRunId"] = self._server_id(parent)
        tags[SOURCE_TAG] = run["run_id"]
        params = _kv(rows.get("params", {}))
        for chunk in _chunks(params, _BATCH_PARAMS):
            self.rest.call("POST", "runs/log-batch", {"run_id": server_id, "params": chunk})
        for chunk in _chunks(_kv(tags), _BATCH_TAGS):
            self.rest.call("POST", "runs/log-batch", {"run_id": server_id, "tags": chunk})
        for chunk in _chunks(rows.get("metrics", []), _BATCH_METRICS):
            self.rest.call("POST", "runs/log-batch", {"run_id": server_id, "metrics": chunk})
        if rows.get("inputs"):
            self.rest.call("POST", "runs/log-inputs", {"run_id": server_id,
                                                       "datasets": rows["inputs"]})
        update: dict[str, Any] = {"run_id": server_id, "status": run["status"] or "FINISHED",
                                  "run_name": run["run_name"] or ""}
        if run["end_time"] is not None:
            update["end_time"] = run["end_time"]
        self.rest.call("POST", "runs/update", update)

    def put_artifacts(self, src: str, artifact_uri: str) -> int:
        """Upload every file under ``src`` (a lakeml artifact folder) to the run's place."""
        from lakeml.migrate.artifacts import copy_tree

        if not artifact_uri.startswith("mlflow-artifacts:"):  # the server writes elsewhere
            return copy_tree(src, artifact_uri)
        import fsspec.core

        fs, root = fsspec.core.url_to_fs(src if "://" in src else local_path(src))
        if not fs.isdir(root):
            return 0
        base = MlflowRest.proxied_path(artifact_uri)
        sent = 0
        for file in fs.find(root):
            rel = os.path.relpath(file, root).replace(os.sep, "/")
            with fs.open(file, "rb") as fh:
                self.rest.put_artifact(f"{base}/{rel}", fh.read())
            sent += 1
        return sent

    # ---- logged models ------------------------------------------------------------------
    def put_logged_models(self, models: list[LoggedModelRecord], experiments: dict[str, str],
                          runs: dict[str, tuple[str, str]]) -> int:
        """Create each model on the server (tagged with its lakeml id, so a re-export finds
        it), upload its files to the place the server gives it, finalize it READY and log
        it as an output of its run; returns how many were made. A model left PENDING by
        an export that stopped is uploaded and finalized again."""
        exp_ids = sorted({experiments[m.experiment_id] for m in models
                          if m.experiment_id in experiments})
        have: dict[str, dict[str, Any]] = {}
        for start in range(0, len(exp_ids), 100):
            for found in self.rest.pages("logged-models/search", {
                    "experiment_ids": exp_ids[start:start + 100]}, "models", page_size=100):
                info = found.get("info", {})
                tags = {t["key"]: t["value"] for t in info.get("tags", [])}
                if MODEL_SOURCE_TAG in tags:
                    have[tags[MODEL_SOURCE_TAG]] = info
        made = 0
        for model in models:
            run = runs.get(model.source_run_id or "")
            if run is None or model.experiment_id not in experiments:
                continue
            info = have.get(model.model_id)
            if info is not None and info.get("status") in ("LOGGED_MODEL_READY", 2):
                continue
            if info is None:
                info = self.rest.call("POST", "logged-models", {
                    "experiment_id": experiments[model.experiment_id], "name": model.name,
                    "source_run_id": run[0],
                    "tags": [{"key": MODEL_SOURCE_TAG, "value": model.model_id}]})[
                    "model"]["info"]
                made += 1
            self.put_artifacts(model.artifact_location, info["artifact_uri"])
            self.rest.call("PATCH", f"logged-models/{info['model_id']}", {
                "model_id": info["model_id"], "status": _MODEL_READY})
            self.rest.call("POST", "runs/outputs", {
                "run_id": run[0], "models": [{"model_id": info["model_id"], "step": 0}]})
        return made

    # ---- registry -----------------------------------------------------------------------
    def _server_versions(self) -> dict[str, list[dict[str, Any]]]:
        """Every model version on the server, by model name (one search, no filter: a
        name is never quoted into a filter MLflow may read otherwise)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for v in self.rest.pages("model-versions/search", {}, "model_versions",
                                 method="GET", page_size=10_000):
            out.setdefault(v["name"], []).append(v)
        return out

    def put_registry(self, models: list[RegisteredModelRecord],
                     runs: dict[str, tuple[str, str]]) -> dict[str, int]:
        counts = {"registered_models": 0, "model_versions": 0, "versions_renumbered": 0,
                  "versions_deleted": 0}
        on_server = self._server_versions()
        for model in models:
            self._put_model(model, counts)
            mine: dict[int, dict[str, Any]] = {}  # lakeml version -> the server's
            for v in on_server.get(model.name, []):
                tag = {t["key"]: t["value"] for t in v.get("tags", [])}.get(VERSION_TAG)
                if tag is not None and tag.isdigit():
                    mine[int(tag)] = v
            numbers = {}
            for version in sorted(model.versions, key=lambda v: v.version):
                numbers[version.version] = self._put_version(
                    model.name, version, mine.get(version.version), runs, counts)
            for number, v in sorted(mine.items()):  # deleted in lakeml since
                if number not in numbers:
                    self.rest.call("DELETE", "model-versions/delete", {
                        "name": model.name, "version": str(v["version"])})
                    counts["versions_deleted"] += 1
            for alias, number in model.aliases.items():
                if number in numbers:
                    self.rest.call("POST", "registered-models/alias", {
                        "name": model.name, "alias": alias,
                        "version": str(numbers[number])})
        return counts

    def _put_model(self, model: RegisteredModelRecord, counts: dict[str, int]) -> None:
        found = self.rest.call("GET", "registered-models/get", params={"name": model.name},
                               missing_ok=True)
        if found is None:
            self.rest.call("POST", "registered-models/create", {
                "name": model.name, "description": model.description or "",
                "tags": _kv({**model.tags, MODEL_TAG: "true"})})
            counts["registered_models"] += 1
            return
        have = found["registered_model"]
        tags = {t["key"]: t["value"] for t in have.get("tags", [])}
        if MODEL_TAG not in tags:
            raise AlreadyExists(
                f"cannot export registered model {model.name!r} to {self.uri}: the server "
                f"already has a model of that name that no lakeml export created (it lacks "
                f"the tag {MODEL_TAG}); rename one of them, or delete the server's")
        if (have.get("description") or "") != (model.description or ""):
            self.rest.call("PATCH", "registered-models/update", {
                "name": model.name, "description": model.description or ""})
        for key, value in model.tags.items():
            if tags.get(key) != value:
                self.rest.call("POST", "registered-models/set-tag", {
                    "name": model.name, "key": key, "value": value})

    def _put_version(self, name: str, version: Any, current: dict[str, Any] | None,
                     runs: dict[str, tuple[str, str]], counts: dict[str, int]) -> int:
        """Create lakeml version ``version`` (tagged with its lakeml number), or bring
        ``current``, the server's version carrying that tag, up to date; returns the
        server's number of it."""
        from lakeml.migrate.file_sink import version_source

        if current is None:
            source, _ = version_source(version.source, version.storage_location, runs)
            run_id = runs.get(version.run_id or "", (None, ""))[0]
            body: dict[str, Any] = {
                "name": name, "source": source or "", "description": version.description or "",
                "tags": _kv({**version.tags, VERSION_TAG: str(version.version)})}
            if run_id:
                body["run_id"] = run_id
            current = self.rest.call("POST", "model-versions/create", body)["model_version"]
            counts["model_versions"] += 1
        number = int(current["version"])
        counts["versions_renumbered"] += number != version.version
        if current.get("current_stage", "None") != version.stage:
            self.rest.call("POST", "model-versions/transition-stage", {
                "name": name, "version": str(number), "stage": version.stage,
                "archive_existing_versions": False})
        if (current.get("description") or "") != (version.description or ""):
            self.rest.call("PATCH", "model-versions/update", {
                "name": name, "version": str(number), "description": version.description or ""})
        tags = {t["key"]: t["value"] for t in current.get("tags", [])}
        for key, value in version.tags.items():
            if tags.get(key) != value:
                self.rest.call("POST", "model-versions/set-tag", {
                    "name": name, "version": str(number), "key": key, "value": value})
        return number

    def finish(self) -> None:
        """Delete again the experiments lakeml holds as deleted (active while their runs
        were written; put_experiments restores and lists them again on every export, so an
        interrupted export's are deleted by the next)."""
        for exp_id in self._deleted_experiments:
            self.rest.call("POST", "experiments/delete", {"experiment_id": exp_id})


def _json_double(value: float) -> float | str:
    """A double as protobuf's JSON spells the ones JSON cannot (NaN, infinities)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _grouped(batch: RunBatch) -> dict[str, dict[str, Any]]:
    """run id -> its params and tags (dicts), metrics and inputs (REST shapes)."""
    out: dict[str, dict[str, Any]] = {}

    def of(run_id: str) -> dict[str, Any]:
        return out.setdefault(run_id, {"params": {}, "tags": {}, "metrics": [], "inputs": []})

    for kind in ("params", "tags"):
        for row in getattr(batch, kind).to_pylist():
            of(row["run_id"])[kind][row["key"]] = row["value"]
    for row in batch.metrics.to_pylist():
        of(row["run_id"])["metrics"].append({
            "key": row["key"], "step": row["step"], "timestamp": row["timestamp"],
            "value": _json_double(row["value"])})
    for row in batch.inputs.to_pylist():
        dataset = {k: row[k] for k in ("name", "digest", "source_type", "source", "schema",
                                       "profile") if row[k] is not None}
        tags = [{"key": "mlflow.data.context", "value": row["context"]}] if row["context"] \
            else []
        of(row["run_id"])["inputs"].append({"tags": tags, "dataset": dataset})
    return out
