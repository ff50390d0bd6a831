"""Reading an MLflow sqlite database (``sqlite:///mlflow.db``) straight from its tables.

No MLflow needed: the schema MLflow 2.x/3.x creates (experiments, runs, params,
metrics, latest_metrics, tags, experiment_tags, datasets, inputs, input_tags,
registered_models, model_versions, registered_model_tags, model_version_tags,
registered_model_aliases, logged_models) is read with sqlite3, read-only. Going
through MLflow's client would cost a REST-shaped object per metric point; this
path reads 10 M points in seconds. Tables a store lacks (an older MLflow) read
as empty.

MLflow keeps a NaN metric as value 0 with ``is_nan`` set: it comes back as NaN.
Infinities MLflow stores as the largest finite doubles, and its own client
returns those; so does lakeml after the import.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from lakeml.errors import InvalidArgument, NotFound
from lakeml.migrate.source import (
    ExperimentRecord,
    LoggedModelRecord,
    RegisteredModelRecord,
    RunBatch,
    VersionRecord,
    columns_table,
)


def sqlite_path(uri: str) -> str:
    """The file of ``sqlite:///relative`` or ``sqlite:////absolute``."""
    rest = uri.split("://", 1)[1]
    if not rest.startswith("/"):
        raise InvalidArgument(f"{uri!r} is not a sqlite URI: write sqlite:///path/mlflow.db")
    path = rest[1:] or rest
    return path.split("?", 1)[0]


class SqliteSource:
    """An MLflow sqlite database, read-only."""

    def __init__(self, uri: str) -> None:
        path = os.path.abspath(sqlite_path(uri))
        self.uri = f"sqlite:///{path}"  # one name per database, wherever it is given from
        if not os.path.isfile(path):
            raise NotFound(f"no MLflow database at {path!r} (from {uri!r})")
        self._con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        tables = {r[0] for r in self._con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"experiments", "runs"} <= tables:
            raise InvalidArgument(f"{path!r} is not an MLflow database: it has no experiments "
                                  "and runs tables")
        self._tables = tables
        self._path = path
        self._adbc: Any = None  # an ADBC connection once used; False: the driver is missing

    def close(self) -> None:
        self._con.close()
        if self._adbc:
            self._adbc.close()

    def _rows(self, sql: str, params: Any = (), *, table: str | None = None) -> list[tuple]:
        if table is not None and table not in self._tables:
            return []
        return self._con.execute(sql, params).fetchall()

    # ---- experiments --------------------------------------------------------------------
    def experiments(self) -> list[ExperimentRecord]:
        tags: dict[str, dict[str, str]] = {}
        for key, value, exp_id in self._rows("SELECT key, value, experiment_id FROM "
                                             "experiment_tags", table="experiment_tags"):
            tags.setdefault(str(exp_id), {})[key] = value
        return [ExperimentRecord(str(r[0]), r[1], r[2], r[3] or "active", r[4], r[5],
                                 tags.get(str(r[0]), {}))
                for r in self._rows("SELECT experiment_id, name, artifact_location, "
                                    "lifecycle_stage, creation_time, last_update_time "
                                    "FROM experiments ORDER BY experiment_id")]

    # ---- runs ---------------------------------------------------------------------------
    def run_index(self) -> dict[str, str]:
        """run id -> its attributes and the count, size and latest time of its rows: any
        MLflow write to a run changes one of them."""
        extra: dict[str, list[Any]] = {}
        queries = [
            ("tags", "SELECT run_uuid, count(*), total(length(value)) FROM tags "
                     "GROUP BY run_uuid"),
            ("params", "SELECT run_uuid, count(*), total(length(value)) FROM params "
                       "GROUP BY run_uuid"),
            ("latest_metrics", "SELECT run_uuid, count(*), total(step), max(timestamp), "
                               "total(value) FROM latest_metrics GROUP BY run_uuid"),
        ]
        for table, sql in queries:
            for run_id, *values in self._rows(sql, table=table):
                extra.setdefault(run_id, []).extend([table, *values])
        return {r[0]: "|".join(map(str, [*r[1:], *extra.get(r[0], [])]))
                for r in self._rows("SELECT run_uuid, status, end_time, lifecycle_stage, "
                                    "deleted_time, name, experiment_id FROM runs")}

    def read_runs(self, run_ids: list[str]) -> RunBatch:
        """Every row of ``run_ids``: the rows of the id range they span (an index range
        scan, two bound parameters however many runs), less those of other runs."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not run_ids:
            return RunBatch(*(columns_table(k, []) for k in
                              ("runs", "params", "tags", "metrics", "inputs")))
        wanted = pa.array(sorted(set(run_ids)), pa.string())
        span = [wanted[0].as_py(), wanted[-1].as_py()]
        # a first import asks for runs that are next to each other: nothing to filter out
        (in_span,), = self._rows("SELECT count(*) FROM runs WHERE run_uuid BETWEEN ? AND ?",
                                 span)
        whole = in_span == len(wanted)

        def read(kind: str, sql: str) -> Any:
            table = self._arrow(sql + " WHERE run_uuid BETWEEN ? AND ?", span)
            if whole or table.num_rows == 0:
                return table
            return table.filter(pc.is_in(table.column(0), value_set=wanted))

        runs = read("runs", "SELECT run_uuid, experiment_id, name, user_id, status, start_time, "
                            "end_time, lifecycle_stage, artifact_uri FROM runs")
        params = read("params", "SELECT run_uuid, key, value FROM params")
        tags = read("tags", "SELECT run_uuid, key, value FROM tags")
        metrics = read("metrics", "SELECT run_uuid, key, value, step, timestamp, is_nan "
                                  "FROM metrics")
        inputs = self._inputs(wanted)
        return RunBatch(self._runs_table(runs.to_pylist(), tags),
                        _renamed("params", params), _renamed("tags", tags),
                        _metrics_table(metrics), _table("inputs", inputs))

    def _arrow(self, sql: str, params: list[Any]) -> Any:
        """The result of ``sql`` as an Arrow table: through ADBC's sqlite driver when it is
        installed (Arrow straight from sqlite's C API, ~10x faster), else sqlite3."""
        import pyarrow as pa

        if self._adbc is None:
            try:
                import adbc_driver_sqlite.dbapi as adbc

                self._adbc = adbc.connect(f"file:{self._path}?mode=ro")
            except ImportError:
                self._adbc = False
        if self._adbc:
            cur = self._adbc.cursor()
            try:
                cur.execute(sql, params)
                return cur.fetch_arrow_table()
            finally:
                cur.close()
        cur = self._con.execute(sql, params)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        return pa.table({n: list(c) for n, c in zip(names, zip(*rows))} if rows
                        else {n: pa.array([], pa.string()) for n in names})

    def _runs_table(self, rows: list[dict], tags: Any) -> Any:
        import pyarrow.compute as pc

        special = tags.filter(pc.is_in(tags.column(1), value_set=pa_strings(
            ["mlflow.parentRunId", "mlflow.runName"]))).to_pylist() if tags.num_rows else []
        parents = {r["run_uuid"]: r["value"] for r in special
                   if r["key"] == "mlflow.parentRunId"}
        names = {r["run_uuid"]: r["value"] for r in special if r["key"] == "mlflow.runName"}
        out = [(r["run_uuid"], str(r["experiment_id"]), r["name"] or names.get(r["run_uuid"]),
                r["user_id"], r["status"], r["start_time"], r["end_time"],
                r["lifecycle_stage"] or "active", parents.get(r["run_uuid"]),
                r["artifact_uri"]) for r in rows]
        return _table("runs", out)

    def _inputs(self, wanted: Any) -> list[tuple]:
        if not {"inputs", "datasets"} <= self._tables:
            return []
        keep = set(wanted.to_pylist())
        rows = [r for r in self._rows(
            "SELECT i.destination_id, d.name, d.digest, d.dataset_source_type, "
            "d.dataset_source, d.dataset_schema, d.dataset_profile, i.input_uuid "
            "FROM inputs AS i JOIN datasets AS d ON d.dataset_uuid = i.source_id "
            "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' "
            "AND i.destination_id BETWEEN ? AND ?", [wanted[0].as_py(), wanted[-1].as_py()])
            if r[0] in keep]
        contexts: dict[str, str] = {}
        if rows and "input_tags" in self._tables:
            # the inputs' own rows, joined in sqlite through input_tags' input_uuid
            contexts = dict(self._rows(
                "SELECT t.input_uuid, t.value FROM input_tags AS t JOIN inputs AS i "
                "ON i.input_uuid = t.input_uuid WHERE t.name = 'mlflow.data.context' "
                "AND i.destination_type = 'RUN' AND i.destination_id BETWEEN ? AND ?",
                [wanted[0].as_py(), wanted[-1].as_py()]))
        return [(*r[:7], contexts.get(r[7])) for r in rows]

    # ---- models -------------------------------------------------------------------------
    def logged_models(self) -> list[LoggedModelRecord]:
        return [LoggedModelRecord(r[0], str(r[1]), r[2], r[3], r[4], r[5])
                for r in self._rows("SELECT model_id, experiment_id, name, artifact_location, "
                                    "creation_timestamp_ms, source_run_id FROM logged_models "
                                    "ORDER BY creation_timestamp_ms", table="logged_models")]

    def registered_models(self) -> list[RegisteredModelRecord]:
        models = {r[0]: RegisteredModelRecord(r[0], r[1], r[2], r[3]) for r in self._rows(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models "
            "ORDER BY creation_time, name", table="registered_models")}
        for key, value, name in self._rows("SELECT key, value, name FROM registered_model_tags",
                                           table="registered_model_tags"):
            if name in models:
                models[name].tags[key] = value
        for alias, version, name in self._rows(
                "SELECT alias, version, name FROM registered_model_aliases",
                table="registered_model_aliases"):
            if name in models:
                models[name].aliases[alias] = int(version)
        versions: dict[tuple[str, int], VersionRecord] = {}
        for r in self._rows(
                "SELECT name, version, creation_time, last_updated_time, description, user_id, "
                "current_stage, source, run_id, storage_location FROM model_versions "
                "WHERE current_stage IS NULL OR current_stage <> 'Deleted_Internal' "
                "ORDER BY name, version", table="model_versions"):
            if r[0] in models:
                record = VersionRecord(int(r[1]), r[2], r[3], r[4], r[5], r[6] or "None",
                                       r[7], r[8], r[9])
                versions[(r[0], int(r[1]))] = record
                models[r[0]].versions.append(record)
        for key, value, name, version in self._rows(
                "SELECT key, value, name, version FROM model_version_tags",
                table="model_version_tags"):
            found = versions.get((name, int(version)))
            if found is not None:
                found.tags[key] = value
        return list(models.values())


def _table(kind: str, rows: list[tuple]) -> Any:
    return columns_table(kind, [list(c) for c in zip(*rows)] if rows else [])


def pa_strings(values: list[str]) -> Any:
    import pyarrow as pa

    return pa.array(values, pa.string())


def _renamed(kind: str, table: Any) -> Any:
    """A query's Arrow result as the RunBatch table of ``kind`` (same columns in order)."""
    return columns_table(kind, [table.column(i) for i in range(table.num_columns)])


def _metrics_table(table: Any) -> Any:
    """Metric rows (run, key, value, step, timestamp, is_nan), NaN back from its stand-in."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return columns_table("metrics", [])
    value = table.column(2).cast(pa.float64())
    is_nan = pc.not_equal(table.column(5).cast(pa.int64()), 0)
    value = pc.if_else(is_nan, pa.scalar(float("nan")), value)
    return columns_table("metrics", [table.column(0), table.column(1), value,
                                     table.column(3), table.column(4)])
