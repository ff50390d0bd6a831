"""Datasets used by a run (``log_input``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    """A dataset as MLflow describes it: name, content digest, where it came from."""

    name: str
    digest: str
    source_type: str = "local"
    source: str = ""
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class DatasetInput:
    """A dataset used by a run, with its context ("training", "eval"…)."""

    dataset: Dataset
    context: str | None = None
