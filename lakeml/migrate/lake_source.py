"""A lakeml store read as an MLflow source would be: what ``lakeml export mlflow`` sends.

The export reads lakeml through the same records and Arrow batches the
import reads MLflow through (``source``), so both directions share one shape
of data. Everything comes from the store's views (``experiments``, ``runs``,
``params``, ``tags``, ``lake_metrics``, ``lake_inputs`` and the registry's),
with times turned back into MLflow's integer milliseconds. A run's
fingerprint digests its fields and every row of it (``run_index``), so an
export can tell a run that changed in any way since it was last sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakeml.migrate.source import (
    ExperimentRecord,
    LoggedModelRecord,
    RegisteredModelRecord,
    RunBatch,
    VersionRecord,
    columns_table,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.client import Client

_IN_RUNS = "run_id IN (SELECT unnest(?::VARCHAR[]))"
# what a run's fingerprint covers: (alias, table, the columns hashed per row)
_DIGESTED = (
    ("p", "params", "key, value"),
    ("t", "tags", "key, value"),
    ("m", "lake_metrics", "key, value, step, epoch_ms(timestamp)"),
    ("i", "lake_inputs", "name, digest, source_type, source, schema, profile, context"),
)


def mlflow_model_id(model_uuid: str) -> str:
    """A lakeml model's id as an MLflow 3 logged model id (``m-`` and 32 hex digits): kept
    if it is one (a model logged through the MLflow API or imported), ``m-<uuid>`` for
    lakeml's uuid4 hex, else ``m-`` and a digest of it. The same id every export."""
    import hashlib
    import re

    if re.fullmatch(r"m-[0-9a-f]{32}", model_uuid):
        return model_uuid
    if re.fullmatch(r"[0-9a-f]{32}", model_uuid):
        return f"m-{model_uuid}"
    return "m-" + hashlib.md5(model_uuid.encode(), usedforsecurity=False).hexdigest()


def _ms(column: str) -> str:
    return f"epoch_ms({column})::BIGINT"


class LakeSource:
    """lakeml store ``store_uri``, read-only, in the import's record shapes."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._engine = client.tracking.engine
        self.uri = client.store_uri

    def close(self) -> None:
        pass

    def _rows(self, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._engine.rows(query, params)

    def _arrow(self, query: str, params: list[Any] | None = None) -> pa.Table:
        return self._engine.arrow(query, params)

    def experiments(self) -> list[ExperimentRecord]:
        tags: dict[str, dict[str, str]] = {}
        for exp_id, key, value in self._rows("SELECT experiment_id, key, value "
                                             "FROM experiment_tags"):
            tags.setdefault(exp_id, {})[key] = value
        rows = self._rows(f"SELECT experiment_id, name, artifact_location, lifecycle_stage, "
                          f"{_ms('creation_time')}, {_ms('last_update_time')} FROM experiments")
        out = [ExperimentRecord(e, n, loc, stage, ct, ut, tags.get(e, {}))
               for e, n, loc, stage, ct, ut in rows]
        return sorted(out, key=lambda e: (len(e.experiment_id), e.experiment_id))

    def run_index(self) -> dict[str, str]:
        """run id -> a digest of everything the export sends of it: its own fields (name,
        user, status, lifecycle, times, parent, artifact location) and, per kind of row
        (params, tags, metric points, dataset inputs), their count and the sum of a hash
        of each whole row; a sum does not depend on the order, and unlike an xor a row
        written twice does not cancel out. Artifacts are in ``artifact_index``."""
        parts = []
        for name, table, columns in _DIGESTED:
            parts.append(f"LEFT JOIN (SELECT run_id, count(*) n, sum(hash({columns})) h "
                         f"FROM {table} GROUP BY 1) {name} USING (run_id)")
        fields = ", ".join(f"coalesce({n}.n, 0), coalesce({n}.h, 0)" for n, _, _ in _DIGESTED)
        rows = self._rows(
            "SELECT r.run_id, md5(concat_ws(chr(31), hash(r.run_name, r.user_id, r.status, "
            f"r.lifecycle_stage, {_ms('r.start_time')}, {_ms('r.end_time')}, "
            f"r.parent_run_id, r.artifact_uri), {fields})) FROM runs r " + " ".join(parts))
        return dict(rows)

    def artifact_index(self) -> dict[str, str]:
        """run id -> a digest of the files in its artifact folder (see ``tree_digest``):
        a walk of every run's folder, so an export notices files logged since."""
        from lakeml.migrate.artifacts import tree_digest

        options = self._client.store.artifact_storage_options
        return {run_id: tree_digest(uri, options) for run_id, uri in self._rows(
            "SELECT run_id, artifact_uri FROM runs")}

    def parents(self) -> dict[str, str]:
        """run id -> its parent run's id, for runs that have one."""
        return dict(self._rows("SELECT run_id, parent_run_id FROM runs "
                               "WHERE parent_run_id IS NOT NULL"))

    def read_runs(self, run_ids: list[str]) -> RunBatch:
        ids = [list(run_ids)]
        runs = self._arrow(
            f"SELECT run_id, experiment_id, run_name, user_id, status, {_ms('start_time')}, "
            f"{_ms('end_time')}, lifecycle_stage, parent_run_id, artifact_uri FROM runs "
            f"WHERE {_IN_RUNS} ORDER BY run_id", ids)
        params = self._arrow(f"SELECT run_id, key, value FROM params WHERE {_IN_RUNS}", ids)
        tags = self._arrow(f"SELECT run_id, key, value FROM tags WHERE {_IN_RUNS}", ids)
        metrics = self._arrow(f"SELECT run_id, key, value, step, {_ms('timestamp')} FROM "
                              f"lake_metrics WHERE {_IN_RUNS} ORDER BY run_id, key, "
                              "timestamp, step", ids)
        inputs = self._arrow(f"SELECT run_id, name, digest, source_type, source, schema, "
                             f"profile, context FROM lake_inputs WHERE {_IN_RUNS}", ids)
        return RunBatch(*(columns_table(kind, table.columns) for kind, table in (
            ("runs", runs), ("params", params), ("tags", tags), ("metrics", metrics),
            ("inputs", inputs))))

    def logged_models(self) -> list[LoggedModelRecord]:
        """The models lakeml logged in runs (its ``logged_models`` lineage), one per model
        id, as MLflow 3 logged models: id in MLflow's form (``mlflow_model_id``), named by
        its path in the run, ``artifact_location`` its folder in lakeml."""
        out: dict[str, LoggedModelRecord] = {}
        for uuid, exp_id, path, folder, created, run_id in self._rows(
                f"SELECT l.model_uuid, r.experiment_id, l.artifact_path, l.artifact_uri, "
                f"{_ms('l.created_time')}, l.run_id FROM logged_models l JOIN runs r "
                "USING (run_id) ORDER BY l.created_time, l.model_uuid"):
            model_id = mlflow_model_id(uuid)
            if model_id not in out and path:
                out[model_id] = LoggedModelRecord(model_id, exp_id, path, folder, created,
                                                  run_id)
        return list(out.values())

    def registered_models(self) -> list[RegisteredModelRecord]:
        models: dict[str, RegisteredModelRecord] = {}
        for name, desc, ct, ut in self._rows(
                f"SELECT name, description, {_ms('creation_timestamp')}, "
                f"{_ms('last_updated_timestamp')} FROM registered_models ORDER BY 3, 1"):
            models[name] = RegisteredModelRecord(name, ct, ut, desc)
        for name, key, value in self._rows("SELECT name, key, value FROM "
                                           "registered_model_tags"):
            if name in models:
                models[name].tags[key] = value
        for name, alias, version in self._rows("SELECT name, alias, version FROM "
                                               "model_aliases"):
            if name in models:
                models[name].aliases[alias] = int(version)
        version_tags: dict[tuple[str, int], dict[str, str]] = {}
        for name, version, key, value in self._rows(
                "SELECT name, version, key, value FROM model_version_tags"):
            version_tags.setdefault((name, int(version)), {})[key] = value
        for row in self._rows(
                f"SELECT name, version, {_ms('creation_timestamp')}, "
                f"{_ms('last_updated_timestamp')}, description, user_id, current_stage, "
                "source, run_id, storage_location FROM model_versions ORDER BY name, version"):
            name, version = row[0], int(row[1])
            if name in models:
                models[name].versions.append(VersionRecord(
                    version, row[2], row[3], row[4], row[5], row[6] or "None", row[7], row[8],
                    row[9], version_tags.get((name, version), {})))
        return list(models.values())
