"""Bulk registration: many versions of many models in one guarded commit.

One model per device means registering hundreds of thousands of versions at
a time; one call per version would pay one Delta commit each. This path takes
a table of (name, source[, run_id, description, stage, alias]) rows, numbers
the versions of each model after its current last one, creates the models it
has not seen, and commits everything as one append under the registry guard,
so it is as race-free as ``register_model``. Sources are recorded as given
(``runs:/…`` resolved through the runs table in one join); unlike
``register_model`` it does not open each model folder to check it.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from lakeml.entities.model_version import NONE, STAGES, canonical_stage
from lakeml.errors import CommitConflict, InvalidArgument
from lakeml.registry.base import GUARD, TABLE, Event, RegistryBase
from lakeml.times import now_us

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

_COLUMNS = ("name", "source", "run_id", "description", "stage", "alias")


def _as_arrow(versions: Any) -> pa.Table:
    import pyarrow as pa

    if isinstance(versions, pa.Table):
        table = versions
    elif isinstance(versions, list):  # every key of every row, not just the first row's
        keys = dict.fromkeys(k for row in versions for k in row)
        table = pa.table({k: pa.array([row.get(k) for row in versions]) for k in keys})
    elif hasattr(versions, "to_arrow"):  # polars
        table = versions.to_arrow()
    else:  # pandas
        table = pa.Table.from_pandas(versions, preserve_index=False)
    unknown = set(table.column_names) - set(_COLUMNS)
    missing = {"name", "source"} - set(table.column_names)
    if unknown or missing:
        raise InvalidArgument(f"bulk registration takes columns {', '.join(_COLUMNS)} (name and "
                              f"source required); missing {sorted(missing)}, unknown "
                              f"{sorted(unknown)}")
    columns = {c: (table[c].cast(pa.string()) if c in table.column_names
                   else pa.nulls(len(table), pa.string())) for c in _COLUMNS}
    return pa.table(columns)


def _refuse(row: int, problem: str, values: dict[str, Any]) -> InvalidArgument:
    shown = ", ".join(f"{k} {v!r}" for k, v in values.items())
    return InvalidArgument(f"bulk registration row {row} has {problem}: {shown}; nothing was "
                           "registered")


def _check_values(data: pa.Table) -> None:
    """Names and aliases by the same rules as the one-at-a-time calls, distinct values once."""
    from lakeml.registry.base import check_alias, check_model_name

    for column, check, problem in (("name", check_model_name, "an invalid registered model "
                                    "name (empty, over 256 characters, '/', '@', ':', control "
                                    "characters or outer spaces)"),
                                   ("alias", check_alias, "an invalid or reserved alias")):
        bad = set()
        for value in data[column].unique().to_pylist():
            if value is None and column == "alias":
                continue
            try:
                check(value)
            except InvalidArgument:
                bad.add(value)
        if bad:
            row = next(i for i, v in enumerate(data[column].to_pylist()) if v in bad)
            raise _refuse(row, problem, {column: data[column][row].as_py()})


def _check(cur: duckdb.DuckDBPyConnection) -> None:
    """Name the first bad row of ``bulk_in``, if any."""
    checks = [
        ("source IS NULL OR trim(source) = ''", [], "no source"),
        ("storage_location IS NULL", [], "a runs:/ source whose run is unknown or that lacks "
         "a path (runs:/<run_id>/<path>)"),
        ("stage IS NOT NULL AND lower(stage) NOT IN (SELECT unnest(?::VARCHAR[]))",
         [[s.lower() for s in STAGES] + ["development", "dev"]],
         "a stage that is not None (Development), Staging, Production or Archived"),
    ]
    for where, params, problem in checks:
        rows = cur.execute(f"SELECT row_no, name, source, stage FROM bulk_in WHERE {where} "
                           "ORDER BY row_no LIMIT 1", params).fetchall()
        if rows:
            row = rows[0]
            raise _refuse(row[0], problem, {"name": row[1], "source": row[2], "stage": row[3]})


class BulkCalls(RegistryBase):
    """Bulk registration: a part of the lake registry service."""

    def register_model_versions(self, versions: Any) -> int:
        """Register many versions in one commit; returns how many.

        ``versions`` is a pandas/polars DataFrame, Arrow table or list of dicts
        with columns ``name`` and ``source`` and optionally ``run_id``,
        ``description``, ``stage`` (moves the new version there) and ``alias``
        (points the alias at it). Rows of one model get consecutive numbers in
        row order after the model's last version; unknown models are created.

        Example:
            >>> client.register_model_versions(pd.DataFrame({              # doctest: +SKIP
            ...     "name": [f"device-{i}" for i in range(100_000)],
            ...     "source": uris, "alias": "champion"}))
            100000
        """
        import pyarrow as pa

        from lakeml import ids
        from lakeml.store import schemas

        self._refuse_past()
        if len(versions) == 0:
            return 0
        data = _as_arrow(versions).append_column(
            "row_no", pa.array(range(len(versions)), pa.int64()))
        _check_values(data)
        store = self._store
        resolved = self._resolve_sources(data)
        known = {s.lower() for s in STAGES} | {"development", "dev"}
        stages = {canonical_stage(s) for s in data["stage"].drop_null().unique().to_pylist()
                  if s.lower() in known}  # the others are refused by _check, naming the row
        self._require("register", Event("create_version", "", "<bulk>"), "models (bulk)")
        if data["alias"].null_count < data.num_rows:
            self._require("alias", Event("set_alias", "", "<bulk>"), "models (bulk)")
        for stage in sorted(stages - {NONE}):
            self._require("transition", Event("transition_stage", "", "<bulk>", to_value=stage),
                          "models (bulk)", stage)
        state = self._registry_state()
        user = self._user()
        for attempt in range(50):
            cur, read_version = state.versioned_cursor()
            cur.register("bulk_in", resolved)
            if attempt == 0:
                _check(cur)
            events = self._bulk_events(cur, user, ids.uuid7_hex_batch, schemas.REGISTRY_LOG)
            cur.unregister("bulk_in")
            try:
                store.commit(TABLE, events, guard=GUARD, guard_version=events["seq"][0].as_py(),
                             read_version=read_version)
                self._after_commit()
                return data.num_rows
            except CommitConflict:
                time.sleep(random.uniform(0, 0.05))
        raise CommitConflict("bulk registration lost 50 races in a row; try again")

    def _resolve_sources(self, data: pa.Table) -> pa.Table:
        """``data`` with ``storage_location`` (runs:/ joined to the runs' artifact URIs)."""
        import os

        import pyarrow as pa
        import pyarrow.compute as pc

        is_runs = pc.fill_null(pc.starts_with(data["source"], "runs:/"), False)
        found = pc.extract_regex(data["source"], r"^runs:/+(?P<r>[^/]+)/")
        run_ids = pc.if_else(is_runs, pc.struct_field(found, "r"), data["run_id"])
        data = data.set_column(data.column_names.index("run_id"), "run_id", run_ids)
        locations = [s if s is None or "://" in s or s.startswith("runs:")
                     else os.path.abspath(os.path.expanduser(s))
                     for s in data["source"].to_pylist()]
        data = data.append_column("storage_location", pa.array(locations, pa.string()))
        if not pc.any(is_runs).as_py():
            return data
        cur = self._tracking.engine.cursor()
        cur.register("bulk_src", data)
        try:
            return cur.sql(
                "SELECT b.* REPLACE (CASE WHEN b.source LIKE 'runs:/%' THEN r.artifact_uri "
                "|| '/' || nullif(regexp_extract(b.source, '^runs:/+[^/]+/+(.*)$', 1), '') "
                "ELSE b.storage_location END AS storage_location) FROM bulk_src AS b "
                "LEFT JOIN runs AS r ON b.source LIKE 'runs:/%' AND r.run_id = b.run_id "
                "ORDER BY b.row_no").to_arrow_table()
        finally:
            cur.unregister("bulk_src")

    def _bulk_events(self, cur: duckdb.DuckDBPyConnection, user: str, new_ids: Any,
                     schema: pa.Schema) -> pa.Table:
        """The registry-log rows that register every row of ``bulk_in``."""
        import pyarrow as pa

        cur.execute("CREATE OR REPLACE TEMP TABLE bulk_existing AS SELECT name, model_id FROM "
                    "registered_models WHERE name IN (SELECT DISTINCT name FROM bulk_in)")
        fresh = [r[0] for r in cur.execute(
            "SELECT DISTINCT name FROM bulk_in WHERE name NOT IN "
            "(SELECT name FROM bulk_existing) ORDER BY name").fetchall()]
        cur.register("bulk_new", pa.table({"name": pa.array(fresh, pa.string()),
                                           "model_id": pa.array(new_ids(len(fresh)),
                                                                pa.string())}))
        first_seq = max(self._store.clock.next(), self._registry_state().max_seq + 1)
        now = now_us()
        stage_sql = ("CASE lower(stage) WHEN 'staging' THEN 'Staging' WHEN 'production' THEN "
                     "'Production' WHEN 'archived' THEN 'Archived' ELSE 'None' END")
        table = cur.sql(f"""
            WITH last AS (
                SELECT model_id, max(version) AS last FROM reg_log
                WHERE action = 'create_version' AND outcome = 'applied'
                  AND model_id IN (SELECT model_id FROM bulk_existing)
                GROUP BY model_id),
            numbered AS (
                SELECT b.*, coalesce(e.model_id, n.model_id) AS model_id,
                       coalesce(l.last, 0)
                           + row_number() OVER (PARTITION BY b.name ORDER BY b.row_no) AS version
                FROM bulk_in AS b
                LEFT JOIN bulk_existing AS e ON e.name = b.name
                LEFT JOIN bulk_new AS n ON n.name = b.name
                LEFT JOIN last AS l ON l.model_id = e.model_id),
            events AS (
                SELECT 0 AS kind, 0 AS row_no, 'create_model' AS action, model_id, name,
                       NULL::BIGINT AS version, NULL AS key, NULL AS to_value,
                       NULL AS description, NULL AS source, NULL AS storage_location,
                       NULL AS run_id
                FROM bulk_new
                UNION ALL
                SELECT 1, row_no, 'create_version', model_id, name, version, NULL, 'None',
                       description, source, storage_location, run_id FROM numbered
                UNION ALL
                SELECT 2, row_no, 'transition_stage', model_id, name, version, NULL,
                       {stage_sql}, NULL, NULL, NULL, NULL
                FROM numbered WHERE stage IS NOT NULL AND {stage_sql} <> 'None'
                UNION ALL
                SELECT 3, row_no, 'set_alias', model_id, name, version, alias, NULL, NULL,
                       NULL, NULL, NULL FROM numbered WHERE alias IS NOT NULL)
            SELECT ? + row_number() OVER (ORDER BY kind, row_no, name) - 1 AS seq,
                   make_timestamp(?::BIGINT) AS timestamp, ? AS user_id, action,
                   'applied' AS outcome, model_id, name, version, key, NULL AS value,
                   CASE WHEN action = 'transition_stage' THEN 'None' END AS from_value,
                   coalesce(to_value, CASE WHEN action = 'set_alias' THEN version::VARCHAR END)
                       AS to_value,
                   description, source, storage_location, run_id, NULL AS comment
            FROM events ORDER BY seq""", params=[first_seq, now, user]).to_arrow_table()
        cur.unregister("bulk_new")
        return table.cast(schema)
