"""The Arrow schema of every lakeml table, in one place.

Every table is an append-only log. Rows that change state (runs, experiments,
tags) carry ``seq``, a strictly increasing microsecond stamp; the current
state of a key is the latest non-null value of each column (see sql/views/).
Timestamps are microsecond UTC (the only kind every Delta reader agrees on).
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")


def _f(name: str, type_: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


EXPERIMENTS = pa.schema([
    _f("experiment_id", pa.string(), False),
    _f("name", pa.string()),
    _f("artifact_location", pa.string()),
    _f("lifecycle_stage", pa.string()),
    _f("creation_time", TS),
    _f("last_update_time", TS),
    _f("seq", pa.int64(), False),
])

EXPERIMENT_TAGS = pa.schema([
    _f("experiment_id", pa.string(), False),
    _f("key", pa.string(), False),
    _f("value", pa.string()),
    _f("deleted", pa.bool_(), False),
    _f("timestamp", TS, False),
    _f("seq", pa.int64(), False),
])

RUNS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("experiment_id", pa.string()),
    _f("run_name", pa.string()),
    _f("user_id", pa.string()),
    _f("status", pa.string()),
    _f("start_time", TS),
    _f("end_time", TS),
    _f("artifact_uri", pa.string()),
    _f("lifecycle_stage", pa.string()),
    _f("parent_run_id", pa.string()),
    _f("seq", pa.int64(), False),
])

# A run's current state, as the runs view (sql/views/runs.sql) shows it: every
# column of the runs table but seq, in its order.
RUN_COLUMNS: tuple[str, ...] = tuple(name for name in RUNS.names if name != "seq")

PARAMS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("key", pa.string(), False),
    _f("value", pa.string(), False),
    _f("timestamp", TS, False),
])

METRICS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("key", pa.string(), False),
    _f("value", pa.float64(), False),
    _f("step", pa.int64(), False),
    _f("timestamp", TS, False),
])

# Metric histories downsampled as they are written (lakeml/store/buckets.py): per
# (run_id, key), step bucket ``bucket`` of ``width`` steps (steps width*bucket to
# width*(bucket+1)-1) and a batch of points, the bucket's first and last point (by
# step, time, value) and its lowest and highest finite value (null if it has none).
# Rows of one bucket from several batches or writers merge at read time; a row with
# run_id '' marks the table complete (see buckets.COMPLETE).
METRIC_BUCKETS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("key", pa.string(), False),
    _f("width", pa.int64(), False),
    _f("bucket", pa.int64(), False),
    _f("points", pa.int64(), False),
    *[_f(f"{end}_{column}", type_) for end in ("first", "last", "low", "high")
      for column, type_ in (("step", pa.int64()), ("timestamp", TS), ("value", pa.float64()))],
])

TAGS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("key", pa.string(), False),
    _f("value", pa.string()),
    _f("deleted", pa.bool_(), False),
    _f("timestamp", TS, False),
    _f("seq", pa.int64(), False),
])

INPUTS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("name", pa.string(), False),
    _f("digest", pa.string(), False),
    _f("source_type", pa.string()),
    _f("source", pa.string()),
    _f("schema", pa.string()),
    _f("profile", pa.string()),
    _f("context", pa.string()),
    _f("timestamp", TS, False),
])

# One row per model logged with ``log_model`` (the model's lineage). Append-only:
# a model directory is immutable once logged.
LOGGED_MODELS = pa.schema([
    _f("model_uuid", pa.string(), False),
    _f("run_id", pa.string(), False),
    _f("artifact_path", pa.string(), False),
    _f("flavors", pa.list_(pa.string())),
    _f("loader_module", pa.string()),
    _f("signature", pa.string()),
    _f("size_bytes", pa.int64()),
    _f("uri", pa.string()),
    _f("artifact_uri", pa.string()),
    _f("lakeml_version", pa.string()),
    _f("created_time", TS, False),
])

# MLflow 3's logged models (``/api/2.0/mlflow/logged-models``): a model gets its id
# before its files are uploaded, then is finalized READY or FAILED. One row per change,
# holding the model's whole state after it (tags and params as maps); the row
# with the highest ``seq`` of a model_id is its current state. A READY model also gets
# its lineage row in ``logged_models``.
LOGGED_MODEL_STATES = pa.schema([
    _f("model_id", pa.string(), False),
    _f("experiment_id", pa.string(), False),
    _f("name", pa.string(), False),
    _f("source_run_id", pa.string()),
    _f("model_type", pa.string()),
    _f("artifact_location", pa.string(), False),
    _f("status", pa.string(), False),
    _f("status_message", pa.string()),
    _f("tags", pa.map_(pa.string(), pa.string())),
    _f("params", pa.map_(pa.string(), pa.string())),
    _f("deleted", pa.bool_(), False),
    _f("creation_time", TS, False),
    _f("timestamp", TS, False),
    _f("seq", pa.int64(), False),
])

# The model registry as one append-only event log: every change to a registered
# model or version, every review step and every denied attempt is a row. The
# views of sql/views/ (registered_models, model_versions, model_aliases…) fold
# it into current state; filtering on ``timestamp`` first gives the registry as
# it was at any past time, and the log itself is the audit trail.
#   action: create_model, rename_model, update_model, delete_model, set_model_tag,
#     delete_model_tag, create_version, update_version, delete_version,
#     transition_stage, set_version_tag, delete_version_tag, set_alias,
#     delete_alias, request_transition, approve_request, reject_request,
#     cancel_request, comment; api_request (a tracking server call its permissions
#     refused: key = the route, value = the resource, from/to_value = level held/needed)
#   outcome: "applied", or "denied" (a PermissionDenied; ``comment`` says why)
REGISTRY_LOG = pa.schema([
    _f("seq", pa.int64(), False),
    _f("timestamp", TS, False),
    _f("user_id", pa.string()),
    _f("action", pa.string(), False),
    _f("outcome", pa.string(), False),
    _f("model_id", pa.string(), False),
    _f("name", pa.string()),            # the model's name when the event happened
    _f("version", pa.int64()),
    _f("key", pa.string()),             # tag key, alias, request id or comment id
    _f("value", pa.string()),           # tag value
    _f("from_value", pa.string()),      # stage or name before
    _f("to_value", pa.string()),        # stage or name after, requested stage
    _f("description", pa.string()),
    _f("source", pa.string()),          # a version's model URI as given
    _f("storage_location", pa.string()),  # ... resolved to where its files are
    _f("run_id", pa.string()),
    _f("comment", pa.string()),
])

# Workflows (lakeml/projects/workflow.py): one row per step of a workflow run, written
# when the step ends: its nested run, and the run whose outputs it used (itself, or an
# earlier run with the same cache key, a digest of the step's code, params and inputs).
WORKFLOW_STEPS = pa.schema([
    _f("workflow_run_id", pa.string(), False),
    _f("workflow", pa.string(), False),
    _f("step", pa.string(), False),
    _f("entry_point", pa.string()),
    _f("run_id", pa.string()),
    _f("source_run_id", pa.string()),
    _f("cache_key", pa.string()),
    _f("status", pa.string(), False),
    _f("error", pa.string()),
    _f("start_time", TS),
    _f("end_time", TS, False),
])

# One row per declared input or output of a step run: the workflow's lineage.
WORKFLOW_LINEAGE = pa.schema([
    _f("workflow_run_id", pa.string(), False),
    _f("workflow", pa.string(), False),
    _f("step", pa.string(), False),
    _f("run_id", pa.string()),
    _f("source_run_id", pa.string()),
    _f("direction", pa.string(), False),
    _f("name", pa.string(), False),
    _f("kind", pa.string(), False),
    _f("uri", pa.string()),
    _f("digest", pa.string()),
    _f("from_step", pa.string()),
    _f("from_output", pa.string()),
    _f("timestamp", TS, False),
])

# Commit order of one flush: a run's row lands before the rows that refer to it.
TABLES: dict[str, pa.Schema] = {
    "experiments": EXPERIMENTS,
    "experiment_tags": EXPERIMENT_TAGS,
    "runs": RUNS,
    "params": PARAMS,
    "tags": TAGS,
    "inputs": INPUTS,
    "metrics": METRICS,
    "metric_latest": METRICS,
    "metric_buckets": METRIC_BUCKETS,
    "logged_models": LOGGED_MODELS,
    "logged_model_states": LOGGED_MODEL_STATES,
    "registry_log": REGISTRY_LOG,
    "workflow_steps": WORKFLOW_STEPS,
    "workflow_lineage": WORKFLOW_LINEAGE,
}

# The order in which one flush commits its tables, in waves: the tables of a wave are
# committed at the same time (each is its own Delta commit, so this costs the slowest
# of them, not their sum), and a wave starts when the one before it has ended. A row
# lands before the rows that refer to it (a run before its params, a logged model
# before its states), and a metrics batch before the latest points derived from it.
COMMIT_WAVES: tuple[tuple[str, ...], ...] = (
    ("experiments",),
    ("experiment_tags", "runs", "workflow_steps"),
    ("params", "tags", "inputs", "metrics", "logged_models", "workflow_lineage"),
    ("metric_latest", "metric_buckets", "logged_model_states", "registry_log"),
)

# Tables the writer derives from another table's batches rather than from log
# calls. metric_latest holds, per flushed batch of metrics, the latest point of
# each (run_id, key): the latest_metrics view reads it instead of the full
# history, which at 100 M points would take seconds. It is committed right
# after its metrics batch; a kill between the two leaves the history complete
# and latest_metrics one batch behind for those runs, which
# ``lakeml maintenance rebuild-latest`` repairs.
# metric_buckets holds each batch's points downsampled per bucket of steps, for
# charts (``lakeml maintenance rebuild-buckets`` derives them for a store that
# predates the table, or repairs the same kill).
DERIVED: dict[str, str] = {"metric_latest": "metrics", "metric_buckets": "metrics"}
