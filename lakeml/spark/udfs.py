"""Pandas UDF bodies. pyspark reads their pandas type hints, so this module imports
pandas at the top; it is loaded only when a UDF is built, keeping ``import
lakeml.spark`` free of pandas."""

from __future__ import annotations

import pandas as pd

from lakeml.tracking.bulk import param_text


def float_param_text(series: pd.Series) -> pd.Series:
    """Float params written as the pandas path writes them (:func:`bulk.param_text`)."""
    import pyarrow as pa

    text = param_text(pa.array(series.to_numpy(), from_pandas=False), "params")
    return text.to_pandas()
