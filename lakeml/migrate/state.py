"""The import's memory: which runs of which MLflow store came over, in which state.

A Delta table of its own, ``<store>/migrations/mlflow_runs`` (beside the
store's tables, not among them: no lakeml reader needs it), one row per run
each time it is imported: the source URI, the run id and the run's
fingerprint in the source (see ``Source.run_index``). A run is written to
this table only after every row of it has been committed, so:

* a second import finds every run with an unchanged fingerprint and skips it;
* a run that changed in MLflow since (a new metric, a tag, it finished) is
  imported again, by difference, adding only the rows lakeml lacks;
* an import killed half-way left some runs' rows committed but not recorded
  here: they too are imported by difference, so nothing is written twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.store.schemas import TS
from lakeml.store.table import DeltaTableHandle
from lakeml.times import now_us

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.store import Store

TABLE_NAME = "mlflow_runs"


def _schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([pa.field("source", pa.string(), False),
                      pa.field("run_id", pa.string(), False),
                      pa.field("fingerprint", pa.string(), False),
                      pa.field("imported_at", TS, False)])


class ImportState:
    """The runs of ``source`` already imported into ``store``."""

    def __init__(self, store: Store, source: str) -> None:
        from lakeml import config

        self.source = source
        self._handle = DeltaTableHandle(TABLE_NAME, f"{store.uri}/migrations/{TABLE_NAME}",
                                        _schema(), store.storage_options,
                                        config.get("commit_retries"))
        self._handle.ensure()

    def imported(self) -> dict[str, str]:
        """run id -> the fingerprint it was last imported with."""
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        dt = DeltaTable(self._handle.uri, storage_options=self._handle.storage_options)
        rows = dt.to_pyarrow_dataset().to_table(filter=pc.field("source") == self.source)
        rows = rows.sort_by([("imported_at", "ascending")])
        return dict(zip(rows["run_id"].to_pylist(), rows["fingerprint"].to_pylist()))

    def record(self, fingerprints: dict[str, str]) -> None:
        """Note these runs as imported with these fingerprints (one commit)."""
        import pyarrow as pa

        if not fingerprints:
            return
        n = len(fingerprints)
        stamp = now_us()
        self._handle.append(pa.table({
            "source": pa.array([self.source] * n), "run_id": pa.array(list(fingerprints)),
            "fingerprint": pa.array(list(fingerprints.values())),
            "imported_at": pa.array([stamp] * n, pa.int64()).cast(TS)}, schema=_schema()))
