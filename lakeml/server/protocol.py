"""MLflow's REST API 2.0 on the wire: reading a request's fields, writing entities as JSON.

Field names are those of MLflow's service.proto. GET requests carry their fields as
query parameters (repeated fields repeat the parameter), POST requests as a JSON
object. int64 fields may come as JSON numbers or as decimal strings (protobuf's JSON
mapping), doubles as numbers or "NaN" / "Infinity" / "-Infinity".
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any, Mapping

from lakeml.errors import BadRequest, InvalidArgument
from lakeml.server.proxy_uris import public

if TYPE_CHECKING:
    from lakeml.entities import Experiment, Metric, Run, RunInfo


class Fields:
    """The fields of one request, with MLflow's checks and messages."""

    def __init__(self, values: Mapping[str, Any], lists: Mapping[str, list[Any]] | None = None
                 ) -> None:
        self._values = values
        self._lists = lists  # GET: every value of a repeated query parameter

    def get(self, name: str, default: Any = None) -> Any:
        value = self._values.get(name)
        return default if value is None or value == "" else value

    def required(self, name: str) -> Any:
        value = self.get(name)
        if value is None:
            raise InvalidArgument(f"Missing value for required parameter '{name}'")
        return value

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.get(name, default)
        if value is not None and not isinstance(value, str):
            raise InvalidArgument(f"parameter '{name}' must be a string, got {value!r:.80}")
        return value

    def required_text(self, name: str) -> str:
        self.required(name)
        return self.text(name)  # type: ignore[return-value]

    def run_id(self) -> str:
        """``run_id``, or the older ``run_uuid`` MLflow's clients still send."""
        value = self.get("run_id") or self.get("run_uuid")
        if value is None:
            raise InvalidArgument("Missing value for required parameter 'run_id'")
        if not isinstance(value, str):
            raise InvalidArgument(f"parameter 'run_id' must be a string, got {value!r:.80}")
        return value

    def integer(self, name: str, default: int | None = None) -> Any:
        """An int64 field: a number, or its decimal string; other values go on to the
        service's checks, which name them."""
        value = self.get(name, default)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise InvalidArgument(f"parameter '{name}' must be an integer, got "
                                      f"{value!r:.80}") from None
        return value

    def number(self, name: str) -> Any:
        """A double field; protobuf's spellings of NaN and infinities become floats."""
        value = self.required(name)
        if isinstance(value, str):
            try:
                return float(value) if value.strip().lower() in _FLOAT_WORDS else value
            except ValueError:
                return value
        return value

    def many(self, name: str) -> list[Any]:
        """A repeated field (a JSON list, or every value of a query parameter)."""
        if self._lists is not None:
            return list(self._lists.get(name, []))
        value = self._values.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise InvalidArgument(f"parameter '{name}' must be a list, got {value!r:.80}")
        return value

    def key_values(self, name: str) -> list[tuple[str, Any]]:
        """A repeated ``{key, value}`` field (tags, params) as pairs."""
        pairs = []
        for item in self.many(name):
            if not isinstance(item, dict) or "key" not in item:
                raise InvalidArgument(f"each of '{name}' must be an object with 'key' and "
                                      f"'value', got {item!r:.80}")
            pairs.append((item["key"], item.get("value")))
        return pairs


_FLOAT_WORDS = {"nan", "infinity", "-infinity", "inf", "-inf"}


def fields_of_query(query: Any) -> Fields:
    """A GET request's fields from its query parameters (Starlette's multi-dict)."""
    values = {key: query.get(key) for key in query.keys()}
    lists = {key: query.getlist(key) for key in query.keys()}
    return Fields(values, lists)


def fields_of_body(raw: bytes) -> Fields:
    """A POST request's fields from its JSON body (empty = no fields)."""
    if not raw.strip():
        return Fields({})
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return Fields(body)


# ---- page tokens of lists the service returns whole --------------------------------------
def page(items: list[Any], max_results: Any, token: str | None, what: str
         ) -> tuple[list[Any], str | None]:
    """A page of ``items`` and the token of the next page (None on the last)."""
    offset = 0
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            offset = int(data["offset"])
            if data.get("of") != what or offset < 0:
                raise ValueError(offset)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidArgument(f"invalid page_token {token!r:.80}") from None
    if max_results is None:
        return items[offset:], None
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidArgument(f"max_results must be a positive integer, got {max_results!r}")
    end = offset + max_results
    if end >= len(items):
        return items[offset:], None
    raw = json.dumps({"offset": end, "of": what}).encode()
    return items[offset:end], base64.urlsafe_b64encode(raw).decode()


# ---- entities as MLflow's JSON -------------------------------------------------------------
def key_value_list(mapping: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value} for key, value in mapping.items()]


def experiment_json(exp: Experiment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "experiment_id": exp.experiment_id, "name": exp.name,
        "artifact_location": public(exp.artifact_location), "lifecycle_stage": exp.lifecycle_stage,
        "tags": key_value_list(exp.tags),
    }
    if exp.creation_time is not None:
        out["creation_time"] = exp.creation_time
    if exp.last_update_time is not None:
        out["last_update_time"] = exp.last_update_time
    return out


def metric_json(metric: Metric) -> dict[str, Any]:
    return {"key": metric.key, "value": _number(metric.value), "timestamp": metric.timestamp,
            "step": metric.step}


def _number(value: float) -> Any:
    """A double as MLflow's server writes it: finite as a number, else its protobuf name."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def run_info_json(info: RunInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": info.run_id, "run_uuid": info.run_id, "experiment_id": info.experiment_id,
        "run_name": info.run_name or "", "user_id": info.user_id or "", "status": info.status,
        "artifact_uri": public(info.artifact_uri), "lifecycle_stage": info.lifecycle_stage,
    }
    if info.start_time is not None:
        out["start_time"] = info.start_time
    if info.end_time is not None:
        out["end_time"] = info.end_time
    return out


def run_json(run: Run) -> dict[str, Any]:
    data = run.data
    if data.latest_metrics:
        metrics = [metric_json(m) for m in data.latest_metrics]
    else:
        metrics = [{"key": k, "value": _number(v), "timestamp": 0, "step": 0}
                   for k, v in data.metrics.items()]
    inputs = []
    for item in run.inputs.dataset_inputs:
        ds = item.dataset
        dataset = {"name": ds.name, "digest": ds.digest, "source_type": ds.source_type,
                   "source": ds.source}
        if ds.schema is not None:
            dataset["schema"] = ds.schema
        if ds.profile is not None:
            dataset["profile"] = ds.profile
        tags = ([{"key": "mlflow.data.context", "value": item.context}]
                if item.context else [])
        inputs.append({"tags": tags, "dataset": dataset})
    return {
        "info": run_info_json(run.info),
        "data": {"metrics": metrics, "params": key_value_list(data.params),
                 "tags": key_value_list(data.tags)},
        "inputs": {"dataset_inputs": inputs},
    }
