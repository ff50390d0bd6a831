"""Datasets used by a run (``log_input``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# MLflow's source type of a Delta table (its DeltaDatasetSource); the source is then the
# JSON {"path": ..., "delta_table_version": N, "delta_table_id": ...}
DELTA_SOURCE = "delta_table"


@dataclass(frozen=True)
class Dataset:
    """A dataset as MLflow describes it: name, content digest, where it came from."""

    name: str
    digest: str
    source_type: str = "local"
    source: str = ""
    schema: str | None = None
    profile: str | None = None

    def source_spec(self) -> dict[str, Any]:
        """The source as a dict: the JSON MLflow writes for Delta tables and files
        (``{"path": ..., "delta_table_version": N}``, ``{"uri": ...}``), else
        ``{"uri": source}`` for a plain location string (and ``{}`` for none)."""
        text = self.source.strip()
        if text.startswith("{"):
            try:
                spec = json.loads(text)
            except ValueError:
                spec = None
            if isinstance(spec, dict):
                return spec
        return {"uri": self.source} if self.source else {}


@dataclass(frozen=True)
class DatasetInput:
    """A dataset used by a run, with its context ("training", "eval"…)."""

    dataset: Dataset
    context: str | None = None
