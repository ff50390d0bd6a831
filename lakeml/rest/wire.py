"""MLflow's JSON (and lakeml's extensions of it) back into lakeml's entities.

The inverse of the server's writers (lakeml/server/protocol.py, registry.py,
lakeml_api.py): int64 fields may come as numbers or decimal strings, doubles as numbers
or protobuf's "NaN" / "Infinity" / "-Infinity", versions as strings, and an absent
field is its default.
"""

from __future__ import annotations

from typing import Any, Mapping

from lakeml.entities import (
    Comment,
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    TransitionRequest,
)
from lakeml.system_tags import PARENT_RUN_ID

_WORDS = {"nan": float("nan"), "infinity": float("inf"), "-infinity": float("-inf"),
          "inf": float("inf"), "-inf": float("-inf")}


def number(value: Any) -> float:
    """A double from MLflow's JSON."""
    if isinstance(value, str):
        word = _WORDS.get(value.strip().lower())
        return word if word is not None else float(value)
    return float(value)


def wire_number(value: float) -> Any:
    """A double for MLflow's JSON: finite as a number, else its protobuf name."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def integer(value: Any, default: int | None = None) -> int | None:
    """An int64 from MLflow's JSON (a number or its decimal string)."""
    return default if value is None or value == "" else int(value)


def key_values(items: Any) -> dict[str, str]:
    """``[{key, value}, ...]`` as a dict (in order; later keys win)."""
    return {item["key"]: item.get("value", "") for item in items or ()}


def experiment(body: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(body["experiment_id"]), name=body.get("name", ""),
        artifact_location=body.get("artifact_location", ""),
        lifecycle_stage=body.get("lifecycle_stage", "active"),
        tags=key_values(body.get("tags")), creation_time=integer(body.get("creation_time")),
        last_update_time=integer(body.get("last_update_time")))


def metric(body: Mapping[str, Any], run_id: str | None = None) -> Metric:
    return Metric(body["key"], number(body.get("value", 0.0)),
                  integer(body.get("timestamp"), 0), integer(body.get("step"), 0), run_id)


def run_info(body: Mapping[str, Any], parent_run_id: str | None = None) -> RunInfo:
    return RunInfo(
        run_id=body.get("run_id") or body["run_uuid"],
        experiment_id=str(body.get("experiment_id", "")),
        run_name=body.get("run_name") or None, user_id=body.get("user_id") or None,
        status=body.get("status", "RUNNING"), start_time=integer(body.get("start_time")),
        end_time=integer(body.get("end_time")), artifact_uri=body.get("artifact_uri", ""),
        lifecycle_stage=body.get("lifecycle_stage", "active"),
        parent_run_id=body.get("parent_run_id") or parent_run_id)


def run(body: Mapping[str, Any]) -> Run:
    data = body.get("data") or {}
    tags = key_values(data.get("tags"))
    info = run_info(body["info"], tags.get(PARENT_RUN_ID))
    latest = tuple(metric(m, info.run_id) for m in data.get("metrics") or ())
    inputs = []
    for item in (body.get("inputs") or {}).get("dataset_inputs") or ():
        ds = item.get("dataset") or {}
        context = key_values(item.get("tags")).get("mlflow.data.context") or None
        inputs.append(DatasetInput(Dataset(
            name=ds.get("name", ""), digest=ds.get("digest", ""),
            source_type=ds.get("source_type", "local"), source=ds.get("source", ""),
            schema=ds.get("schema"), profile=ds.get("profile")), context))
    return Run(info,
               RunData(metrics={m.key: m.value for m in latest},
                       params=key_values(data.get("params")), tags=tags,
                       latest_metrics=latest),
               RunInputs(tuple(inputs)))


def dataset_input_json(item: DatasetInput) -> dict[str, Any]:
    """A dataset input as MLflow's ``DatasetInput`` JSON (the context is a tag)."""
    ds = item.dataset
    dataset = {"name": ds.name, "digest": ds.digest, "source_type": ds.source_type,
               "source": ds.source, "schema": ds.schema, "profile": ds.profile}
    tags = [{"key": "mlflow.data.context", "value": item.context}] if item.context else []
    return {"tags": tags, "dataset": {k: v for k, v in dataset.items() if v is not None}}


def file_info(body: Mapping[str, Any]) -> FileInfo:
    return FileInfo(body["path"], bool(body.get("is_dir", False)),
                    integer(body.get("file_size")))


# ---- the registry -------------------------------------------------------------------------
def model_version(body: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=body["name"], version=int(body["version"]),
        current_stage=body.get("current_stage", "None"), source=body.get("source", ""),
        storage_location=body.get("storage_location") or body.get("source", ""),
        run_id=body.get("run_id") or None, status=body.get("status", "READY"),
        user_id=body.get("user_id") or None,
        creation_timestamp=integer(body.get("creation_timestamp"), 0),
        last_updated_timestamp=integer(body.get("last_updated_timestamp"), 0),
        description=body.get("description"), tags=key_values(body.get("tags")),
        aliases=list(body.get("aliases") or ()), status_message=body.get("status_message"))


def registered_model(body: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=body["name"], creation_timestamp=integer(body.get("creation_timestamp"), 0),
        last_updated_timestamp=integer(body.get("last_updated_timestamp"), 0),
        description=body.get("description"), tags=key_values(body.get("tags")),
        aliases={a["alias"]: int(a["version"]) for a in body.get("aliases") or ()},
        latest_versions=[model_version(mv) for mv in body.get("latest_versions") or ()])


def transition_request(body: Mapping[str, Any]) -> TransitionRequest:
    return TransitionRequest(
        request_id=body["request_id"], name=body["name"], version=int(body["version"]),
        stage=body["stage"], requested_by=body.get("requested_by"),
        requested_at=integer(body.get("requested_at"), 0), comment=body.get("comment"),
        status=body["status"], resolved_by=body.get("resolved_by"),
        resolved_at=integer(body.get("resolved_at")),
        resolution_comment=body.get("resolution_comment"))


def comment(body: Mapping[str, Any]) -> Comment:
    return Comment(comment_id=body["comment_id"], name=body["name"],
                   version=int(body["version"]), comment=body["comment"],
                   user_id=body.get("user_id"), timestamp=integer(body.get("timestamp"), 0))
