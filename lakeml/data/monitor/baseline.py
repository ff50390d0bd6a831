"""Which data a model's traffic is compared with, loaded exactly.

``training`` (the default) is the dataset the model's run logged with context
``training`` (else its only loadable input); a run id (or ``runs:/<id>``) is that run's
training dataset; anything else is a Delta table URI, ``URI@VERSION`` for an exact
version, or Parquet/CSV files. Datasets logged with :func:`lakeml.data.from_delta` are
read back at their logged version by :func:`lakeml.data.load`, whatever happened to
the table since.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from lakeml.errors import InvalidArgument, NotFound, NotSupported

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.client import Client
    from lakeml.entities import DatasetInput

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def load_baseline(spec: str, *, run_id: str | None, client: Client) -> tuple[pa.Table, str]:
    """(the baseline data, a description naming it) for ``spec`` (see the module)."""
    from lakeml.data.load import load

    text = (spec or "training").strip()
    if text == "training" or _RUN_ID.match(text) or text.startswith("runs:/"):
        source_run = run_id if text == "training" else text.removeprefix("runs:/").split("/")[0]
        if not source_run:
            raise InvalidArgument("--baseline training needs a model logged by a run; this "
                                  "model has no run: give --baseline DATASET")
        chosen = training_input(client, source_run)
        table = load(chosen, format="arrow")
        ds = chosen.dataset
        return table, f"{ds.name} ({ds.source_type} {ds.digest}, run {source_run})"
    return _load_location(text)


def training_input(client: Client, run_id: str) -> DatasetInput:
    """The run's input with context ``training``, else its one loadable input."""
    from lakeml.entities.dataset import DELTA_SOURCE

    run = client.get_run(run_id)
    inputs = list(run.inputs.dataset_inputs) if run.inputs else []
    training = [i for i in inputs if (i.context or "").lower() == "training"]
    loadable = [i for i in inputs if i.dataset.source_type == DELTA_SOURCE
                or i.dataset.source_spec().get("format") in ("parquet", "csv")]
    chosen = training or (loadable if len(loadable) == 1 else [])
    if not chosen:
        names = [f"{i.dataset.name} ({i.context})" for i in inputs] or ["none"]
        raise NotFound(f"run {run_id} logged no training dataset to compare with (its "
                       f"inputs: {', '.join(names)}); log one with lakeml.data.from_delta "
                       "and context='training', or give --baseline DATASET")
    return chosen[0]


def _load_location(text: str) -> tuple[pa.Table, str]:
    from lakeml.data.delta import from_delta
    from lakeml.data.files import from_files
    from lakeml.data.load import load

    path, version = text, None
    if "@" in text:
        path, _, tail = text.rpartition("@")
        version = int(tail) if tail.isdigit() else tail
    local = "://" not in path
    if local and not os.path.exists(path):
        raise NotFound(f"--baseline {text!r}: no such table or file; give 'training', a run "
                       "id, a Delta table URI[@VERSION] or Parquet/CSV files")
    if local and os.path.isdir(os.path.join(path, "_delta_log")) or version is not None:
        ds = from_delta(path, version=version, profile=False)
    else:
        try:
            ds = from_files(path, profile=False)
        except NotSupported as exc:
            raise InvalidArgument(f"--baseline {text!r}: {exc}") from None
    return load(ds, format="arrow"), f"{ds.name} ({ds.source_type} {ds.digest})"
