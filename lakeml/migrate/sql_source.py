"""Reading an MLflow tracking database straight from its tables, whatever the database.

No MLflow needed: the schema MLflow 2.x/3.x creates (experiments, runs, params,
metrics, latest_metrics, tags, experiment_tags, datasets, inputs, input_tags,
registered_models, model_versions, registered_model_tags, model_version_tags,
registered_model_aliases, logged_models) is the same on sqlite, PostgreSQL and
MySQL, so one reader (:class:`SqlSource`) holds every query, in SQL the three
accept (``"key"`` is quoted: a reserved word of MySQL, read with ANSI quotes).
A subclass says how to connect and how to fetch a result as Arrow (the fast
part: ``sqlite_source`` through ADBC, ``server_db_source`` through COPY or
the driver's cursor). Going through MLflow's client would cost a REST-shaped
object per metric point; this path reads 10 M points in seconds. Tables a
store lacks (an older MLflow) read as empty.

MLflow keeps a NaN metric as value 0 with ``is_nan`` set: it comes back as NaN.
Infinities MLflow stores as the largest finite doubles, and its own client
returns those; so does lakeml after the import.
"""

from __future__ import annotations

from typing import Any

from lakeml.migrate.source import (
    ExperimentRecord,
    LoggedModelRecord,
    RegisteredModelRecord,
    RunBatch,
    VersionRecord,
    columns_table,
)


class SqlSource:
    """An MLflow tracking database, read-only. Subclasses set ``uri``, ``_tables`` (the
    names of its tables) and implement ``_rows``, ``_arrow`` and ``_select_runs``."""

    uri: str
    _tables: set[str]
    # the SQL of a sum that is 0 over no rows (sqlite's total() is also a float, always)
    _total = "coalesce(sum({}), 0)"

    def close(self) -> None:
        raise NotImplementedError

    def _rows(self, sql: str, params: Any = (), *, table: str | None = None) -> list[tuple]:
        """The rows of ``sql`` (``?`` marks a parameter); none if ``table`` is missing."""
        raise NotImplementedError

    def _arrow(self, sql: str, params: list[Any]) -> Any:
        """The result of ``sql`` as an Arrow table."""
        raise NotImplementedError

    def _select_runs(self, column: str, wanted: list[str]) -> tuple[str, list[Any], bool]:
        """A WHERE condition on ``column`` that holds for the runs ``wanted`` (sorted),
        its parameters, and whether it may hold for other runs too (then filtered out)."""
        raise NotImplementedError

    # ---- experiments --------------------------------------------------------------------
    def experiments(self) -> list[ExperimentRecord]:
        tags: dict[str, dict[str, str]] = {}
        for key, value, exp_id in self._rows('SELECT "key", value, experiment_id FROM '
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
        total = self._total.format
        extra: dict[str, list[Any]] = {}
        queries = [
            ("tags", f"SELECT run_uuid, count(*), {total('length(value)')} FROM tags "
                     "GROUP BY run_uuid"),
            ("params", f"SELECT run_uuid, count(*), {total('length(value)')} FROM params "
                       "GROUP BY run_uuid"),
            ("latest_metrics", f"SELECT run_uuid, count(*), {total('step')}, "
                               f"max(timestamp), {total('value')} FROM latest_metrics "
                               "GROUP BY run_uuid"),
        ]
        for table, sql in queries:
            for run_id, *values in self._rows(sql, table=table):
                extra.setdefault(run_id, []).extend([table, *values])
        return {r[0]: "|".join(map(str, [*r[1:], *extra.get(r[0], [])]))
                for r in self._rows("SELECT run_uuid, status, end_time, lifecycle_stage, "
                                    "deleted_time, name, experiment_id FROM runs")}

    def read_runs(self, run_ids: list[str]) -> RunBatch:
        """Every row of ``run_ids`` (a condition of ``_select_runs``, then the rows of other
        runs it let through filtered out)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not run_ids:
            return RunBatch(*(columns_table(k, []) for k in
                              ("runs", "params", "tags", "metrics", "inputs")))
        wanted = sorted(set(run_ids))
        where, params, loose = self._select_runs("run_uuid", wanted)
        wanted_arrow = pa.array(wanted, pa.string())

        def read(sql: str) -> Any:
            table = self._arrow(f"{sql} WHERE {where}", params)
            if not loose or table.num_rows == 0:
                return table
            return table.filter(pc.is_in(table.column(0), value_set=wanted_arrow))

        runs = read("SELECT run_uuid, experiment_id, name, user_id, status, start_time, "
                    "end_time, lifecycle_stage, artifact_uri FROM runs")
        params_t = read('SELECT run_uuid, "key", value FROM params')
        tags = read('SELECT run_uuid, "key", value FROM tags')
        metrics = read('SELECT run_uuid, "key", value, step, timestamp, is_nan FROM metrics')
        inputs = self._inputs(wanted)
        return RunBatch(self._runs_table(runs.to_pylist(), tags),
                        _renamed("params", params_t), _renamed("tags", tags),
                        _metrics_table(metrics), _table("inputs", inputs))

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

    def _inputs(self, wanted: list[str]) -> list[tuple]:
        if not {"inputs", "datasets"} <= self._tables:
            return []
        keep = set(wanted)
        where, params, _ = self._select_runs("i.destination_id", wanted)
        rows = [r for r in self._rows(
            "SELECT i.destination_id, d.name, d.digest, d.dataset_source_type, "
            "d.dataset_source, d.dataset_schema, d.dataset_profile, i.input_uuid "
            "FROM inputs AS i JOIN datasets AS d ON d.dataset_uuid = i.source_id "
            "WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' "
            f"AND {where}", params) if r[0] in keep]
        contexts: dict[str, str] = {}
        if rows and "input_tags" in self._tables:
            # the inputs' own rows, joined in the database through input_tags' input_uuid
            contexts = dict(self._rows(
                "SELECT t.input_uuid, t.value FROM input_tags AS t JOIN inputs AS i "
                "ON i.input_uuid = t.input_uuid WHERE t.name = 'mlflow.data.context' "
                f"AND i.destination_type = 'RUN' AND {where}", params))
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
        for key, value, name in self._rows('SELECT "key", value, name FROM '
                                           "registered_model_tags",
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
                'SELECT "key", value, name, version FROM model_version_tags',
                table="model_version_tags"):
            found = versions.get((name, int(version)))
            if found is not None:
                found.tags[key] = value
        return list(models.values())


def rows_to_arrow(names: list[str], rows: list[tuple]) -> Any:
    """DB-API rows as an Arrow table of columns ``names`` (types inferred; strings when
    there are no rows, the RunBatch casts them)."""
    import pyarrow as pa

    return pa.table({n: list(c) for n, c in zip(names, zip(*rows))} if rows
                    else {n: pa.array([], pa.string()) for n in names})


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
