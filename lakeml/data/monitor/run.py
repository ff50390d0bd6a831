"""``lakeml monitor run``: a model's logged traffic, window by window, against a baseline.

:func:`run_monitor` resolves the model (a ``models:/`` URI is pinned to one version),
loads the baseline (:mod:`lakeml.data.monitor.baseline`), reduces it to a
:class:`~lakeml.data.monitor.reference.Reference`, counts each window of the
``inference_log`` rows of that model version (DuckDB by default; jobs/monitor.py
passes a Spark counter), turns counts into statistics with thresholds
(:mod:`lakeml.data.monitor.metrics`), adds quality once labels exist
(:mod:`lakeml.data.monitor.quality`), and writes everything to ``monitor_metrics``,
where a re-run of a window replaces that window's rows (:func:`write_metrics`).
``--since``/``--until`` round out to whole windows (:func:`whole_windows`), so that
replacement never swaps a complete window for a part of it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from lakeml.data.monitor import metrics as M
from lakeml.data.monitor.quality import labelled_pairs, quality
from lakeml.data.monitor.reference import PREDICTION_SAMPLE, Reference, reference_of
from lakeml.data.monitor.windows import WindowCounts, count_windows_duckdb, window_us
from lakeml.errors import InvalidArgument
from lakeml.store import open_tables

if TYPE_CHECKING:
    import pyarrow as pa

Counter = Callable[..., list[WindowCounts]]


@dataclass
class ModelUnderWatch:
    """The model version monitored: its registry identity, run and signature types."""

    uri: str
    name: str
    version: int | None
    run_id: str | None
    features: dict[str, str | None]
    model: Any = None  # the loaded pyfunc model (to score the baseline)


@dataclass
class MonitorResult:
    """What one monitor run computed: every metric row, and the alerting ones."""

    model_name: str
    model_version: int | None
    baseline: str
    windows: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["alert"]]


def resolve_model(model_uri: str) -> ModelUnderWatch:
    """The model version ``model_uri`` names now, with its signature's input columns."""
    from lakeml.models.pyfunc_model import load_model

    if not str(model_uri).startswith("models:/"):
        raise InvalidArgument(f"--model {model_uri!r}: monitor a registered model, "
                              "models:/NAME@ALIAS or models:/NAME/VERSION")
    from lakeml.models.registration import resolve_models_uri

    registered = resolve_models_uri(model_uri)
    pinned = f"models:/{registered.name}/{registered.version}"
    model = load_model(pinned)
    schema = model.metadata.input_schema
    if schema is None or schema.is_tensor or not schema.has_names:
        raise InvalidArgument(f"model {pinned} has no column signature; the monitor "
                              "compares named input columns (log the model with a "
                              "signature)")
    features = {spec.name: spec.type for spec in schema.specs}
    return ModelUnderWatch(pinned, registered.name, int(registered.version),
                           registered.run_id or model.metadata.run_id, features, model)


def parse_since(text: str | None, now_us: int) -> int | None:
    """Microseconds since the epoch of ``--since``: an ISO time (naive = UTC) or a
    duration back from now (``24h``, ``7d``)."""
    if text is None:
        return None
    if re.fullmatch(r"\s*\d+\s*[smhdw]\s*", text):
        return now_us - window_us(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"--since {text!r} is neither an ISO-8601 time nor a "
                              "duration such as 24h or 7d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1_000_000)


def baseline_predictions(watch: ModelUnderWatch, data: pa.Table) -> pa.Table | None:
    """The model's predictions on (a repeatable sample of) the baseline, named as the
    inference log names them."""
    import pyarrow as pa

    from lakeml.models.inference_log import output_frame

    missing = [f for f in watch.features if f not in data.column_names]
    if missing or watch.model is None:
        return None
    if data.num_rows > PREDICTION_SAMPLE:
        pick = np.sort(np.random.default_rng(0).choice(data.num_rows, PREDICTION_SAMPLE,
                                                       replace=False))
        data = data.take(pa.array(pick))
    frame = data.select(list(watch.features)).to_pandas()
    return pa.Table.from_pandas(output_frame(watch.model.predict(frame)),
                                preserve_index=False)


def build_reference(watch: ModelUnderWatch, baseline: str = "training", *,
                    client: Any = None) -> Reference:
    """The reference of ``watch``'s baseline (its inputs and its predictions)."""
    from lakeml.data.monitor.baseline import load_baseline

    if client is None:
        from lakeml import config
        from lakeml.client import Client

        client = Client(config.store_uri())
    data, description = load_baseline(baseline, run_id=watch.run_id, client=client)
    return reference_of(data, watch.features, description,
                        predictions=baseline_predictions(watch, data))


def run_monitor(model_uri: str, *, baseline: str = "training", window: str = "1d",
                since: str | None = None, until: str | None = None,
                thresholds: dict[str, float] | None = None, min_rows: int = 100,
                store: str | None = None, counter: Counter | None = None,
                pairer: Callable[..., dict] | None = None,
                write: bool = True) -> MonitorResult:
    """Monitor ``model_uri``'s logged traffic since ``since`` in windows of ``window``
    against ``baseline``; write the metrics to ``monitor_metrics`` (replacing those of an
    earlier run of the same windows and baseline) unless ``write`` is False. ``counter``
    counts windows and ``pairer`` joins labels to predictions
    (default: DuckDB over the tables' files; jobs/monitor.py passes Spark's).

    Example:
        >>> result = run_monitor("models:/churn@champion", window="1h")  # doctest: +SKIP
        >>> [(a["feature"], a["statistic"]) for a in result.alerts]      # doctest: +SKIP
    """
    from lakeml import config

    store_uri = store or config.store_uri()
    options = config.storage_options() or None
    width = window_us(window)
    now = int(time.time() * 1_000_000)
    since_us, until_us = whole_windows(parse_since(since, now), parse_since(until, now),
                                       width)
    if min_rows < 1:
        raise InvalidArgument(f"min rows must be >= 1, got {min_rows}")
    limits = M.thresholds(thresholds, conf_thresholds())
    watch = resolve_model(model_uri)
    reference = build_reference(watch, baseline)
    log_schema = open_tables.schema(store_uri, open_tables.INFERENCE_LOG, options)
    log_types = {} if log_schema is None else {f.name: str(f.type) for f in log_schema}
    files = open_tables.readable_files(store_uri, open_tables.INFERENCE_LOG, options)
    count = counter or count_windows_duckdb
    windows = count(files, reference, model_name=watch.name, model_version=watch.version,
                    width_us=width, since_us=since_us, until_us=until_us,
                    log_columns=set(log_types))
    schema_rows = M.schema_metrics(reference, watch.features, log_types, limits)
    label_files = open_tables.readable_files(store_uri, open_tables.INFERENCE_LABELS, options)
    pairs = (pairer or labelled_pairs)(files, label_files, model_name=watch.name,
                           model_version=watch.version, width_us=width, since_us=since_us,
                           until_us=until_us) if "prediction" in log_types else {}
    result = MonitorResult(watch.name, watch.version, reference.description, len(windows))
    for w in windows:
        found = M.window_metrics(reference, w, limits, min_rows) + schema_rows
        if w.start_us in pairs:
            found += [M.judge("prediction", name, value, limits)
                      for name, value in quality(*pairs[w.start_us]).items()]
        result.rows += [_row(watch, w, m, reference.description, now) for m in found]
    if write and result.rows:
        write_metrics(store_uri, result.rows, options)
    return result


def whole_windows(since_us: int | None, until_us: int | None, width_us: int
                  ) -> tuple[int | None, int | None]:
    """``since`` rounded down and ``until`` up to window boundaries (windows are aligned
    on the epoch): every window a run computes is computed from all its rows.

    Why: a window's metrics replace an earlier run's (:func:`write_metrics`). A run at
    06:00 with ``--window 1d --since 7d`` would otherwise compute its oldest day from
    the rows after 06:00 only and replace that day's full metrics with a partial one.
    So ``--since``/``--until`` choose windows, not rows: the oldest window is the one
    holding ``since``, the last the one holding ``until`` (whole, so it may count rows
    logged after ``until``, as the current window counts every row logged so far).
    """
    if since_us is not None:
        since_us = since_us // width_us * width_us
    if until_us is not None:
        until_us = -(-until_us // width_us) * width_us
    return since_us, until_us


def _row(watch: ModelUnderWatch, window: WindowCounts, metric: M.Metric, baseline: str,
         now_us: int) -> dict[str, Any]:
    return {"model_name": watch.name, "model_version": watch.version,
            "window_start": window.start_us, "window_end": window.end_us,
            "feature": metric.feature, "statistic": metric.statistic, "value": metric.value,
            "threshold": metric.threshold, "alert": metric.alert, "baseline": baseline,
            "rows": window.rows, "computed_at": now_us}


WINDOWS_PER_COMMIT = 200  # windows replaced per commit: keeps the predicate short


def write_metrics(store_uri: str, rows: list[dict[str, Any]],
                  options: dict[str, str] | None = None) -> None:
    """Write metric rows (times in microseconds) to ``monitor_metrics``, replacing what an
    earlier run wrote for the same windows.

    A window is keyed by (model_name, model_version, baseline, window_start,
    window_end): a re-run of that window against that baseline replaces its rows
    (statistic by statistic, and statistics no longer computed disappear) rather than
    adding a second copy. Replace, not skip, because a re-run knows more: the current
    window has grown, labels have arrived since, thresholds may have changed. Racing
    re-runs leave one copy (see :func:`lakeml.store.open_tables.replace`); the rows
    replaced stay readable by Delta time travel until vacuum.
    """
    import pyarrow as pa

    schema = open_tables.core_schema(open_tables.MONITOR_METRICS)
    windows: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        key = (r["model_name"], r["model_version"], r["baseline"], r["window_start"],
               r["window_end"])
        windows.setdefault(key, []).append(r)
    keys = sorted(windows, key=lambda k: tuple(str(part) for part in k))
    for first in range(0, len(keys), WINDOWS_PER_COMMIT):
        chunk = keys[first:first + WINDOWS_PER_COMMIT]
        part = [r for key in chunk for r in windows[key]]
        columns = {}
        for f in schema:
            values = [r[f.name] for r in part]
            if pa.types.is_timestamp(f.type):
                columns[f.name] = pa.array(values, pa.int64()).cast(f.type)
            else:
                columns[f.name] = pa.array(values, f.type)
        open_tables.replace(store_uri, open_tables.MONITOR_METRICS,
                            pa.table(columns, schema=schema), windows_predicate(chunk),
                            storage_options=options)


def windows_predicate(keys: list[tuple[Any, ...]]) -> str:
    """The deltalake predicate matching the rows of these (model_name, model_version,
    baseline, window_start, window_end) windows."""
    lit = open_tables.sql_literal
    terms = []
    for name, version, baseline, start, end in keys:
        version_test = ("model_version IS NULL" if version is None
                        else f"model_version = {int(version)}")
        terms.append(f"(model_name = {lit(name)} AND {version_test} AND "
                     f"baseline = {lit(baseline)} AND window_start = {lit(_iso(start))} "
                     f"AND window_end = {lit(_iso(end))})")
    return " OR ".join(terms)


def _iso(us: int) -> str:
    """Microseconds since the epoch as an exact UTC ISO-8601 text."""
    from datetime import timedelta

    moment = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=int(us))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def conf_thresholds() -> dict[str, float]:
    """``monitor: thresholds:`` of the conf file (conf/lakeml.yaml), if any."""
    import yaml

    from lakeml import config

    path = config.conf_file()
    if path is None or not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text()) or {}
    section = loaded.get("monitor") if isinstance(loaded, dict) else None
    found = section.get("thresholds") if isinstance(section, dict) else None
    if found is not None and not isinstance(found, dict):
        raise InvalidArgument(f"{path}: monitor.thresholds must map statistics to numbers")
    return dict(found or {})
