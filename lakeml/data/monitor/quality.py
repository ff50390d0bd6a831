"""Ground truth: labels that arrive after the predictions, and the quality they measure.

:func:`log_labels` appends ``(request_id, row, label)`` rows to the store's
``inference_labels`` table (``row`` is the row of a multi-row request, 0 by default;
the label column keeps the frame's type). A request labelled twice keeps its latest
label. :func:`quality` joins the labels to the logged predictions and measures, per
window (by the time of the inference): for a float label, ``rmse`` and ``mae``; else
``accuracy``, ``f1`` (macro over the classes seen, as scikit-learn's
``f1_score(average="macro")``) and, for two classes and numeric predictions, ``auc``
(the Mann-Whitney statistic, as ``roc_auc_score``); and ``labelled_rows``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from lakeml.errors import InvalidArgument
from lakeml.store import open_tables

if TYPE_CHECKING:
    import pyarrow as pa


def log_labels(model: str, labels: Any, *, store: str | None = None) -> int:
    """Append ground-truth ``labels`` (a pandas DataFrame or Arrow table with columns
    ``request_id`` and ``label``, and optionally ``row``) for ``model`` (a name or a
    ``models:/`` URI); returns the rows appended.

    Example:
        >>> log_labels("churn", pd.DataFrame({"request_id": ids, "label": truth}))  # doctest: +SKIP
    """
    import pyarrow as pa

    from lakeml import config

    name = _model_name(model)
    table = labels if isinstance(labels, pa.Table) else _from_frame(labels)
    missing = [c for c in ("request_id", "label") if c not in table.column_names]
    if missing:
        raise InvalidArgument(f"labels need columns {missing}; the frame has "
                              f"{table.column_names}")
    extra = [c for c in table.column_names if c not in ("request_id", "row", "label")]
    if extra:
        raise InvalidArgument(f"labels take columns request_id, row, label; unexpected "
                              f"{extra}")
    if table.column("request_id").null_count:
        raise InvalidArgument("labels: request_id has nulls; every label names its request")
    n = table.num_rows
    if n == 0:
        return 0
    rows = table.column("row").cast(pa.int64()) if "row" in table.column_names \
        else pa.array(np.zeros(n, dtype=np.int64))
    now = pa.array(np.full(n, int(time.time() * 1e6)), pa.int64()).cast(
        pa.timestamp("us", tz="UTC"))
    out = pa.table({"request_id": table.column("request_id").cast(pa.string()), "row": rows,
                    "model_name": pa.array([name] * n, pa.string()), "time": now,
                    "label": table.column("label")})
    store_uri = store or config.store_uri()
    open_tables.append(store_uri, open_tables.INFERENCE_LABELS, out,
                       storage_options=config.storage_options() or None)
    return n


def _model_name(model: str) -> str:
    text = str(model)
    if text.startswith("models:/"):
        from lakeml.uris import parse_models_uri

        return parse_models_uri(text, str)[0]
    if not text or "/" in text:
        raise InvalidArgument(f"model {model!r}: give a registered model name or a "
                              "models:/ URI")
    return text


def _from_frame(frame: Any) -> pa.Table:
    import pandas as pd
    import pyarrow as pa

    if not isinstance(frame, pd.DataFrame):
        raise InvalidArgument(f"labels must be a pandas DataFrame or an Arrow table, got "
                              f"{type(frame).__name__}")
    return pa.Table.from_pandas(frame, preserve_index=False)


def labelled_pairs(log_files: list[str], label_files: list[str], *, model_name: str,
                   model_version: int | None, width_us: int, since_us: int | None,
                   until_us: int | None, prediction: str = "prediction"
                   ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Window start -> (labels, predictions) of the labelled, answered requests."""
    import duckdb

    from lakeml.sqltext import identifier, read_files

    if not log_files or not label_files:
        return {}
    where = ["i.status = 200", "i.model_name = ?"]
    params: list[Any] = [model_name]
    if model_version is not None:
        where.append("i.model_version = ?")
        params.append(int(model_version))
    if since_us is not None:
        where.append("epoch_us(i.\"time\") >= ?")
        params.append(int(since_us))
    if until_us is not None:
        where.append("epoch_us(i.\"time\") < ?")
        params.append(int(until_us))
    # the labels of this model only: another model's clients may send the same request ids
    params.insert(0, model_name)
    sql = (f"WITH labels AS (SELECT request_id, \"row\", label "
           f"FROM {read_files(label_files)} WHERE model_name = ? "
           f"QUALIFY row_number() OVER (PARTITION BY request_id, \"row\" "
           f"ORDER BY \"time\" DESC) = 1) "
           f"SELECT epoch_us(i.\"time\") // {int(width_us)} * {int(width_us)} AS w, l.label, "
           f"i.{identifier(prediction)} AS p FROM {read_files(log_files)} i JOIN labels l "
           f"ON l.request_id = i.request_id AND l.\"row\" = i.\"row\" "
           f"WHERE {' AND '.join(where)} AND i.{identifier(prediction)} IS NOT NULL "
           f"AND l.label IS NOT NULL")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a long count prints nothing
    try:
        found = con.execute(sql, params).fetchnumpy()
    finally:
        con.close()
    windows = np.asarray(found["w"])
    if not len(windows):
        return {}
    labels, predictions = _plain(found["label"]), _plain(found["p"])
    return {int(w): (labels[windows == w], predictions[windows == w])
            for w in np.unique(windows)}


def _plain(values: Any) -> np.ndarray:
    """A DuckDB numpy column (maybe masked) as a plain array (no nulls: they were
    filtered out)."""
    return np.asarray(np.ma.getdata(values) if np.ma.isMaskedArray(values) else values)


def quality(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Quality statistics of ``predictions`` against ``labels`` (see the module)."""
    out = {"labelled_rows": float(len(labels))}
    if not len(labels):
        return out
    if labels.dtype.kind == "f":
        errors = predictions.astype(float) - labels.astype(float)
        out["rmse"] = float(np.sqrt(np.mean(errors ** 2)))
        out["mae"] = float(np.mean(np.abs(errors)))
        return out
    numeric = labels.dtype.kind in "iub" and predictions.dtype.kind in "iubf"
    truth = labels.astype(float) if numeric else labels.astype(str)
    guess = predictions.astype(float) if numeric else predictions.astype(str)
    classes = np.unique(truth)
    if numeric and len(classes) == 2 and set(classes) <= {0.0, 1.0} and \
            ((guess > 0) & (guess < 1)).any():  # scores: accuracy and F1 at 0.5
        out["auc"] = auc(truth, guess)
        guess = (guess >= 0.5).astype(float)
    elif numeric and len(classes) == 2:
        out["auc"] = auc((truth == classes[1]).astype(float), guess)
    out["accuracy"] = float(np.mean(truth == guess))
    out["f1"] = macro_f1(truth, guess)
    return out


def macro_f1(truth: np.ndarray, guess: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes of ``truth`` and ``guess``."""
    scores = []
    for cls in np.unique(np.concatenate([truth, guess])):
        tp = float(np.sum((truth == cls) & (guess == cls)))
        fp = float(np.sum((truth != cls) & (guess == cls)))
        fn = float(np.sum((truth == cls) & (guess != cls)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return float(np.mean(scores))


def auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of binary ``truth`` (0/1) by ``scores``: the share of
    (positive, negative) pairs the scores order right, ties counting a half."""
    positives = truth == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]  # average ranks over ties
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
