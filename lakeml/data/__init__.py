"""``lakeml.data``: describe datasets for ``lakeml.log_input``, and load them back.

``from_pandas`` and ``from_numpy`` describe data in memory by digest; ``from_delta``
pins an exact version of a Delta table and ``from_files`` Parquet or CSV files (with
an optional snapshot into the store), and :func:`load` returns exactly what was logged.
"""

from __future__ import annotations

from lakeml.data.delta import from_delta
from lakeml.data.files import from_files
from lakeml.data.load import load
from lakeml.entities import Dataset, DatasetInput
from lakeml.tracking.datasets import from_numpy, from_pandas

__all__ = ["Dataset", "DatasetInput", "from_delta", "from_files", "from_numpy", "from_pandas",
           "load"]
