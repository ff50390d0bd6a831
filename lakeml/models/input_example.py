"""Saving an input example beside a model, as JSON an HTTP client could send.

A DataFrame (or dict of columns, or list of records) is saved in pandas'
``split`` orient (``{"columns": [...], "data": [[...]]}``), an array as
``{"inputs": [...]}``: the bodies of MLflow's ``dataframe_split`` and
``inputs`` requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakeml.errors import InvalidArgument
from lakeml.models.signature import as_frame_if_tabular

EXAMPLE_FILE = "input_example.json"


def save_input_example(folder: Path, example: Any) -> dict[str, Any]:
    """Write ``example`` into ``folder``; returns the MLmodel's saved_input_example_info."""
    import numpy as np
    import pandas as pd

    example = as_frame_if_tabular(example)
    if isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        text = example.to_json(orient="split", index=False, date_format="iso")
        info = {"artifact_path": EXAMPLE_FILE, "type": "dataframe", "pandas_orient": "split"}
    else:
        if hasattr(example, "detach") and hasattr(example, "numpy"):  # a torch tensor
            example = example.detach().cpu().numpy()
        if isinstance(example, list):
            example = np.asarray(example)
        if not isinstance(example, np.ndarray):
            raise InvalidArgument(f"input_example must be a DataFrame, dict, list of records or "
                                  f"numpy array, got {type(example).__name__}")
        text = json.dumps({"inputs": example.tolist()})
        info = {"artifact_path": EXAMPLE_FILE, "type": "ndarray", "format": "tf-serving",
                "dtype": example.dtype.name}
    (folder / EXAMPLE_FILE).write_text(text)
    return info


def load_input_example(folder: Path, info: dict[str, Any]) -> Any:
    """The example described by ``info`` in model folder ``folder``."""
    import numpy as np
    import pandas as pd

    data = json.loads((folder / info["artifact_path"]).read_text())
    if info.get("type") == "dataframe":
        return pd.DataFrame(data["data"], columns=data["columns"])
    return np.asarray(data["inputs"], dtype=info.get("dtype"))
