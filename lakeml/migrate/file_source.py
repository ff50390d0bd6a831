"""Reading an MLflow file store (``./mlruns``) straight from its folders.

The layout MLflow's FileStore writes: ``<root>/<experiment id>/meta.yaml`` and
``tags/``; a run per ``<experiment id>/<run id>/`` with ``meta.yaml``,
``params/<key>`` (the value), ``tags/<key>``, ``metrics/<key>`` (lines of
``timestamp value step``) and ``inputs/<id>/meta.yaml`` pointing into the
experiment's ``datasets/``; deleted experiments under ``.trash/``; logged models
(MLflow 3) under ``<experiment id>/models/<model id>/``; the registry under
``<root>/models/<name>/`` (``meta.yaml``, ``tags/``, ``aliases/``,
``version-<n>/``). Keys with ``/`` are nested folders. Run statuses are
numbers there (MLflow's RunStatus enum).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lakeml.errors import InvalidArgument, NotFound
from lakeml.migrate.source import (
    ExperimentRecord,
    LoggedModelRecord,
    RegisteredModelRecord,
    RunBatch,
    VersionRecord,
    columns_table,
)

_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_RESERVED = {".trash", "models", ".git"}


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
    return data if isinstance(data, dict) else {}


def _key_files(folder: Path) -> list[tuple[str, Path]]:
    """(key, file) of every file under ``folder``; a key with ``/`` is a nested path."""
    if not folder.is_dir():
        return []
    out = []
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath, name)
            out.append((path.relative_to(folder).as_posix(), path))
    return sorted(out)


def _read_values(folder: Path) -> dict[str, str]:
    return {key: path.read_text(encoding="utf-8") for key, path in _key_files(folder)}


def local_path(uri: str) -> str:
    """The local path of a ``file://`` URI or plain path."""
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return uri


class FileStoreSource:
    """An MLflow ``mlruns`` folder, read-only."""

    def __init__(self, uri: str) -> None:
        self.root = Path(local_path(uri)).expanduser().resolve()
        self.uri = str(self.root)  # one name per folder, wherever it is given from
        if not self.root.is_dir():
            raise NotFound(f"no MLflow file store at {uri!r}: {self.root} is not a folder")
        if not any((p / "meta.yaml").is_file() for p in self._experiment_dirs()):
            raise InvalidArgument(f"{uri!r} is not an MLflow file store: no "
                                  "<experiment id>/meta.yaml under it")
        self._run_dirs: dict[str, Path] | None = None

    def close(self) -> None:
        pass

    def _experiment_dirs(self) -> list[Path]:
        found = [p for p in self.root.iterdir() if p.is_dir() and p.name not in _RESERVED]
        trash = self.root / ".trash"
        if trash.is_dir():
            found += [p for p in trash.iterdir() if p.is_dir()]
        return [p for p in found if (p / "meta.yaml").is_file()]

    # ---- experiments --------------------------------------------------------------------
    def experiments(self) -> list[ExperimentRecord]:
        out = []
        for folder in self._experiment_dirs():
            meta = _yaml(folder / "meta.yaml")
            out.append(ExperimentRecord(
                str(meta.get("experiment_id", folder.name)), str(meta.get("name")),
                meta.get("artifact_location"), meta.get("lifecycle_stage") or "active",
                meta.get("creation_time"), meta.get("last_update_time"),
                _read_values(folder / "tags")))
        return sorted(out, key=lambda e: (len(e.experiment_id), e.experiment_id))

    # ---- runs ---------------------------------------------------------------------------
    def _runs(self) -> dict[str, Path]:
        if self._run_dirs is None:
            self._run_dirs = {}
            for exp in self._experiment_dirs():
                for run in exp.iterdir():
                    if run.name not in _RESERVED and run.name not in ("tags", "datasets") \
                            and (run / "meta.yaml").is_file():
                        self._run_dirs[run.name] = run
        return self._run_dirs

    def run_index(self) -> dict[str, str]:
        """run id -> sizes and times of its meta.yaml and of every params/tags/metrics file."""
        index = {}
        for run_id, folder in self._runs().items():
            parts = []
            for sub in ("meta.yaml", "params", "tags", "metrics", "inputs"):
                path = folder / sub
                files = [path] if path.is_file() else [p for _, p in _key_files(path)]
                stats = [p.stat() for p in files]
                parts.append(f"{len(stats)}:{sum(s.st_size for s in stats)}:"
                             f"{max((s.st_mtime_ns for s in stats), default=0)}")
            index[run_id] = "|".join(parts)
        return index

    def read_runs(self, run_ids: list[str]) -> RunBatch:
        runs, params, tags, metrics, inputs = [], [], [], [], []
        folders = self._runs()
        for run_id in run_ids:
            folder = folders.get(run_id)
            if folder is None:
                continue
            meta = _yaml(folder / "meta.yaml")
            run_tags = _read_values(folder / "tags")
            status = meta.get("status")
            runs.append((run_id, str(meta.get("experiment_id", folder.parent.name)),
                         meta.get("run_name") or run_tags.get("mlflow.runName"),
                         meta.get("user_id"), _STATUS.get(status, str(status)),
                         meta.get("start_time"), meta.get("end_time"),
                         meta.get("lifecycle_stage") or "active",
                         run_tags.get("mlflow.parentRunId"), meta.get("artifact_uri")))
            params += [(run_id, k, v) for k, v in _read_values(folder / "params").items()]
            tags += [(run_id, k, v) for k, v in run_tags.items()]
            for key, path in _key_files(folder / "metrics"):
                for line in path.read_text(encoding="utf-8").splitlines():
                    fields = line.split()
                    if len(fields) >= 2:
                        step = int(fields[2]) if len(fields) > 2 else 0
                        metrics.append((run_id, key, float(fields[1]), step, int(fields[0])))
            inputs += self._inputs(run_id, folder)
        return RunBatch(_table("runs", runs), _table("params", params), _table("tags", tags),
                        _table("metrics", metrics), _table("inputs", inputs))

    def _inputs(self, run_id: str, folder: Path) -> list[tuple]:
        out = []
        for meta_file in sorted((folder / "inputs").glob("*/meta.yaml")):
            meta = _yaml(meta_file)
            if meta.get("source_type") != "DATASET":
                continue
            dataset_file = folder.parent / "datasets" / str(meta.get("source_id")) / "meta.yaml"
            if not dataset_file.is_file():
                continue
            ds = _yaml(dataset_file)
            context = (meta.get("tags") or {}).get("mlflow.data.context")
            out.append((run_id, ds.get("name"), ds.get("digest"), ds.get("source_type"),
                        ds.get("source"), ds.get("schema"), ds.get("profile"), context))
        return out

    # ---- models -------------------------------------------------------------------------
    def logged_models(self) -> list[LoggedModelRecord]:
        out = []
        for exp in self._experiment_dirs():
            for meta_file in sorted((exp / "models").glob("*/meta.yaml")):
                meta = _yaml(meta_file)
                out.append(LoggedModelRecord(
                    str(meta.get("model_id", meta_file.parent.name)),
                    str(meta.get("experiment_id", exp.name)), str(meta.get("name")),
                    meta.get("artifact_location") or str(meta_file.parent / "artifacts"),
                    meta.get("creation_timestamp"), meta.get("source_run_id")))
        return sorted(out, key=lambda m: (m.creation_time or 0, m.model_id))

    def registered_models(self) -> list[RegisteredModelRecord]:
        out = []
        for meta_file in sorted((self.root / "models").glob("*/meta.yaml")):
            folder = meta_file.parent
            meta = _yaml(meta_file)
            model = RegisteredModelRecord(
                str(meta.get("name", folder.name)), meta.get("creation_timestamp"),
                meta.get("last_updated_timestamp"), meta.get("description"),
                _read_values(folder / "tags"),
                {k: int(v) for k, v in _read_values(folder / "aliases").items()})
            for version_meta in folder.glob("version-*/meta.yaml"):
                v = _yaml(version_meta)
                if v.get("current_stage") == "Deleted_Internal":
                    continue
                model.versions.append(VersionRecord(
                    int(v["version"]), v.get("creation_timestamp"),
                    v.get("last_updated_timestamp"), v.get("description"), v.get("user_id"),
                    v.get("current_stage") or "None", v.get("source"), v.get("run_id"),
                    v.get("storage_location"), _read_values(version_meta.parent / "tags")))
            model.versions.sort(key=lambda v: v.version)
            out.append(model)
        return sorted(out, key=lambda m: (m.creation_time or 0, m.name))


def _table(kind: str, rows: list[tuple]) -> Any:
    return columns_table(kind, [list(c) for c in zip(*rows)] if rows else [])
