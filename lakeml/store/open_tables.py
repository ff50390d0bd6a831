"""Delta tables whose columns grow: the inference log, its labels, monitor metrics, and
the record of batch-scoring jobs (``scoring_outputs``: which model version scored which
input version into which output version).

The tables of :mod:`lakeml.store.schemas` have fixed columns. The inference log does
not: besides its fixed columns (request id, time, model, latency, status) it holds one
typed column per model input (``input_<name>``) and output (``prediction`` or
``prediction_<name>``), following each model's signature, and a model seen for the
first time adds its columns with a schema merge. Typed columns are what makes the
monitor fast: DuckDB reads a feature as one Parquet column, with no JSON to parse.

Why one table (with merge) rather than a table per model: one ``inference_log`` view
over every model, one place for maintenance, and the lineage of a model's traffic is a
filter (``model_name``, ``model_version``). Two models that give one input name two
types would clash; the logger casts to the type already in the table, and refuses (at
start-up, naming the column and both types) only when it cannot.

Appends carry a Delta app transaction (writer id, batch sequence), so a flush retried
after a fault never writes a batch twice.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from lakeml.errors import InvalidArgument, StoreUnavailable
from lakeml.store.table import TABLE_CONFIGURATION, local_paths, note_commit

if TYPE_CHECKING:
    import pyarrow as pa

INFERENCE_LOG = "inference_log"
INFERENCE_LABELS = "inference_labels"
MONITOR_METRICS = "monitor_metrics"
SCORING_OUTPUTS = "scoring_outputs"
INPUT_PREFIX = "input_"
PREDICTION = "prediction"
TABLES = (INFERENCE_LOG, INFERENCE_LABELS, MONITOR_METRICS, SCORING_OUTPUTS)


def core_schema(table: str) -> pa.Schema:
    """The fixed columns of ``table`` (the inference tables grow more; see the module)."""
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    if table == INFERENCE_LOG:
        return pa.schema([
            ("request_id", pa.string()), ("row", pa.int64()), ("time", ts),
            ("model_name", pa.string()), ("model_version", pa.int64()),
            ("model_uuid", pa.string()), ("model_uri", pa.string()),
            ("source", pa.string()),  # "serving" or "batch"
            ("latency_ms", pa.float64()), ("status", pa.int64()), ("error", pa.string())])
    if table == INFERENCE_LABELS:
        return pa.schema([("request_id", pa.string()), ("row", pa.int64()),
                          ("model_name", pa.string()), ("time", ts)])
    if table == MONITOR_METRICS:
        return pa.schema([
            ("model_name", pa.string()), ("model_version", pa.int64()),
            ("window_start", ts), ("window_end", ts), ("feature", pa.string()),
            ("statistic", pa.string()), ("value", pa.float64()),
            ("threshold", pa.float64()), ("alert", pa.bool_()), ("baseline", pa.string()),
            ("rows", pa.int64()), ("computed_at", ts)])
    if table == SCORING_OUTPUTS:  # one row per batch-scoring job: its lineage
        return pa.schema([
            ("model_uri", pa.string()), ("model_name", pa.string()),
            ("model_version", pa.int64()), ("model_uuid", pa.string()),
            ("run_id", pa.string()), ("input", pa.string()), ("output", pa.string()),
            ("rows", pa.int64()), ("time", ts)])
    raise InvalidArgument(f"no open table {table!r}; known: {', '.join(TABLES)}")


def table_uri(store_uri: str, table: str) -> str:
    """Where ``table`` lives in the store at ``store_uri`` (beside the other tables)."""
    return f"{store_uri.rstrip('/')}/tables/{table}"


def options(store_uri: str, storage_options: dict[str, str] | None = None
            ) -> dict[str, str] | None:
    """deltalake's options for the store at ``store_uri``: those given (default: the
    conf file's) plus what safe concurrent commits need there (S3 conditional writes),
    as the fixed tables get them (:func:`lakeml.store.object_store.delta_options`)."""
    from lakeml import config
    from lakeml.store.object_store import delta_options

    given = config.storage_options() if storage_options is None else storage_options
    return delta_options(store_uri, dict(given)) or None


_create_lock = threading.Lock()


def ensure(store_uri: str, table: str, storage_options: dict[str, str] | None = None) -> None:
    """Create ``table`` with its fixed columns unless it exists (safe when processes race)."""
    storage_options = options(store_uri, storage_options)
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError

    uri = table_uri(store_uri, table)
    with _create_lock:
        for _ in range(20):
            try:
                if DeltaTable.is_deltatable(uri, storage_options):
                    return
                DeltaTable.create(uri, core_schema(table), mode="ignore", name=table,
                                  configuration=TABLE_CONFIGURATION,
                                  storage_options=storage_options)
                return
            except CommitFailedError:
                continue
            except OSError as exc:
                raise StoreUnavailable(f"cannot create table {table!r} at {uri!r}: "
                                       f"{exc}") from exc
    raise StoreUnavailable(f"could not create table {table!r} at {uri!r}")


def append(store_uri: str, table: str, data: pa.Table, *, app_id: str | None = None,
           sequence: int | None = None,
           storage_options: dict[str, str] | None = None) -> bool:
    """Append ``data`` to ``table`` as one commit, adding its new columns (schema merge).

    With ``app_id``, the commit is batch ``sequence`` of that writer and is skipped
    (returns False) when that batch was committed already: a retried flush never
    duplicates rows. Returns True when the rows were committed.
    """
    storage_options = options(store_uri, storage_options)
    from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

    ensure(store_uri, table, storage_options)
    uri = table_uri(store_uri, table)
    try:
        dt = DeltaTable(uri, storage_options=storage_options)
        if app_id is not None and sequence is not None:
            if (dt.transaction_version(app_id) or 0) >= sequence:
                return False
        txns = [Transaction(app_id, sequence)] if app_id is not None else None
        note_commit(uri)  # this process's reads list the table again (remote freshness)
        write_deltalake(dt, data, mode="append", schema_mode="merge",
                        commit_properties=CommitProperties(app_transactions=txns,
                                                           max_commit_retries=100))
        note_commit(uri)
    except (OSError, ValueError) as exc:
        raise StoreUnavailable(f"cannot append to table {table!r} at {uri!r}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("deltalake", "_internal")):  # DeltaError: _internal
            raise StoreUnavailable(f"cannot append to table {table!r} at {uri!r}: "
                                   f"{exc}") from exc
        raise
    return True


# How deltalake words a predicate it cannot parse, bind or type (its DeltaError and
# plain Exception carry no finer class): the caller's bug, not the store's state.
_PREDICATE_ERRORS = ("sql parser error", "Schema error", "Cast error", "No field named")


def replace(store_uri: str, table: str, data: pa.Table, predicate: str, *,
            storage_options: dict[str, str] | None = None, attempts: int = 50) -> None:
    """Replace the rows of ``table`` matching ``predicate`` (a deltalake SQL predicate)
    by ``data``, in one commit: Delta's ``replaceWhere``.

    Why it is idempotent under races: the commit removes the files holding matching
    rows and adds ``data`` at once, and deltalake refuses it (CommitFailedError) when a
    concurrent commit added or removed files it read; this retries from the new version,
    so of several racers each replaces what the one before it wrote, and the table ends
    with one copy of ``data``, never two. ``data`` must match ``predicate``.
    """
    storage_options = options(store_uri, storage_options)
    from deltalake import CommitProperties, DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError

    ensure(store_uri, table, storage_options)
    uri = table_uri(store_uri, table)
    for attempt in range(attempts):
        try:
            note_commit(uri)  # this process's reads list the table again (remote freshness)
            write_deltalake(DeltaTable(uri, storage_options=storage_options), data,
                            mode="overwrite", predicate=predicate, schema_mode="merge",
                            commit_properties=CommitProperties(max_commit_retries=100))
            note_commit(uri)
            return
        except CommitFailedError:
            time.sleep(0.01 * (attempt + 1))
        except Exception as exc:
            if any(sign in str(exc) for sign in _PREDICATE_ERRORS):
                raise InvalidArgument(f"cannot replace rows of table {table!r}: predicate "
                                      f"{predicate!r} is not valid: {exc}") from exc
            if isinstance(exc, (OSError, ValueError)) or \
                    type(exc).__module__.startswith(("deltalake", "_internal")):
                raise StoreUnavailable(f"cannot replace rows of table {table!r} at "
                                       f"{uri!r} where {predicate}: {exc}") from exc
            raise
    raise StoreUnavailable(f"could not replace rows of table {table!r} at {uri!r}: "
                           f"{attempts} concurrent commits won")


def sql_literal(value: object) -> str:
    """``value`` (None, a bool, a number or text) as a SQL literal of a deltalake
    predicate; text is quoted with its quotes doubled, so it never becomes SQL."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def compact(store_uri: str, table: str,
            storage_options: dict[str, str] | None = None) -> int:
    """Rewrite the table's small files into large ones (one commit; concurrent appends
    are unaffected); returns the files removed. A logger committing every second makes
    86,400 files a day: it calls this every :data:`COMPACT_EVERY` commits."""
    storage_options = options(store_uri, storage_options)
    from deltalake import DeltaTable

    uri = table_uri(store_uri, table)
    try:
        found = DeltaTable(uri, storage_options=storage_options).optimize.compact()
    except Exception as exc:  # noqa: BLE001 - deltalake's errors, at the store boundary
        raise StoreUnavailable(f"cannot compact table {table!r} at {uri!r}: {exc}") from exc
    return int(found.get("numFilesRemoved", 0))


COMPACT_EVERY = 600  # commits: ten minutes of a logger flushing every second


def schema(store_uri: str, table: str,
           storage_options: dict[str, str] | None = None) -> pa.Schema | None:
    """The current Arrow schema of ``table``, or None when it does not exist yet."""
    storage_options = options(store_uri, storage_options)
    from deltalake import DeltaTable

    uri = table_uri(store_uri, table)
    if not DeltaTable.is_deltatable(uri, storage_options):
        return None
    import pyarrow as pa

    return pa.schema(DeltaTable(uri, storage_options=storage_options).schema().to_arrow())


def readable_files(store_uri: str, table: str,
                   storage_options: dict[str, str] | None = None) -> list[str]:
    """Paths DuckDB can read of ``table``'s latest data files: the files themselves on a
    local store, local copies of them on a remote one (fetched once, into the store's
    folder of the file cache, as the fixed tables' readers do)."""
    uris = snapshot_files(store_uri, table, storage_options)
    if "://" not in store_uri or not uris:
        return uris
    from lakeml import config
    from lakeml.store.file_cache import local_copies, store_folder

    return local_copies(uris, config.artifact_storage_options(),
                        folder=store_folder(store_uri))


def snapshot_files(store_uri: str, table: str,
                   storage_options: dict[str, str] | None = None) -> list[str]:
    """The data files of ``table``'s latest version ([] when it does not exist): paths on
    a local store (table.local_paths), URIs on a remote one."""
    storage_options = options(store_uri, storage_options)
    from deltalake import DeltaTable

    uri = table_uri(store_uri, table)
    if not DeltaTable.is_deltatable(uri, storage_options):
        return []
    return local_paths(uri, DeltaTable(uri, storage_options=storage_options).file_uris())
