"""``lakeml.data.load``: the exact data a run logged, read back.

A Delta dataset is read at its recorded version (time travel), and its digest is
checked against the version's file list; files are read from their snapshot when one
was taken, else from where they were, and refused when their bytes changed. In-memory
datasets (pandas, numpy) were described by digest only and cannot be loaded.
"""

from __future__ import annotations

from typing import Any

from lakeml.entities.dataset import DELTA_SOURCE, Dataset, DatasetInput
from lakeml.errors import InvalidArgument, InvalidState, NotFound, NotSupported

FORMATS = ("pandas", "arrow")


def load(dataset: Dataset | DatasetInput, format: str = "pandas") -> Any:
    """The data ``dataset`` (or a run's logged input) describes, exactly as logged: a
    pandas DataFrame, or a pyarrow Table with ``format="arrow"``.

    Raises NotFound when the data is gone (a Delta version removed by VACUUM or log
    clean-up, deleted files), InvalidState when files changed since they were logged,
    NotSupported for datasets described from memory.
    """
    if format not in FORMATS:
        raise InvalidArgument(f"format must be one of {FORMATS}, got {format!r}")
    if isinstance(dataset, DatasetInput):
        dataset = dataset.dataset
    if not isinstance(dataset, Dataset):
        raise InvalidArgument(f"load takes a Dataset or a DatasetInput, got "
                              f"{type(dataset).__name__}")
    spec = dataset.source_spec()
    if dataset.source_type == DELTA_SOURCE:
        table = _load_delta(dataset, spec)
    elif spec.get("format") in ("parquet", "csv"):
        table = _load_files(dataset, spec)
    else:
        raise NotSupported(
            f"dataset {dataset.name!r} (source type {dataset.source_type!r}) was described "
            f"from data in memory, by digest only; lakeml loads datasets made by "
            f"lakeml.data.from_delta and from_files")
    return table.to_pandas() if format == "pandas" else table


def _load_delta(dataset: Dataset, spec: dict[str, Any]) -> Any:
    from lakeml.data.delta import open_version, snapshot_digest

    path, version = spec.get("path"), spec.get("delta_table_version")
    if not isinstance(path, str) or not isinstance(version, int):
        raise InvalidArgument(f"dataset {dataset.name!r} has no Delta path and version in "
                              f"its source {dataset.source!r}")
    table = open_version(path, version)
    recorded_id = spec.get("delta_table_id")
    if recorded_id and table.metadata().id != recorded_id:
        raise InvalidState(f"the Delta table at {path!r} was replaced since dataset "
                           f"{dataset.name!r} was logged (table id {recorded_id} is now "
                           f"{table.metadata().id}); version {version} of the logged table "
                           f"is gone")
    if snapshot_digest(table) != dataset.digest:
        raise InvalidState(f"version {version} of Delta table {path!r} no longer has the "
                           f"files dataset {dataset.name!r} was logged with (digest "
                           f"{dataset.digest})")
    try:
        return table.to_pyarrow_table()
    except Exception as exc:  # a data file removed under the log: VACUUM
        raise NotFound(f"version {version} of Delta table {path!r} cannot be read: its "
                       f"data files were removed (VACUUM?): {exc}") from None


def _load_files(dataset: Dataset, spec: dict[str, Any]) -> Any:
    from lakeml.data.files import files_digest, filesystem, list_files, read_arrow

    where = spec.get("snapshot") or spec.get("uri")
    if not isinstance(where, str):
        raise InvalidArgument(f"dataset {dataset.name!r} has no file location in its source "
                              f"{dataset.source!r}")
    fs, base = filesystem(where)
    files = list_files(fs, base, where)
    now = files_digest(fs, base, files)
    if now != dataset.digest:
        raise InvalidState(f"the files at {where!r} changed since dataset {dataset.name!r} "
                           f"was logged (digest {dataset.digest}, now {now}); log with "
                           f"snapshot=True to keep a copy in the store")
    return read_arrow(fs, [f for _, f in files], spec["format"])
