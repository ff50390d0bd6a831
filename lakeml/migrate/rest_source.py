"""Reading a running MLflow server (``http(s)://``) through its REST API, for the import.

Experiments, runs (with their params, tags, latest metrics and dataset
inputs) and registered models come from MLflow's searches, followed page by
page; each metric's full history from ``metrics/get-history`` (one request
per run and key, several at once); MLflow 3's logged models from
``logged-models/search``; artifacts through the server's artifact proxy
(``mlflow-artifacts:`` URIs), so a server's store imports whole without
access to its database or its artifact bucket.

A run's fingerprint is a digest of what the search returns of it (status,
end time, lifecycle, params, tags, the latest value, step and time of each
metric, inputs): a run that gained a point or a tag since the last import is
read again.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lakeml.errors import InvalidArgument
from lakeml.migrate.mlflow_rest import MlflowRest
from lakeml.migrate.source import (
    ExperimentRecord,
    LoggedModelRecord,
    RegisteredModelRecord,
    RunBatch,
    VersionRecord,
    columns_table,
)

_HISTORY_THREADS = 8
_HISTORY_PAGE = 25_000


def _tags(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t["key"]: t.get("value", "") for t in items or []}


class RestSource:
    """MLflow server ``uri``, read-only."""

    def __init__(self, uri: str) -> None:
        self.rest = MlflowRest(uri)
        self.uri = self.rest.uri
        self._runs: dict[str, dict[str, Any]] | None = None
        self._experiment_ids: list[str] = []

    def close(self) -> None:
        self.rest.close()

    def experiments(self) -> list[ExperimentRecord]:
        out = []
        for e in self.rest.pages("experiments/search", {"view_type": "ALL"}, "experiments"):
            out.append(ExperimentRecord(
                str(e["experiment_id"]), e["name"], e.get("artifact_location"),
                e.get("lifecycle_stage") or "active", e.get("creation_time"),
                e.get("last_update_time"), _tags(e.get("tags"))))
        self._experiment_ids = [e.experiment_id for e in out]
        return sorted(out, key=lambda e: (len(e.experiment_id), e.experiment_id))

    def _all_runs(self) -> dict[str, dict[str, Any]]:
        if self._runs is None:
            if not self._experiment_ids:
                self.experiments()
            self._runs = {}
            ids = self._experiment_ids
            for start in range(0, len(ids), 100):
                for run in self.rest.pages("runs/search", {
                        "experiment_ids": ids[start:start + 100], "run_view_type": "ALL"},
                        "runs"):
                    self._runs[run["info"]["run_id"]] = run
        return self._runs

    def run_index(self) -> dict[str, str]:
        index = {}
        for run_id, run in self._all_runs().items():
            info = run["info"]
            seen = [info.get("status"), info.get("end_time"), info.get("lifecycle_stage"),
                    run.get("data", {}), run.get("inputs", {})]
            index[run_id] = hashlib.sha256(json.dumps(seen, sort_keys=True, default=str)
                                           .encode()).hexdigest()[:32]
        return index

    def _history(self, run_id: str, key: str) -> list[tuple]:
        points = []
        token = None
        while True:
            params = {"run_id": run_id, "metric_key": key, "max_results": _HISTORY_PAGE}
            if token:
                params["page_token"] = token
            answer = self.rest.call("GET", "metrics/get-history", params=params)
            points += [(run_id, key, float(m["value"]), int(m.get("step", 0)),
                        int(m["timestamp"])) for m in answer.get("metrics", [])]
            token = answer.get("next_page_token")
            if not token:
                return points

    def read_runs(self, run_ids: list[str]) -> RunBatch:
        runs, params, tags, inputs, wanted = [], [], [], [], []
        known = self._all_runs()
        for run_id in run_ids:
            run = known.get(run_id)
            if run is None:
                continue
            info, data = run["info"], run.get("data", {})
            run_tags = _tags(data.get("tags"))
            runs.append((run_id, str(info["experiment_id"]),
                         info.get("run_name") or run_tags.get("mlflow.runName"),
                         info.get("user_id"), info.get("status"), info.get("start_time"),
                         info.get("end_time"), info.get("lifecycle_stage") or "active",
                         run_tags.get("mlflow.parentRunId"), info.get("artifact_uri")))
            params += [(run_id, p["key"], p.get("value", "")) for p in data.get("params", [])]
            tags += [(run_id, k, v) for k, v in run_tags.items()]
            wanted += [(run_id, m["key"]) for m in data.get("metrics", [])]
            for d in run.get("inputs", {}).get("dataset_inputs", []):
                ds = d.get("dataset", {})
                inputs.append((run_id, ds.get("name"), ds.get("digest"), ds.get("source_type"),
                               ds.get("source"), ds.get("schema"), ds.get("profile"),
                               _tags(d.get("tags")).get("mlflow.data.context")))
        with ThreadPoolExecutor(_HISTORY_THREADS, thread_name_prefix="lakeml-history") as pool:
            metrics = [p for h in pool.map(lambda rk: self._history(*rk), wanted) for p in h]
        return RunBatch(_table("runs", runs), _table("params", params), _table("tags", tags),
                        _table("metrics", metrics), _table("inputs", inputs))

    def logged_models(self) -> list[LoggedModelRecord]:
        if not self._experiment_ids:
            self.experiments()
        out = []
        ids = self._experiment_ids
        for start in range(0, len(ids), 100):
            for m in self.rest.pages("logged-models/search", {
                    "experiment_ids": ids[start:start + 100]}, "models", page_size=100):
                info = m.get("info", {})
                out.append(LoggedModelRecord(
                    info["model_id"], str(info["experiment_id"]), info.get("name", ""),
                    info.get("artifact_uri", ""), info.get("creation_timestamp_ms"),
                    info.get("source_run_id")))
        return sorted(out, key=lambda m: (m.creation_time or 0, m.model_id))

    def registered_models(self) -> list[RegisteredModelRecord]:
        versions: dict[str, list[VersionRecord]] = {}
        # every version in one search, grouped by name: a name is never quoted into a
        # filter (MLflow does not unescape \\' in one)
        for v in self.rest.pages("model-versions/search", {}, "model_versions",
                                 method="GET", page_size=10_000):
            versions.setdefault(v["name"], []).append(VersionRecord(
                int(v["version"]), v.get("creation_timestamp"),
                v.get("last_updated_timestamp"), v.get("description"), v.get("user_id"),
                v.get("current_stage") or "None", v.get("source"), v.get("run_id"),
                v.get("storage_location"), _tags(v.get("tags"))))
        out = []
        for m in self.rest.pages("registered-models/search", {}, "registered_models",
                                 method="GET", page_size=1000):
            model = RegisteredModelRecord(
                m["name"], m.get("creation_timestamp"), m.get("last_updated_timestamp"),
                m.get("description"), _tags(m.get("tags")),
                {a["alias"]: int(a["version"]) for a in m.get("aliases", [])})
            model.versions = sorted(versions.get(m["name"], []), key=lambda v: v.version)
            out.append(model)
        return sorted(out, key=lambda m: (m.creation_time or 0, m.name))

    def copy_proxied(self, uri: str, target: str,
                     storage_options: dict[str, str] | None = None) -> int:
        """Download every file under ``mlflow-artifacts:`` URI ``uri`` through the
        server's proxy into ``target``, streamed to disk; files already there with the
        same size are skipped. Returns how many were downloaded.

        The server's listing is not trusted: an entry named ``""``, ``.``, ``..`` or
        holding a slash or backslash, or a path that would leave ``target``, stops the
        copy with an error naming it (a hostile server could otherwise write anywhere
        the importer can, or loop forever on ``.``)."""
        import fsspec.core

        fs, root = fsspec.core.url_to_fs(target, **(storage_options or {}))
        root = root.rstrip("/")
        base = MlflowRest.proxied_path(uri)
        copied = 0
        pending = [""]
        while pending:
            rel = pending.pop()
            for entry in self.rest.list_artifacts(f"{base}/{rel}".rstrip("/")):
                path = f"{rel}/{_entry_name(entry, f'{base}/{rel}'.rstrip('/'))}".lstrip("/")
                if entry.get("is_dir"):
                    pending.append(path)
                    continue
                dest = f"{root}/{path}"
                _check_inside(dest, root, path)
                if fs.exists(dest) and fs.size(dest) == int(entry.get("file_size", -1)):
                    continue
                fs.makedirs(os.path.dirname(dest), exist_ok=True)
                with fs.open(dest, "wb") as fh:
                    self.rest.download_artifact(f"{base}/{path}", fh)
                copied += 1
        return copied


def _entry_name(entry: dict[str, Any], folder: str) -> str:
    """The last part of a listed artifact's path, refused when it is not a plain name."""
    raw = str(entry.get("path", ""))
    name = raw.rsplit("/", 1)[-1]  # named relative to the folder
    if name in ("", ".", "..") or "\\" in name or raw.endswith("/"):
        raise InvalidArgument(f"the MLflow server listed an artifact named {raw!r} under "
                              f"{folder!r}: not a plain file name, refusing to copy it")
    return name


def _check_inside(dest: str, root: str, path: str) -> None:
    """Refuse a destination that resolves outside ``root`` (local targets)."""
    if "://" in root:
        return
    real_root = os.path.realpath(root)
    real = os.path.realpath(dest)
    if os.path.commonpath([real_root, real]) != real_root:
        raise InvalidArgument(f"the MLflow server's artifact {path!r} would be written to "
                              f"{real!r}, outside the target {real_root!r}: refusing")

def _table(kind: str, rows: list[tuple]) -> Any:
    return columns_table(kind, [list(c) for c in zip(*rows)] if rows else [])
