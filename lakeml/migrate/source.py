"""What an MLflow store holds, as the importer reads it, whatever the store is.

Each kind of MLflow tracking URI has a reader (``sqlite_source``: a database
read with sqlite3; ``file_source``: an ``./mlruns`` folder; ``readers`` picks
one by URI) that hands out these records and Arrow tables. The importer
(``importer``) knows only them.

Times are MLflow's: integer milliseconds since the epoch. Run rows come in
batches (:class:`RunBatch`) of Arrow tables whose columns are named as
lakeml's tables name them, so the writer only adds what lakeml adds
(microsecond timestamps, sequences).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class ExperimentRecord:
    """An MLflow experiment."""

    experiment_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int | None
    last_update_time: int | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class VersionRecord:
    """One version of an MLflow registered model."""

    version: int
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    user_id: str | None
    stage: str
    source: str | None
    run_id: str | None
    storage_location: str | None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RegisteredModelRecord:
    """An MLflow registered model with every version, tag and alias."""

    name: str
    creation_time: int | None
    last_updated_time: int | None
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[VersionRecord] = field(default_factory=list)


@dataclass
class LoggedModelRecord:
    """An MLflow 3 logged model: a model folder of its own, often made by a run."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_time: int | None
    source_run_id: str | None


# The columns of each Arrow table of a RunBatch (names as in lakeml's tables; times in ms).
RUN_COLUMNS = ("run_id", "experiment_id", "run_name", "user_id", "status", "start_time",
               "end_time", "lifecycle_stage", "parent_run_id", "artifact_uri")
PARAM_COLUMNS = ("run_id", "key", "value")
TAG_COLUMNS = ("run_id", "key", "value")
METRIC_COLUMNS = ("run_id", "key", "value", "step", "timestamp")
INPUT_COLUMNS = ("run_id", "name", "digest", "source_type", "source", "schema", "profile",
                 "context")


@dataclass
class RunBatch:
    """Everything of some runs: one Arrow table per kind of row (see the *_COLUMNS above);
    ``artifact_uri`` of ``runs`` is where MLflow keeps each run's artifacts."""

    runs: pa.Table
    params: pa.Table
    tags: pa.Table
    metrics: pa.Table
    inputs: pa.Table


class Source(Protocol):
    """An MLflow store opened for reading."""

    uri: str

    def experiments(self) -> list[ExperimentRecord]:
        """Every experiment, deleted ones included."""
        ...

    def run_index(self) -> dict[str, str]:
        """run id -> a fingerprint that changes whenever the run gains or changes rows."""
        ...

    def read_runs(self, run_ids: list[str]) -> RunBatch:
        """Every row of these runs."""
        ...

    def logged_models(self) -> list[LoggedModelRecord]:
        """The logged models (MLflow 3), with their folders."""
        ...

    def registered_models(self) -> list[RegisteredModelRecord]:
        """The model registry."""
        ...

    def close(self) -> None:
        ...


def empty_batch_tables() -> dict[str, pa.Table]:
    """Empty tables of each RunBatch kind (with their column types)."""
    import pyarrow as pa

    s, i, f = pa.string(), pa.int64(), pa.float64()
    types = {"runs": [s, s, s, s, s, i, i, s, s, s], "params": [s, s, s], "tags": [s, s, s],
             "metrics": [s, s, f, i, i], "inputs": [s] * 8}
    names = {"runs": RUN_COLUMNS, "params": PARAM_COLUMNS, "tags": TAG_COLUMNS,
             "metrics": METRIC_COLUMNS, "inputs": INPUT_COLUMNS}
    return {kind: pa.schema(list(zip(names[kind], types[kind]))).empty_table()
            for kind in names}


def columns_table(kind: str, columns: list[Any]) -> pa.Table:
    """A RunBatch table of ``kind`` from its columns (Python lists or arrays, in order)."""
    import pyarrow as pa

    schema = empty_batch_tables()[kind].schema
    if not columns or len(columns[0]) == 0:
        return schema.empty_table()

    def typed(values: Any, type_: pa.DataType) -> Any:
        if isinstance(values, (pa.Array, pa.ChunkedArray)):  # Arrow already: cast, no copy
            return values.cast(type_)
        return pa.array(values, type=type_)

    return pa.Table.from_arrays([typed(c, t) for c, t in zip(columns, schema.types)],
                                schema=schema)
