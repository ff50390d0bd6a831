"""The records lakeml hands out: small, immutable, with MLflow's names."""

from __future__ import annotations

from lakeml.entities.dataset import Dataset, DatasetInput
from lakeml.entities.experiment import Experiment
from lakeml.entities.file_info import FileInfo
from lakeml.entities.metric import Metric
from lakeml.entities.param import Param
from lakeml.entities.run import Run, RunData, RunInfo, RunInputs, RunStatus
from lakeml.entities.tag import RunTag
from lakeml.entities.view_type import LifecycleStage, ViewType

__all__ = [
    "Dataset",
    "DatasetInput",
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "Metric",
    "Param",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "ViewType",
]
