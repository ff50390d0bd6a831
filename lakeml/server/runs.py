"""``/api/2.0/mlflow/runs/...`` and ``metrics/get-history``: MLflow's run calls."""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lakeml.entities import Metric, Param, RunInfo, RunStatus, RunTag, ViewType
from lakeml.errors import InvalidArgument
from lakeml.server.journal_writes import JOURNAL, RUN_FORGETTERS
from lakeml.server.protocol import metric_json, page, run_info_json, run_json
from lakeml.system_tags import USER
from lakeml.times import now_ms
from lakeml.tracking.owners import OWNER_TAG

if TYPE_CHECKING:
    from lakeml.client import Client
    from lakeml.server.protocol import Fields


REMOTE_OWNER = "remote"

#: How many runs' infos a worker keeps to answer runs/update without reading the run.
KNOWN_RUNS = 10_000
_known: weakref.WeakKeyDictionary[Any, OrderedDict[str, RunInfo]] = \
    weakref.WeakKeyDictionary()


def _remember(client: Client, info: RunInfo) -> RunInfo:
    known = _known.setdefault(client, OrderedDict())
    known[info.run_id] = info
    known.move_to_end(info.run_id)
    while len(known) > KNOWN_RUNS:
        known.popitem(last=False)
    return info


def forget_run(client: Client, run_id: str) -> None:
    """Drop the run's kept info after a change that runs/update does not apply to it (or
    a change that did not happen: a journaled write whose append failed)."""
    known = _known.get(client)
    if known is not None:
        known.pop(run_id, None)



RUN_FORGETTERS.append(forget_run)


def _run_info(client: Client, run_id: str) -> RunInfo:
    """The run's info as this worker made or last changed it, else as read (a read of the
    whole run costs tens of ms under the worker's lock; runs/update answers with the
    info, so MLflow's end_run would otherwise pay it for every run)."""
    known = _known.get(client)
    info = known.get(run_id) if known is not None else None
    if info is not None:
        return info
    from lakeml.server.journal_writes import journal_of

    journal = journal_of(client)
    if journal is not None:  # a run another worker made: acknowledged writes first
        journal.wait_committed()
    return _remember(client, client.get_run(run_id).info)


def create(client: Client, f: Fields) -> dict[str, Any]:
    tags = dict(f.key_values("tags"))
    user = f.text("user_id")
    if user and USER not in tags:
        tags[USER] = user
    # The run's process is the caller's, not the server's: an owner this host cannot check,
    # so `lakeml runs cleanup --stale` ends it only after --older-than without a sign of
    # life, never because the server restarted.
    tags[OWNER_TAG] = REMOTE_OWNER
    run = client.create_run(f.text("experiment_id", "0"), start_time=f.integer("start_time"),
                            tags=tags, run_name=f.text("run_name"))
    # the new run as made, not read back: reads in the server see commits only, and the
    # server commits this run's rows after the handler (lakeml/server/group_commit.py)
    _remember(client, run.info)
    from lakeml.server.rules import remember_experiment_of_run

    remember_experiment_of_run(run.info.run_id, run.info.experiment_id)
    return {"run": run_json(run)}


def get(client: Client, f: Fields) -> dict[str, Any]:
    return {"run": run_json(client.get_run(f.run_id()))}


def update(client: Client, f: Fields) -> dict[str, Any]:
    run_id = f.run_id()
    status, end_time, name = f.text("status"), f.integer("end_time"), f.text("run_name")
    # known or read before writing (reads in the server see commits only; the server
    # commits this request's rows after the handler), then answered with the changes
    # applied. A name another worker gave the run since this one knew it is not echoed.
    info = _run_info(client, run_id)
    if status in RunStatus.TERMINAL:
        end_time = now_ms() if end_time is None else end_time
        client.set_terminated(run_id, status, end_time=end_time)
        if name:
            client.update_run(run_id, name=name)
        info = replace(info, status=status, end_time=end_time)
    else:  # RUNNING, SCHEDULED, a bad status (refused by the service), or only a name
        client.update_run(run_id, status=status, name=name)
        info = replace(info, status=status or info.status)
    info = _remember(client, replace(info, run_name=name or info.run_name))
    return {"run_info": run_info_json(info)}


def delete(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_run(f.run_id())
    forget_run(client, f.run_id())
    return {}


def restore(client: Client, f: Fields) -> dict[str, Any]:
    client.restore_run(f.run_id())
    forget_run(client, f.run_id())
    return {}


def search(client: Client, f: Fields) -> dict[str, Any]:
    experiment_ids = f.many("experiment_ids")
    if not experiment_ids:
        raise InvalidArgument("Missing value for required parameter 'experiment_ids'")
    result = client.search_runs(
        [str(e) for e in experiment_ids], filter_string=f.text("filter", ""),
        run_view_type=f.get("run_view_type", ViewType.ACTIVE_ONLY),
        max_results=f.integer("max_results", 1000), order_by=f.many("order_by") or None,
        page_token=f.text("page_token"))
    out: dict[str, Any] = {"runs": [run_json(run) for run in result]}
    if result.token:
        out["next_page_token"] = result.token
    return out


def log_metric(client: Client, f: Fields) -> dict[str, Any]:
    client.log_metric(f.run_id(), f.required_text("key"), f.number("value"),
                      timestamp=f.integer("timestamp", now_ms()), step=f.integer("step", 0))
    return {}


def log_param(client: Client, f: Fields) -> dict[str, Any]:
    key = f.required_text("key")
    client.log_param(f.run_id(), key, _scalar(f.get("value", ""), f"param {key!r}"))
    return {}


def set_tag(client: Client, f: Fields) -> dict[str, Any]:
    key = f.required_text("key")
    client.set_tag(f.run_id(), key, _scalar(f.get("value", ""), f"tag {key!r}"))
    forget_run(client, f.run_id())  # (the tag may be the run's name)
    return {}


def delete_tag(client: Client, f: Fields) -> dict[str, Any]:
    client.delete_tag(f.run_id(), f.required_text("key"))
    return {}


#: MLflow's limits of one log-batch request (its server refuses more, and so does this one).
MAX_BATCH_METRICS, MAX_BATCH_PARAMS_OR_TAGS, MAX_BATCH_ENTITIES = 1000, 100, 1000


def _check_batch_size(f: Fields) -> None:
    sizes = {what: len(f.many(what)) for what in ("metrics", "params", "tags")}
    for what, limit in (("metrics", MAX_BATCH_METRICS), ("params", MAX_BATCH_PARAMS_OR_TAGS),
                        ("tags", MAX_BATCH_PARAMS_OR_TAGS)):
        if sizes[what] > limit:
            raise InvalidArgument(f"a log-batch request may hold at most {limit} {what}; got "
                                  f"{sizes[what]}: split them across several requests")
    if sum(sizes.values()) > MAX_BATCH_ENTITIES:
        raise InvalidArgument(f"a log-batch request may hold at most {MAX_BATCH_ENTITIES} "
                              f"metrics, params and tags together; got {sum(sizes.values())}")


def _scalar(value: Any, what: str) -> Any:
    """A param or tag value as sent: a string (or a number or boolean, which MLflow's
    clients never send but a hand-written request may); never a JSON object or list."""
    if isinstance(value, (dict, list)):
        raise InvalidArgument(f"the value of {what} must be a string, got {value!r:.80}")
    return "" if value is None else value


def log_batch(client: Client, f: Fields) -> dict[str, Any]:
    _check_batch_size(f)
    metrics = []
    now = now_ms()
    for item in f.many("metrics"):
        if not isinstance(item, dict):
            raise InvalidArgument(f"each of 'metrics' must be an object, got {item!r:.80}")
        point = _fields(item)
        metrics.append(Metric(point.required_text("key"), point.number("value"),
                              point.integer("timestamp", now), point.integer("step", 0)))
    params = [Param(k, _scalar(v, f"param {k!r}")) for k, v in f.key_values("params")]
    tags = [RunTag(k, _scalar(v, f"tag {k!r}")) for k, v in f.key_values("tags")]
    client.log_batch(f.run_id(), metrics=metrics, params=params, tags=tags)
    if tags:
        forget_run(client, f.run_id())  # (a tag may be the run's name)
    return {}


def _fields(item: dict[str, Any]) -> Fields:
    from lakeml.server.protocol import Fields

    return Fields(item)


def get_history(client: Client, f: Fields) -> dict[str, Any]:
    run_id = f.run_id()
    points = client.get_metric_history(run_id, f.required_text("metric_key"))
    if not points:
        client.get_run(run_id)  # MLflow answers 404 for an unknown run, not an empty list
    shown, token = page(list(points), f.integer("max_results"), f.text("page_token"),
                        "metric-history")
    out: dict[str, Any] = {"metrics": [metric_json(m) for m in shown]}
    if token:
        out["next_page_token"] = token
    return out


#: (method, path under /api/2.0/mlflow, handler, writes); JOURNAL: a write acknowledged
#: once journaled (journal_writes.py); delete-tag reads the run's tags, so it waits
ROUTES = (
    ("POST", "/runs/create", create, JOURNAL),
    ("GET", "/runs/get", get, False),
    ("POST", "/runs/update", update, JOURNAL),
    ("POST", "/runs/delete", delete, JOURNAL),
    ("POST", "/runs/restore", restore, JOURNAL),
    ("POST", "/runs/search", search, False),
    ("POST", "/runs/log-metric", log_metric, JOURNAL),
    ("POST", "/runs/log-parameter", log_param, JOURNAL),
    ("POST", "/runs/set-tag", set_tag, JOURNAL),
    ("POST", "/runs/delete-tag", delete_tag, True),
    ("POST", "/runs/log-batch", log_batch, JOURNAL),
    ("GET", "/metrics/get-history", get_history, False),
)
