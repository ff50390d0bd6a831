"""lakeml's extensions of the REST API, under ``/api/2.0/lakeml/...``.

What lakeml's services offer and MLflow's REST API lacks, so that lakeml's REST client
(lakeml/rest/) covers the whole of the services' protocols:

- runs: search with lakeml's full filter grammar (OR, parentheses; the page shape of
  MLflow's ``runs/search``), the wide search table, create with a parent, update and
  end with the lake's exact rules, the writable check, the newest-first listing,
  dataset inputs, bulk logging of runs, metric histories and the REST client's big
  flushes of metric points (one Arrow request and one commit, not one per 1,000 points);
- experiments: the active-experiment check, deleting an experiment tag;
- read-only SQL (``POST /sql`` {query, params, as_of, format: "json" | "arrow"}) through
  the Client's sandboxed ``sql``; its errors are INVALID_PARAMETER_VALUE with the message;
- analytics (leaderboard, best runs, metric by param, param diff, many histories);
- the registry's extras (lakeml/server/lakeml_registry.py): transition requests,
  comments, audit events, bulk registration, permission checks, the registry as of a
  past time.

Requests carry MLflow-style JSON (or query parameters for GET). Tables go out as Arrow
IPC streams (``application/vnd.apache.arrow.stream``); bulk writes take theirs as a
base64 Arrow IPC stream in the JSON field ``arrow``. Every JSON route, writes included,
is served by the app's own endpoint (app.py: one Client call at a time, a write answered
after its commit); the table reads by :func:`_table_endpoint`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from lakeml.entities import Dataset, DatasetInput, ViewType
from lakeml.errors import InvalidArgument, LakemlError
from lakeml.rest.http import arrow_field
from lakeml.server import experiments, lakeml_registry, runs
from lakeml.server.protocol import experiment_json, run_info_json, run_json
from lakeml.system_tags import USER
from lakeml.tracking.owners import OWNER_TAG

if TYPE_CHECKING:
    import threading

    import pyarrow as pa
    from fastapi import FastAPI, Request
    from starlette.responses import Response

    from lakeml.client import Client
    from lakeml.server.protocol import Fields

PREFIX = "/api/2.0/lakeml"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


# ---- runs ------------------------------------------------------------------------------------
def create_run(client: Client, f: Fields) -> dict[str, Any]:
    tags = dict(f.key_values("tags"))
    user = f.text("user_id")
    if user and USER not in tags:
        tags[USER] = user
    tags[OWNER_TAG] = runs.REMOTE_OWNER  # the caller's process: see runs.create
    run = client.create_run(f.text("experiment_id"), start_time=f.integer("start_time"),
                            tags=tags, run_name=f.text("run_name"),
                            parent_run_id=f.text("parent_run_id"))
    return {"run": run_json(run)}  # as made (the server commits it after the handler)


def update_run(client: Client, f: Fields) -> dict[str, Any]:
    client.update_run(f.run_id(), status=f.get("status"), name=f.get("run_name"))
    return {}


def set_terminated(client: Client, f: Fields) -> dict[str, Any]:
    client.set_terminated(f.run_id(), f.get("status", "FINISHED"),
                          end_time=f.integer("end_time"))
    return {}


def check_writable(client: Client, f: Fields) -> dict[str, Any]:
    client.check_run_writable(f.run_id())
    return {}


def list_runs(client: Client, f: Fields) -> dict[str, Any]:
    infos = client.list_runs(f.required_text("experiment_id"),
                             view_type=f.get("view_type", ViewType.ACTIVE_ONLY),
                             max_results=f.integer("max_results"))
    return {"runs": [run_info_json(info) | {"parent_run_id": info.parent_run_id}
                     for info in infos]}


def log_inputs(client: Client, f: Fields) -> dict[str, Any]:
    datasets = []
    for item in f.many("datasets"):
        ds = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(ds, dict):
            raise InvalidArgument(f"each of 'datasets' must be an object with a 'dataset', "
                                  f"got {item!r:.80}")
        context = next((t.get("value") for t in item.get("tags") or ()
                        if isinstance(t, dict) and t.get("key") == "mlflow.data.context"),
                       None)
        datasets.append(DatasetInput(Dataset(
            ds.get("name"), ds.get("digest"), ds.get("source_type", "local"),
            ds.get("source", ""), ds.get("schema"), ds.get("profile")), context))
    client.log_inputs(f.run_id(), datasets)
    return {}


# ---- experiments, store --------------------------------------------------------------------
def get_active_experiment(client: Client, f: Fields) -> dict[str, Any]:
    return {"experiment": experiment_json(client.active_experiment(
        f.required_text("experiment_id")))}


def store_versions(client: Client, f: Fields) -> dict[str, Any]:
    return {"versions": client.store_versions()}


# ---- tables out: search table, analytics, SQL -------------------------------------------
def search_table(client: Client, f: Fields) -> Any:
    return client.search_runs_table(
        [str(e) for e in f.many("experiment_ids")], filter_string=f.text("filter", ""),
        run_view_type=f.get("run_view_type", ViewType.ACTIVE_ONLY),
        max_results=f.integer("max_results"), order_by=f.many("order_by") or None,
        columns=f.many("columns") if f.get("columns") is not None else None)


def metric_histories(client: Client, f: Fields) -> Any:
    return _frame(client.get_metric_histories(f.many("run_ids"),
                                              f.many("keys") if f.get("keys") else None))


def leaderboard(client: Client, f: Fields) -> Any:
    return _frame(client.leaderboard(
        f.required_text("experiment_id"), f.required_text("metric"),
        ascending=_flag(f, "ascending", True), max_results=f.integer("max_results", 10)))


def best_runs(client: Client, f: Fields) -> Any:
    return _frame(client.best_runs(f.required_text("experiment_id"), f.required_text("metric"),
                                   f.required_text("group_by"),
                                   ascending=_flag(f, "ascending", True)))


def metric_by_param(client: Client, f: Fields) -> Any:
    return _frame(client.metric_by_param(f.required_text("experiment_id"),
                                         f.required_text("metric"), f.required_text("param")))


def param_diff(client: Client, f: Fields) -> Any:
    return _frame(client.param_diff(f.many("run_ids"),
                                    all_params=_flag(f, "all_params", False)))


def lineage(client: Client, f: Fields) -> Any:
    """The edges Client.get_lineage finds, as a table (src, dst, kind, detail, time,
    depth)."""
    import pyarrow as pa

    edges = client.get_lineage(f.required_text("uri"), f.get("direction", "upstream"),
                               f.get("depth", 10))
    return pa.table({name: [getattr(e, name) for e in edges] for name in LINEAGE_COLUMNS},
                    schema=LINEAGE_SCHEMA())


LINEAGE_COLUMNS = ("src", "dst", "kind", "detail", "time", "depth")


def LINEAGE_SCHEMA() -> Any:  # noqa: N802 - a constant, made late (pyarrow loads late)
    import pyarrow as pa

    return pa.schema([("src", pa.string()), ("dst", pa.string()), ("kind", pa.string()),
                      ("detail", pa.string()), ("time", pa.timestamp("us", tz="UTC")),
                      ("depth", pa.int64())])


def sql(client: Client, f: Fields) -> Any:
    """Read-only SQL; a refused or failing query is INVALID_PARAMETER_VALUE, its message."""
    form = f.get("format", "json")
    if form not in ("json", "arrow"):
        raise InvalidArgument(f"format must be 'json' or 'arrow', got {form!r:.80}")
    import duckdb

    query = f.required("query")
    try:
        table = _arrow_of(client.sql(query, f.get("params"), as_of=f.get("as_of")))
    except duckdb.Error as exc:  # the query's fault (a syntax error...), not the server's
        raise InvalidArgument(f"{type(exc).__name__}: {exc}") from None
    return table if form == "arrow" else rows_json(table)


def rows_json(table: pa.Table) -> dict[str, Any]:
    """A table as JSON: its schema (name and Arrow type per column) and its rows as lists.

    Values JSON lacks are written as text: times in ISO 8601, decimals and other
    scalars as their string, bytes as hex; NaN and infinities as MLflow writes them.
    """
    schema = {"fields": [{"name": field.name, "type": str(field.type)}
                         for field in table.schema]}
    columns = [[_json_value(v) for v in column.to_pylist()] for column in table.columns]
    return {"schema": schema, "rows": [list(row) for row in zip(*columns)]}


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return value if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


# ---- tables in: bulk logging -------------------------------------------------------------
def log_runs(client: Client, f: Fields) -> dict[str, Any]:
    tags = f.get("tags")
    if tags is not None and not isinstance(tags, dict):
        raise InvalidArgument(f"parameter 'tags' must be an object, got {tags!r:.80}")
    return {"run_ids": client.log_runs(f.required_text("experiment_id"),
                                       arrow_field(f.get("arrow")), tags=tags)}


def log_metrics(client: Client, f: Fields) -> dict[str, Any]:
    """Metric points of running runs (run_id, key, value, timestamp ms, step), in bulk: the
    REST client's flush of many points. Points of a run that does not take log calls are
    left out, each such run named in ``refused`` with its error; the rest are stored."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = arrow_field(f.get("arrow"))
    if "run_id" not in table.column_names:
        raise InvalidArgument(f"log-metrics takes columns run_id, key, value, timestamp, "
                              f"step; got {table.column_names}")
    refused = []
    for run_id in pc.unique(table["run_id"]).to_pylist():
        try:
            client.check_run_writable(run_id)
        except LakemlError as exc:
            refused.append({"run_id": run_id, **exc.to_dict()})
    if refused:
        table = table.filter(pc.invert(pc.is_in(
            table["run_id"], pa.array([r["run_id"] for r in refused], pa.string()))))
    count = client.log_metric_histories(table) if table.num_rows else 0
    return {"count": count, "refused": refused}


def log_histories(client: Client, f: Fields) -> dict[str, Any]:
    return {"count": client.log_metric_histories(arrow_field(f.get("arrow")))}


# ---- helpers ------------------------------------------------------------------------------
def _flag(f: Fields, name: str, default: bool) -> bool:
    value = f.get(name, default)
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _frame(frame: Any) -> pa.Table:
    """A pandas DataFrame as Arrow, its index kept in the metadata (to_pandas restores it)."""
    import pyarrow as pa

    return pa.Table.from_pandas(frame)


def _arrow_of(relation: Any) -> pa.Table:
    to_table = getattr(relation, "to_arrow_table", None)
    return to_table() if callable(to_table) else relation.arrow()


#: (method, path under /api/2.0/lakeml, handler, writes): JSON in, JSON out.
ROUTES = (
    ("POST", "/runs/search", runs.search, False),
    ("POST", "/runs/create", create_run, True),
    ("POST", "/runs/update", update_run, True),
    ("POST", "/runs/set-terminated", set_terminated, True),
    ("GET", "/runs/check-writable", check_writable, False),
    ("GET", "/runs/list", list_runs, False),
    ("POST", "/runs/log-inputs", log_inputs, True),
    ("GET", "/experiments/get-active", get_active_experiment, False),
    ("POST", "/experiments/delete-tag", experiments.delete_tag, True),  # (MLflow's came later)
    ("GET", "/store-versions", store_versions, False),
    ("POST", "/runs/log-runs", log_runs, True),
    ("POST", "/runs/log-metrics", log_metrics, True),
    ("POST", "/metrics/log-histories", log_histories, True),
    *lakeml_registry.ROUTES,
)

#: (path under /api/2.0/lakeml, handler): reads, POST with a JSON body; the handler
#: answers an Arrow table (sent as an IPC stream) or, for SQL's JSON format, a dict.
TABLE_ROUTES = (
    ("/sql", sql),
    ("/runs/search-table", search_table),
    ("/analytics/metric-histories", metric_histories),
    ("/analytics/leaderboard", leaderboard),
    ("/analytics/best-runs", best_runs),
    ("/analytics/metric-by-param", metric_by_param),
    ("/analytics/param-diff", param_diff),
    ("/analytics/lineage", lineage),
)


def install(app: FastAPI, client: Client, lock: threading.Lock,
            endpoint: Callable[..., Any], guard: Callable[..., Any] | None = None) -> None:
    """Add lakeml's routes to ``app``: the JSON ones through the app's ``endpoint``
    factory (app.py's ``_endpoint(client, lock, method, handler, writes)``: a write is
    answered after its commit), the table reads through :func:`_table_endpoint`.

    ``guard(method, path, handler)``, when given, wraps every handler (the server's
    permission check), with ``path`` the full path (``/api/2.0/lakeml/...``)."""
    for method, path, handler, writes in ROUTES:
        if guard is not None:
            handler = guard(method, PREFIX + path, handler)
        app.add_route(PREFIX + path, endpoint(client, lock, method, handler, writes),
                      methods=[method], name=f"lakeml {method} {path}")
    for path, handler in TABLE_ROUTES:
        if guard is not None:
            handler = guard("POST", PREFIX + path, handler)
        app.add_route(PREFIX + path, _table_endpoint(client, lock, handler),
                      methods=["POST"], name=f"lakeml POST {path}")


def _table_endpoint(client: Client, lock: threading.Lock,
                    handler: Callable[[Client, Fields], Any]) -> Callable[[Request], Any]:
    """A read whose answer is a table: an Arrow IPC stream (or JSON when the handler
    answers a dict); errors in MLflow's shape."""
    import logging

    from starlette.concurrency import run_in_threadpool

    from lakeml.server.errors import error_response, internal_error_response
    from lakeml.server.journal_writes import journal_of
    from lakeml.server.protocol import fields_of_body

    log = logging.getLogger("lakeml.server")
    journal = journal_of(client)

    def call(fields: Fields) -> Any:
        if journal is not None:  # every write acknowledged before is in Delta first
            journal.wait_committed()
        with lock:
            return handler(client, fields)

    async def endpoint(request: Request) -> Response:
        from fastapi.responses import JSONResponse
        from starlette.responses import Response

        try:
            out = await run_in_threadpool(call, fields_of_body(await request.body()))
            if isinstance(out, dict):
                return JSONResponse(out)
            from lakeml.rest.http import write_arrow

            return Response(write_arrow(out), media_type=ARROW_STREAM)
        except LakemlError as exc:
            return error_response(exc.error_code, exc.message, exc.http_status)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return internal_error_response()

    endpoint.__name__ = handler.__name__
    return endpoint
