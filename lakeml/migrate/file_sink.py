"""Writing an MLflow file store (``./mlruns``): the export's folder target, ids kept.

The layout is the one ``file_source`` reads and MLflow's FileStore writes
(see that module): experiments keep their ids (deleted ones under
``.trash/``), runs keep their ids, names, users, statuses, times and
lifecycle, so ``runs:/<id>/...`` URIs and every value read back through
MLflow's client are lakeml's. Each run is written whole, replacing what the
folder held for it (a metric file holds the run's full history), so writing
the same run twice leaves the same files: a re-export is idempotent. Registry
versions keep their numbers, stages, aliases, tags, descriptions and times; a
model a run logged becomes an MLflow 3 logged model pointing at its folder in
the run's artifacts;
a version deleted in lakeml since loses its folder, and so does a model an
export wrote (marked ``.lakeml-export``) that lakeml no longer has. A model
name that is not a plain folder name (``..``, a slash) is refused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeml.errors import AlreadyExists, InvalidArgument
from lakeml.migrate.file_source import local_path

if TYPE_CHECKING:
    from lakeml.migrate.source import (
        ExperimentRecord,
        LoggedModelRecord,
        RegisteredModelRecord,
        RunBatch,
    )

_STATUS = {"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}
_SOURCE_TYPE_LOCAL = 4
_MODEL_READY = 2  # MLflow's LoggedModelStatus.READY
_MARK = ".lakeml-export"  # in a registered model's folder: this export wrote it


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    import yaml

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, default_flow_style=False, sort_keys=True),
                   encoding="utf-8")
    os.replace(tmp, path)


def _write_values(folder: Path, values: dict[str, str]) -> None:
    """One file per key (``/`` in a key is a sub-folder), replacing the folder's files."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in values.items():
        if key.startswith("/") or ".." in key.split("/"):
            raise InvalidArgument(f"key {key!r} cannot be a file name in an MLflow file store")
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("" if value is None else str(value), encoding="utf-8")


def _md5(*parts: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


class FileStoreSink:
    """MLflow file store folder ``uri`` (created if missing), written by the export."""

    keeps_ids = True

    def __init__(self, uri: str) -> None:
        self.root = Path(local_path(uri)).expanduser().resolve()
        self.uri = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise InvalidArgument(f"cannot export to {uri!r}: {self.root} is a file, not a "
                                  "folder")
        self.root.mkdir(parents=True, exist_ok=True)
        self._experiments: dict[str, Path] = {}

    def close(self) -> None:
        pass

    # ---- experiments --------------------------------------------------------------------
    def _existing(self) -> dict[str, tuple[str, Path]]:
        """experiment id -> (name, folder) of what the folder already holds."""
        from lakeml.migrate.file_source import _yaml

        found = {}
        for parent in (self.root, self.root / ".trash"):
            if not parent.is_dir():
                continue
            for folder in parent.iterdir():
                if (folder / "meta.yaml").is_file() and folder.name not in (".trash", "models"):
                    found[folder.name] = (str(_yaml(folder / "meta.yaml").get("name")), folder)
        return found

    def put_experiments(self, records: list[ExperimentRecord]) -> dict[str, str]:
        """Write each experiment (same id); returns lakeml id -> MLflow id (the same)."""
        have = self._existing()
        by_name = {name: exp_id for exp_id, (name, _) in have.items()}
        for rec in records:
            if rec.experiment_id in have and have[rec.experiment_id][0] != rec.name:
                raise AlreadyExists(
                    f"cannot export experiment {rec.name!r} (id {rec.experiment_id}) to "
                    f"{self.uri}: its experiment {rec.experiment_id} is named "
                    f"{have[rec.experiment_id][0]!r}")
            if by_name.get(rec.name, rec.experiment_id) != rec.experiment_id:
                raise AlreadyExists(
                    f"cannot export experiment {rec.name!r} (id {rec.experiment_id}) to "
                    f"{self.uri}: that name is its experiment {by_name[rec.name]}")
        for rec in records:
            deleted = rec.lifecycle_stage == "deleted"
            folder = (self.root / ".trash" if deleted else self.root) / rec.experiment_id
            old = have.get(rec.experiment_id)
            if old is not None and old[1] != folder:  # deleted or restored since
                folder.parent.mkdir(parents=True, exist_ok=True)
                os.replace(old[1], folder)
                _rebase_runs(folder)
            _write_yaml(folder / "meta.yaml", {
                "artifact_location": (self.root / rec.experiment_id).as_uri(),
                "creation_time": rec.creation_time, "experiment_id": rec.experiment_id,
                "last_update_time": rec.last_update_time,
                "lifecycle_stage": rec.lifecycle_stage, "name": rec.name})
            _write_values(folder / "tags", rec.tags)
            self._experiments[rec.experiment_id] = folder
        return {r.experiment_id: r.experiment_id for r in records}

    # ---- runs ---------------------------------------------------------------------------
    def known_runs(self, experiments: dict[str, str]) -> dict[str, tuple[str, str]]:
        """lakeml run id -> (MLflow run id, artifact URI) of the runs the folder holds."""
        from lakeml.migrate.file_source import _yaml

        found = {}
        for folder in self._experiments.values():
            for meta in folder.glob("*/meta.yaml"):
                data = _yaml(meta)
                if data.get("run_id") == meta.parent.name:
                    found[meta.parent.name] = (meta.parent.name, str(data.get("artifact_uri")))
        return found

    def put_runs(self, batch: RunBatch, experiments: dict[str, str]
                 ) -> dict[str, tuple[str, str]]:
        """Write every row of the batch's runs; returns lakeml run id -> (MLflow run id,
        artifact URI)."""
        grouped: dict[str, dict[str, Any]] = {}
        for run in batch.runs.to_pylist():
            grouped[run["run_id"]] = {"run": run, "params": {}, "tags": {}, "metrics": {},
                                      "inputs": []}
        for kind in ("params", "tags"):
            for row in getattr(batch, kind).to_pylist():
                grouped[row["run_id"]][kind][row["key"]] = row["value"]
        for row in batch.metrics.to_pylist():
            grouped[row["run_id"]]["metrics"].setdefault(row["key"], []).append(
                f"{row['timestamp']} {row['value']!r} {row['step']}\n")
        for row in batch.inputs.to_pylist():
            grouped[row["run_id"]]["inputs"].append(row)
        return {run_id: self._put_run(parts, experiments) for run_id, parts in grouped.items()}

    def _put_run(self, parts: dict[str, Any], experiments: dict[str, str]) -> tuple[str, str]:
        run = parts["run"]
        exp_folder = self._experiments[experiments[run["experiment_id"]]]
        folder = exp_folder / run["run_id"]
        artifacts = (folder / "artifacts").as_uri()
        _write_yaml(folder / "meta.yaml", {
            "artifact_uri": artifacts, "end_time": run["end_time"], "entry_point_name": "",
            "experiment_id": run["experiment_id"], "lifecycle_stage": run["lifecycle_stage"],
            "run_id": run["run_id"], "run_name": run["run_name"] or "", "source_name": "",
            "source_type": _SOURCE_TYPE_LOCAL, "source_version": "",
            "start_time": run["start_time"], "status": _STATUS.get(run["status"], 1),
            "tags": [], "user_id": run["user_id"] or ""})
        _write_values(folder / "params", parts["params"])
        tags = dict(parts["tags"])
        if run["parent_run_id"]:  # MLflow finds a run's parent by this tag only
            tags.setdefault("mlflow.parentRunId", run["parent_run_id"])
        _write_values(folder / "tags", tags)
        _write_values(folder / "metrics", {k: "".join(v) for k, v in parts["metrics"].items()})
        (folder / "artifacts").mkdir(exist_ok=True)
        self._put_inputs(exp_folder, folder, run["run_id"], parts["inputs"])
        return run["run_id"], artifacts

    @staticmethod
    def _put_inputs(exp_folder: Path, folder: Path, run_id: str, inputs: list[dict]) -> None:
        if (folder / "inputs").exists():
            shutil.rmtree(folder / "inputs")
        for row in inputs:
            dataset_id = _md5(row["name"] or "", row["digest"] or "")
            _write_yaml(exp_folder / "datasets" / dataset_id / "meta.yaml", {
                key: row[key] for key in ("name", "digest", "source_type", "source",
                                          "schema", "profile")})
            tags = {"mlflow.data.context": row["context"]} if row["context"] else {}
            _write_yaml(folder / "inputs" / _md5(dataset_id, run_id) / "meta.yaml", {
                "destination_id": run_id, "destination_type": "RUN", "source_id": dataset_id,
                "source_type": "DATASET", "tags": tags})

    def put_artifacts(self, src: str, artifact_uri: str) -> int:
        """Copy a run's artifact folder ``src`` into its folder here; returns files copied."""
        from lakeml.migrate.artifacts import copy_tree

        return copy_tree(src, local_path(artifact_uri))

    def put_logged_models(self, models: list[LoggedModelRecord], experiments: dict[str, str],
                          runs: dict[str, tuple[str, str]]) -> int:
        """Write each model as MLflow's FileStore does (``<experiment>/models/<id>/``, READY,
        and the run's ``outputs/<id>``), its location the model's folder among the run's
        artifacts (copied with them: no second copy); returns how many are new."""
        made = 0
        for model in models:
            run = runs.get(model.source_run_id or "")
            folder = self._experiments.get(experiments.get(model.experiment_id, ""))
            if run is None or folder is None:
                continue
            home = folder / "models" / model.model_id
            made += not (home / "meta.yaml").is_file()
            created = model.creation_time or 0
            _write_yaml(home / "meta.yaml", {
                "artifact_location": f"{run[1].rstrip('/')}/{model.name}",
                "creation_timestamp": created, "experiment_id": experiments[model.experiment_id],
                "last_updated_timestamp": created, "model_id": model.model_id,
                "model_type": None, "name": model.name, "source_run_id": run[0],
                "status": _MODEL_READY, "status_message": None})
            for sub in ("metrics", "params", "tags"):
                (home / sub).mkdir(exist_ok=True)
            _write_yaml(folder / run[0] / "outputs" / model.model_id / "meta.yaml", {
                "destination_id": model.model_id, "destination_type": "MODEL_OUTPUT",
                "source_id": model.model_id, "source_type": "RUN_OUTPUT", "step": 0,
                "tags": {}})
        return made

    def finish(self) -> None:
        pass

    def _drop_models_gone(self, names: set[str]) -> None:
        """Remove the folders of models an earlier export wrote (they hold the mark) that
        lakeml no longer has; a model the folder held before, lakeml never touches."""
        models = self.root / "models"
        if not models.is_dir():
            return
        for folder in models.iterdir():
            if folder.name not in names and (folder / _MARK).is_file():
                shutil.rmtree(folder)

    # ---- registry -----------------------------------------------------------------------
    def put_registry(self, models: list[RegisteredModelRecord],
                     runs: dict[str, tuple[str, str]]) -> dict[str, int]:
        """Write each registered model with every version; returns counts written."""
        counts = {"registered_models": 0, "model_versions": 0}
        for model in models:
            _check_model_name(model.name)
        self._drop_models_gone({m.name for m in models})
        for model in models:
            folder = self.root / "models" / model.name
            folder.mkdir(parents=True, exist_ok=True)
            (folder / _MARK).write_text("written by lakeml export\n", encoding="utf-8")
            wanted = {f"version-{v.version}" for v in model.versions}
            for old in folder.glob("version-*"):  # versions deleted in lakeml since
                if old.is_dir() and old.name not in wanted:
                    shutil.rmtree(old)
            _write_yaml(folder / "meta.yaml", {
                "aliases": {a: str(v) for a, v in model.aliases.items()},
                "creation_timestamp": model.creation_time, "description": model.description,
                "last_updated_timestamp": model.last_updated_time, "name": model.name})
            _write_values(folder / "tags", model.tags)
            _write_values(folder / "aliases", {a: str(v) for a, v in model.aliases.items()})
            for version in model.versions:
                source, location = version_source(version.source, version.storage_location,
                                                  runs)
                run_id = runs.get(version.run_id or "", (version.run_id, ""))[0]
                _write_yaml(folder / f"version-{version.version}" / "meta.yaml", {
                    "creation_timestamp": version.creation_time,
                    "current_stage": version.stage, "description": version.description,
                    "last_updated_timestamp": version.last_updated_time, "name": model.name,
                    "run_id": run_id, "run_link": None, "source": source, "status": "READY",
                    "status_message": None, "storage_location": location,
                    "user_id": version.user_id, "version": version.version})
                _write_values(folder / f"version-{version.version}" / "tags", version.tags)
                counts["model_versions"] += 1
            counts["registered_models"] += 1
        return counts


def _check_model_name(name: str) -> None:
    """A registered model's name is a folder name here: refuse one that is not plain."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise InvalidArgument(f"registered model {name!r} cannot be a folder name in an MLflow "
                              "file store (empty, '.', '..', or holding a slash): rename it "
                              "or export to a server")


def _rebase_runs(folder: Path) -> None:
    """Point the artifact URI of every run under experiment ``folder`` (just moved into
    or out of ``.trash``) at the run's folder where it now is."""
    from lakeml.migrate.file_source import _yaml

    for meta in folder.glob("*/meta.yaml"):
        data = _yaml(meta)
        if data.get("run_id") == meta.parent.name:
            data["artifact_uri"] = (meta.parent / "artifacts").as_uri()
            _write_yaml(meta, data)


def version_source(source: str | None, location: str | None,
                   runs: dict[str, tuple[str, str]]) -> tuple[str | None, str | None]:
    """(source, storage location) of a model version in the target: a ``runs:/`` source
    names the run's id there (``runs``: lakeml run id -> (target id, artifact URI)), and
    its location is under that run's exported artifacts."""
    if source and source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/"):].strip("/").partition("/")
        target_run, root = runs.get(run_id, (run_id, ""))
        where = (f"{root}/{path}" if path else root) if root else location
        return f"runs:/{target_run}/{path}" if path else f"runs:/{target_run}", where
    return source, location
