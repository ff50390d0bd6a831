"""A run: its info (identity and state), data (params, metrics, tags) and inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

from lakeml.entities.dataset import DatasetInput
from lakeml.entities.metric import Metric


class RunStatus:
    """Run states, as in MLflow; the last three are terminal."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)


@dataclass(frozen=True)
class RunInfo:
    """Identity and state of a run; times are milliseconds since the epoch."""

    run_id: str
    experiment_id: str
    run_name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str
    parent_run_id: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for ``run_id``."""
        return self.run_id


@dataclass(frozen=True)
class RunData:
    """Latest metric values, params and tags of a run, as plain dicts."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    latest_metrics: tuple[Metric, ...] = ()


@dataclass(frozen=True)
class RunInputs:
    """Datasets the run used."""

    dataset_inputs: tuple[DatasetInput, ...] = ()


@dataclass(frozen=True)
class Run:
    """A run as returned by ``get_run`` and ``start_run``."""

    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)
