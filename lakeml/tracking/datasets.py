"""Describing datasets for ``log_input``: a name, a content digest, a schema."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from lakeml.entities import Dataset
from lakeml.errors import InvalidArgument

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def _digest(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def from_pandas(df: pd.DataFrame, source: str = "", name: str | None = None,
                targets: str | None = None) -> Dataset:
    """Describe a DataFrame: the digest hashes its schema and every value.

    Example:
        >>> ds = lakeml.data.from_pandas(df, source="s3://b/train.parquet")  # doctest: +SKIP
        >>> lakeml.log_input(ds, context="training")                        # doctest: +SKIP
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidArgument(f"from_pandas takes a pandas DataFrame, got {type(df).__name__}")
    row_hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    schema = {"columns": [{"name": str(c), "type": str(t)} for c, t in df.dtypes.items()]}
    digest = _digest([json.dumps(schema).encode(), row_hashes.tobytes()])
    profile = {"num_rows": int(len(df)), "num_columns": int(df.shape[1])}
    if targets is not None:
        profile["targets"] = targets  # type: ignore[assignment]
    return Dataset(name or f"dataset-{digest[:8]}", digest, "local" if not source else
                   source.split("://")[0] if "://" in source else "local", source,
                   json.dumps(schema), json.dumps(profile))


def from_numpy(features: np.ndarray, source: str = "", name: str | None = None,
               targets: np.ndarray | None = None) -> Dataset:
    """Describe numpy arrays (features and optional targets) by shape, dtype and content."""
    import numpy as np

    arrays: list[Any] = [np.ascontiguousarray(features)]
    if targets is not None:
        arrays.append(np.ascontiguousarray(targets))
    schema = {"tensors": [{"shape": list(a.shape), "dtype": str(a.dtype)} for a in arrays]}
    digest = _digest([json.dumps(schema).encode(), *(a.tobytes() for a in arrays)])
    profile = {"features_shape": list(arrays[0].shape)}
    return Dataset(name or f"dataset-{digest[:8]}", digest, "local", source,
                   json.dumps(schema), json.dumps(profile))
