"""``lakeml.data``: describe datasets for ``lakeml.log_input``."""

from __future__ import annotations

from lakeml.entities import Dataset, DatasetInput
from lakeml.tracking.datasets import from_numpy, from_pandas

__all__ = ["Dataset", "DatasetInput", "from_numpy", "from_pandas"]
