"""The records lakeml hands out: small, immutable, with MLflow's names (tracking and
registry alike)."""

from __future__ import annotations

from lakeml.entities.dataset import Dataset, DatasetInput
from lakeml.entities.experiment import Experiment
from lakeml.entities.file_info import FileInfo
from lakeml.entities.lineage import LineageEdge
from lakeml.entities.metric import Metric
from lakeml.entities.model_version import (
    Comment,
    ModelVersion,
    RegisteredModel,
    TransitionRequest,
)
from lakeml.entities.param import Param
from lakeml.entities.run import Run, RunData, RunInfo, RunInputs, RunStatus
from lakeml.entities.tag import RunTag
from lakeml.entities.view_type import LifecycleStage, ViewType

__all__ = [
    "Comment",
    "Dataset",
    "DatasetInput",
    "Experiment",
    "FileInfo",
    "LifecycleStage",
    "LineageEdge",
    "Metric",
    "ModelVersion",
    "Param",
    "RegisteredModel",
    "Run",
    "RunData",
    "RunInfo",
    "RunInputs",
    "RunStatus",
    "RunTag",
    "TransitionRequest",
    "ViewType",
]
