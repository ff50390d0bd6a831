"""What a run used and made: ``runs/log-inputs``, ``runs/log-model`` and ``runs/outputs``.

- ``log-inputs``: datasets (name, digest, source type, source, schema, profile) and
  their ``mlflow.data.context`` tag become lakeml's run inputs (the ``inputs`` table).
  Logged-model inputs are checked to exist; lakeml keeps no record of them.
- ``log-model`` (MLflow 2's record of a model logged into a run): the MLmodel JSON gets
  the lineage row lakeml's own ``log_model`` writes (``logged_models``).
- ``outputs`` (MLflow 3): a run names the logged models it produced. The link lakeml
  keeps is the model's ``source_run_id``, set when the model was created; outputs are
  checked (the run writable, every model existing) and otherwise not recorded.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from lakeml.entities import Dataset, DatasetInput
from lakeml.errors import InvalidArgument
from lakeml.models import logged
from lakeml.models.lineage import record_logged_model

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.protocol import Fields

CONTEXT_TAG = "mlflow.data.context"
_REQUIRED_MODEL_FIELDS = ("artifact_path", "flavors", "utc_time_created", "run_id")


def _object(item: Any, what: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise InvalidArgument(f"each of '{what}' must be an object, got {item!r:.80}")
    return item


def _dataset_input(item: Any) -> DatasetInput:
    from lakeml.server.protocol import Fields

    entry = Fields(_object(item, "datasets"))
    ds = Fields(_object(entry.required("dataset"), "datasets[].dataset"))
    context = dict(entry.key_values("tags")).get(CONTEXT_TAG)
    return DatasetInput(Dataset(ds.required_text("name"), ds.required_text("digest"),
                                ds.text("source_type") or "local", ds.text("source") or "",
                                ds.text("schema"), ds.text("profile")), context)


def log_inputs(client: Client, f: Fields) -> dict[str, Any]:
    run_id = f.run_id()
    datasets = [_dataset_input(item) for item in f.many("datasets")]
    for item in f.many("models"):
        logged.get(client, _object(item, "models").get("model_id"))
    if datasets:
        client.log_inputs(run_id, datasets)
    else:
        client.check_run_writable(run_id)
    return {}


def log_model(client: Client, f: Fields) -> dict[str, Any]:
    run_id = f.run_id()
    text = f.required_text("model_json")
    try:
        model = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"model_json is not valid JSON: {text!r:.120}") from None
    if not isinstance(model, dict):
        raise InvalidArgument(f"model_json must be a JSON object, got {text!r:.120}")
    missing = [name for name in _REQUIRED_MODEL_FIELDS if name not in model]
    if missing:
        raise InvalidArgument(f"model_json lacks the fields {missing}")
    from lakeml.models.descriptor import Model

    client.check_run_writable(run_id)
    meta = Model.from_dict(model)
    record_logged_model(client, run_id, model["artifact_path"], meta=meta)
    return {}


def log_outputs(client: Client, f: Fields) -> dict[str, Any]:
    run_id = f.run_id()
    client.check_run_writable(run_id)
    models = f.many("models")
    if not models:
        raise InvalidArgument("Missing value for required parameter 'models'")
    for item in models:
        logged.get(client, _object(item, "models").get("model_id"))
    return {}


#: (method, path under /api/2.0/mlflow, handler, writes)
ROUTES = (
    ("POST", "/runs/log-inputs", log_inputs, True),
    ("POST", "/runs/log-model", log_model, True),
    ("POST", "/runs/outputs", log_outputs, True),
)
