"""Bulk logging: a table of finished trials becomes runs in a few large commits.

One row per trial; columns ``params.<key>``, ``metrics.<key>`` and
``tags.<key>`` (the column names ``search_runs`` returns), and optionally
``run_name``, ``status``, ``start_time`` and ``end_time`` (ms since the epoch).
A null value means the trial has no such param or metric; a float NaN (also
pandas' NaN) is logged as NaN, as ``log_metric`` would.
The rows are validated as a whole, then queued as Arrow tables on the
writer's bulk path: a million runs cost seconds, not a commit per run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from lakeml import config, system_tags
from lakeml import validation as v
from lakeml.entities import LifecycleStage, RunStatus
from lakeml.errors import InvalidArgument
from lakeml.ids import uuid7_hex_batch
from lakeml.times import now_ms

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.entities import Experiment
    from lakeml.store import Store


class BulkTarget(Protocol):
    """What bulk logging needs of the tracking service (which passes itself in)."""

    @property
    def store(self) -> Store: ...

    def active_experiment(self, experiment_id: str) -> Experiment: ...

ATTRIBUTES = ("run_name", "status", "start_time", "end_time")


def _as_arrow(data: Any) -> pa.Table:
    """``data`` as an Arrow table; InvalidArgument if a value has no Arrow form (a string
    that is not valid Unicode, an integer beyond 64 bits, mixed types in a column)."""
    import pyarrow as pa

    try:
        return _to_arrow(data)
    except (UnicodeEncodeError, OverflowError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidArgument(f"bulk logging: a value cannot be stored: {exc}") from None


def _to_arrow(data: Any) -> pa.Table:
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if hasattr(data, "to_arrow") and not hasattr(data, "columns"):  # a DuckDB relation
        return data.to_arrow()
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):  # keep NaN as NaN (from_pandas would make it null)
            return pa.table({str(c): pa.array(data[c].to_numpy(), from_pandas=False)
                             if data[c].dtype.kind == "f"
                             else pa.array(data[c], from_pandas=True) for c in data.columns})
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if hasattr(data, "to_arrow"):  # polars
        return data.to_arrow()
    raise InvalidArgument(f"log_runs takes a pandas or polars DataFrame or an Arrow table, "
                          f"got {type(data).__name__}")


def split_columns(columns: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The (column, key) pairs of each of params, metrics and tags; other columns must be
    one of the run attributes, else InvalidArgument names the column."""
    groups: dict[str, list[tuple[str, str]]] = {"params": [], "metrics": [], "tags": []}
    for column in columns:
        prefix, dot, key = column.partition(".")
        if dot and prefix in groups:
            groups[prefix].append((column, v.check_key(key, f"{prefix[:-1]} key")))
        elif column not in ATTRIBUTES:
            raise InvalidArgument(
                f"log_runs: column {column!r} is not params.<key>, metrics.<key>, tags.<key> "
                f"or one of {list(ATTRIBUTES)}")
    return groups


def _cast(values: Any, type_: pa.DataType, column: str) -> Any:
    import pyarrow as pa

    try:
        return values.cast(type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidArgument(f"log_runs: column {column!r} cannot be read as {type_}: "
                              f"{exc}") from None


def param_text(values: Any, column: str) -> Any:
    """Param values as text, floats written as Python's ``str`` writes them (1.0, not 1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _cast(values, pa.string(), column)
    if not pa.types.is_floating(values.type):
        return text
    plain = pc.invert(pc.match_substring_regex(text, "[.eEn]"))  # no point, exponent, nan/inf
    return pc.if_else(pc.fill_null(plain, False), pc.binary_join_element_wise(text, ".0", ""),
                      text)


def _present(rows: pa.Table) -> pa.Table:
    """The rows whose value is not null (a trial without that param or metric)."""
    import pyarrow.compute as pc

    return rows.filter(pc.is_valid(rows["value"])) if rows["value"].null_count else rows


def _times(table: pa.Table, column: str, default_us: int) -> pa.Array:
    import pyarrow as pa

    n = table.num_rows
    if column not in table.column_names:
        return pa.array([default_us] * n, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    if table[column].null_count:
        raise InvalidArgument(f"log_runs: column {column!r} has missing values")
    return ms_to_us(table[column], column)


def ms_to_us(values: Any, column: str) -> Any:
    """Milliseconds since the epoch as microsecond timestamps; InvalidArgument names the
    first value outside 1970 to the year 9999 (validation.timestamp_ms's range)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ms = _cast(values, pa.int64(), column)
    bad = pc.or_(pc.less(ms, 0), pc.greater(ms, v.MAX_TIMESTAMP_MS))
    if pc.any(bad).as_py():
        first = ms.filter(bad)[0].as_py()
        v.timestamp_ms(first, f"column {column!r} value")  # raises, naming it
    return pc.multiply(ms, 1000).cast(pa.timestamp("us", tz="UTC"))


def _run_names(table: pa.Table, groups: dict[str, list[tuple[str, str]]],
               tags: dict[str, Any]) -> pa.Array:
    """The runs' names, from the ``run_name`` column, a ``tags.mlflow.runName`` column or
    an ``mlflow.runName`` entry of ``tags`` (one thing, as in MLflow; the last two are
    taken out of ``groups`` and ``tags``), else ``run-<row>``. Two of them raise."""
    import pyarrow as pa

    found = []
    if "run_name" in table.column_names:
        found.append(("the run_name column", table["run_name"].cast(pa.string())))
    for column, key in list(groups["tags"]):
        if key == system_tags.RUN_NAME:
            groups["tags"].remove((column, key))
            found.append((f"the column {column!r}", table[column].cast(pa.string())))
    if system_tags.RUN_NAME in tags:
        name = v.check_name(v.tag_value(system_tags.RUN_NAME, tags.pop(system_tags.RUN_NAME)),
                            "run name")
        found.append((f"tags={{{system_tags.RUN_NAME!r}: ...}}",
                      pa.array([name] * table.num_rows, pa.string())))
    if len(found) > 1:
        raise InvalidArgument(f"log_runs: the run name is given twice, by {found[0][0]} and "
                              f"{found[1][0]}; give one of them")
    if found:
        return found[0][1]
    return pa.array([f"run-{i}" for i in range(table.num_rows)], pa.string())


def log_runs(client: BulkTarget, experiment_id: str, data: Any, *,
             tags: dict[str, Any] | None = None) -> list[str]:
    """Log one finished run per row of ``data``; returns the new run ids in row order.

    Example:
        >>> client.log_runs(exp_id, pd.DataFrame({"params.alpha": [0.1, 1.0],
        ...                                       "metrics.rmse": [0.5, 0.4]}))  # doctest: +SKIP
    """
    import pyarrow as pa
    import pyarrow.compute as pc


    exp = client.active_experiment(str(experiment_id))
    table = _as_arrow(data)
    groups = split_columns(table.column_names)
    n = table.num_rows
    if n == 0:
        return []
    store = client.store
    writer = store.writer
    now_us = now_ms() * 1000  # run times are whole milliseconds
    run_ids = uuid7_hex_batch(n)
    ids = pa.array(run_ids, pa.string())
    status = table["status"].cast(pa.string()) if "status" in table.column_names \
        else pa.array([RunStatus.FINISHED] * n, pa.string())
    bad = set(pc.unique(status).to_pylist()) - set(RunStatus.ALL)
    if bad:
        raise InvalidArgument(f"log_runs: unknown status {sorted(map(str, bad))}; "
                              f"valid: {list(RunStatus.ALL)}")
    tags = dict(tags or {})
    names = _run_names(table, groups, tags)
    bad_names = pc.filter(names, pc.match_substring_regex(names, v.CONTROL_PATTERN))
    if len(bad_names):
        v.check_name(bad_names[0].as_py(), "log_runs: run name")  # raises, naming it
    user = config.current_user()
    artifact_uris = pc.binary_join_element_wise(
        pa.array([f"{exp.artifact_location}/"] * n), ids, pa.array(["/artifacts"] * n), "")
    seq = pa.array([store.clock.next()] * n, pa.int64())  # one row per run and key

    metric_tables, param_tables, tag_tables = [], [], []
    stamps = _times(table, "end_time", now_us)
    for column, key in groups["metrics"]:  # null: the trial has no such metric
        values = _cast(table[column], pa.float64(), column)
        metric_tables.append(_present(pa.table({
            "run_id": ids, "key": pa.array([key] * n), "value": values,
            "step": pa.array([0] * n, pa.int64()), "timestamp": stamps})))
    for column, key in groups["params"]:
        values = param_text(table[column], column)
        too_long = pc.max(pc.utf8_length(values)).as_py() or 0
        if too_long > v.MAX_PARAM_VALUE_LENGTH:
            raise InvalidArgument(f"log_runs: column {column!r} has a value of {too_long} "
                                  f"characters; the limit is {v.MAX_PARAM_VALUE_LENGTH}")
        param_tables.append(_present(pa.table({"run_id": ids, "key": pa.array([key] * n),
                                               "value": values, "timestamp": stamps})))
    fixed_tags = {**system_tags.default_tags(user), **{k: v.tag_value(k, x)
                                                   for k, x in (tags or {}).items()}}
    tag_columns = [(pa.array([str(val)] * n), key) for key, val in fixed_tags.items()]
    tag_columns.append((names, system_tags.RUN_NAME))
    tag_columns += [(table[c].cast(pa.string()), k) for c, k in groups["tags"]]
    for values, key in tag_columns:
        tag_tables.append(pa.table({
            "run_id": ids, "key": pa.array([v.check_key(key, "tag key")] * n), "value": values,
            "deleted": pa.array([False] * n), "timestamp": stamps, "seq": seq}))

    runs = pa.table({
        "run_id": ids, "experiment_id": pa.array([exp.experiment_id] * n),
        "run_name": names, "user_id": pa.array([user] * n), "status": status,
        "start_time": _times(table, "start_time", now_us), "end_time": stamps,
        "artifact_uri": artifact_uris,
        "lifecycle_stage": pa.array([LifecycleStage.ACTIVE] * n),
        "parent_run_id": pa.nulls(n, pa.string()), "seq": seq})
    writer.append_table("runs", runs)
    for name, parts in (("params", param_tables), ("tags", tag_tables),
                        ("metrics", metric_tables)):
        if parts:
            # Sorted by run: each data file then covers a narrow range of run ids,
            # so a lookup of a few runs reads a few row groups, not every one.
            rows = pa.concat_tables(parts).sort_by([("run_id", "ascending"),
                                                    ("key", "ascending")])
            # fresh_keys: these runs were made just now, no one else can have their params
            writer.append_table(name, rows, fresh_keys=True)
    return run_ids


def log_metric_histories(client: BulkTarget, data: Any) -> int:
    """Append metric points given as rows (run_id, key, value, step, timestamp in ms).

    The runs must exist (they are not checked one by one: this is the bulk
    path). Returns the number of points queued.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _as_arrow(data)
    missing = {"run_id", "key", "value", "step", "timestamp"} - set(table.column_names)
    if missing:
        raise InvalidArgument(f"log_metric_histories: missing column(s) {sorted(missing)}")
    for column in ("run_id", "key", "value", "step", "timestamp"):
        if table[column].null_count:
            raise InvalidArgument(f"log_metric_histories: column {column!r} has missing values")
    for key in pc.unique(table["key"]).to_pylist():
        v.check_key(key, "metric key")
    points = pa.table({
        "run_id": _cast(table["run_id"], pa.string(), "run_id"),
        "key": _cast(table["key"], pa.string(), "key"),
        "value": _cast(table["value"], pa.float64(), "value"),
        "step": _cast(table["step"], pa.int64(), "step"),
        "timestamp": ms_to_us(table["timestamp"], "timestamp")})
    client.store.writer.append_table("metrics", points)
    return points.num_rows
