"""The REST client's log buffer: log calls append here; flushes send ``runs/log-batch``.

``log_metric``, ``log_param``, ``set_tag`` and ``log_batch`` of the REST tracking
service append tuples to in-process lists (a lock and a list append: the cost of the
lake writer's hot path, no I/O). A flush groups the rows by run and sends each run's
rows as MLflow ``runs/log-batch`` requests, one per run unless MLflow's limits split it
(1,000 metrics, 100 params, 100 tags, 1,000 items in all per request). Rows keep their
order within a run, so a later ``set_tag`` of a key still wins. A flush holding more
metric points than one log-batch takes (heavy logging) sends its points in one Arrow
request instead (lakeml's ``runs/log-metrics``): the server answers a write after its
commit, ~20-200 ms, so 1,000 points a request would cap logging at a few thousand points
a second.

A flush happens on the lake writer's triggers (store/writer.py, same settings): a
background thread every ``LAKEML_FLUSH_INTERVAL`` seconds, sooner once
``LAKEML_FLUSH_ROWS`` rows wait; in the logging thread once ``LAKEML_MAX_BUFFERED_ROWS``
do (back-pressure); at interpreter exit; and on ``flush()``, which the service calls
before every other request (read-your-writes, and writes that follow logs land after
them).

A flush sends different runs' batches side by side (up to ``IN_FLIGHT`` requests: a
server that commits concurrent writes together answers them with one commit), each
run's in order. A batch the server refuses (a bad value, a run ended by another
process) is set aside, and the next explicit flush raises its error (the class and
message the server sent), once: rows of other batches are not held back by it. A batch
that could not be delivered (the server unreachable, busy, or a commit conflict) stays
pending and goes first in the next flush, its run's later batches after it; its
``X-Lakeml-Request-Id`` header stays the same, so a server that keeps request ids can
tell a retry from a new batch.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakeml.errors import CommitConflict, LakemlError, TemporarilyUnavailable
from lakeml.rest.wire import wire_number

if TYPE_CHECKING:
    from lakeml.rest.http import Http

log = logging.getLogger(__name__)

#: MLflow's limits of one log-batch request (mlflow/utils/validation.py).
MAX_METRICS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_ITEMS = 1000
#: A flush holding more metric points than one log-batch takes sends them in one Arrow
#: request (:class:`Points`): one commit on the server, not one per 1,000 points.
POINTS_FROM = MAX_METRICS + 1
#: Requests a flush keeps in flight at once (different runs' batches).
IN_FLIGHT = 8
# points per Arrow request: ~10 MB encoded, under lakeml server's default 32 MB body limit
POINTS_PER_REQUEST = 100_000
#: Errors after which a batch is sent again rather than set aside.
RETRIED = (TemporarilyUnavailable, CommitConflict)

_live: weakref.WeakSet[LogBuffer] = weakref.WeakSet()


class _Columns:
    """Buffered metric points, a list per column (no tuple per point, no transposing)."""

    __slots__ = ("run_id", "key", "value", "timestamp", "step")

    def __init__(self) -> None:
        self.run_id: list[str] = []
        self.key: list[str] = []
        self.value: list[float] = []
        self.timestamp: list[int] = []
        self.step: list[int] = []

    def __len__(self) -> int:
        return len(self.run_id)

    def extend(self, rows: list[tuple[str, str, float, int, int]]) -> None:
        for run_id, key, value, timestamp, step in rows:
            self.run_id.append(run_id)
            self.key.append(key)
            self.value.append(value)
            self.timestamp.append(timestamp)
            self.step.append(step)

    def rows(self) -> Any:
        return zip(self.run_id, self.key, self.value, self.timestamp, self.step)

    def chunks(self, size: int) -> list[_Columns]:
        """These points in parts of at most ``size``, in order."""
        parts = []
        for start in range(0, len(self), size):
            part = _Columns()
            for name in self.__slots__:
                setattr(part, name, getattr(self, name)[start:start + size])
            parts.append(part)
        return parts


@dataclass
class Batch:
    """One ``runs/log-batch`` request: a run's rows within MLflow's limits."""

    run_id: str
    request_id: str
    metrics: list[dict[str, Any]] = field(default_factory=list)
    params: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "metrics": self.metrics, "params": self.params,
                "tags": self.tags}

    def send(self, http: Http) -> list[LakemlError]:
        http.post("/runs/log-batch", self.body(), headers={"X-Lakeml-Request-Id":
                                                           self.request_id})
        return []


@dataclass
class Points:
    """Metric points of many runs in one Arrow request (``/api/2.0/lakeml/runs/log-metrics``).

    A flush of many points sends them so, in one request and one commit on the server,
    instead of a log-batch (and a commit) per 1,000 of them. The server leaves out the
    points of runs that do not take log calls and names them: their errors are the
    refusals of this request, every other point is stored.
    """

    request_id: str
    rows: _Columns

    def send(self, http: Http) -> list[LakemlError]:
        import pyarrow as pa

        m = self.rows
        table = pa.table({"run_id": pa.array(m.run_id, pa.string()),
                          "key": pa.array(m.key, pa.string()),
                          "value": pa.array(m.value, pa.float64()),
                          "timestamp": pa.array(m.timestamp, pa.int64()),
                          "step": pa.array(m.step, pa.int64())})
        body = http.post_arrow("/runs/log-metrics", table,
                               headers={"X-Lakeml-Request-Id": self.request_id})
        return [LakemlError.from_dict(refusal) for refusal in body.get("refused", ())]


class LogBuffer:
    """Buffered log rows of one tracking server, sent by :meth:`flush`."""

    def __init__(self, http: Http, *, interval: float, flush_rows: int,
                 max_buffered_rows: int) -> None:
        self._http = http
        self.interval = interval
        self.flush_rows = flush_rows
        self.max_buffered_rows = max_buffered_rows
        self._writer_id = os.urandom(8).hex()
        self._seq = 0
        # metric points as columns (run_id, key, value, timestamp ms, step): a flush of
        # many hands them to Arrow as they are; params and tags as (run_id, key, value)
        self._metrics = _Columns()
        self._params: list[tuple[str, str, str]] = []
        self._tags: list[tuple[str, str, str]] = []
        self._buffered = 0
        self._pending: list[Batch | Points] = []  # not yet acknowledged: sent first next time
        self._rejected: list[LakemlError] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        _live.add(self)

    # ---- the hot path -------------------------------------------------------------------
    def append_metric(self, run_id: str, key: str, value: float, timestamp: int,
                      step: int) -> None:
        """Buffer one metric point (``timestamp`` in ms)."""
        with self._lock:
            m = self._metrics
            m.run_id.append(run_id)
            m.key.append(key)
            m.value.append(value)
            m.timestamp.append(timestamp)
            m.step.append(step)
            self._buffered += 1
            buffered = self._buffered
        if self._thread is None or buffered >= self.flush_rows:
            self._after_buffering(buffered)

    def extend(self, metrics: list[tuple[str, str, float, int, int]],
               params: list[tuple[str, str, str]], tags: list[tuple[str, str, str]]) -> None:
        """Buffer rows of a log_batch together (all or none)."""
        count = len(metrics) + len(params) + len(tags)
        if not count:
            return
        with self._lock:
            self._metrics.extend(metrics)
            self._params.extend(params)
            self._tags.extend(tags)
            self._buffered += count
            buffered = self._buffered
        if self._thread is None or buffered >= self.flush_rows:
            self._after_buffering(buffered)

    def _after_buffering(self, buffered: int) -> None:
        if self._thread is None:
            self._start()
        if buffered >= self.flush_rows:
            self._wake.set()
            if buffered >= self.max_buffered_rows:
                self.flush(report=False)

    def has_unflushed(self) -> bool:
        """Whether rows wait to be sent (buffered, or pending after a failed delivery)."""
        return self._buffered > 0 or bool(self._pending)

    # ---- sending ------------------------------------------------------------------------
    def flush(self, *, report: bool = True) -> None:
        """Send every buffered row now, one log-batch per run (split at MLflow's limits).

        Raises the server's error for a batch that could not be delivered (the rows stay
        pending). With ``report`` (the default; the background flusher passes False),
        raises the error of batches the server refused since the last report.
        """
        with self._flush_lock:
            if self.has_unflushed():
                with self._lock:  # (log calls wait only for the swap, not the encoding)
                    metrics, params, tags = self._metrics, self._params, self._tags
                    self._metrics, self._params, self._tags = _Columns(), [], []
                    self._buffered = 0
                    pending, self._pending = self._pending, []
                points: list[Batch | Points] = []
                if len(metrics) >= POINTS_FROM:  # Arrow requests, each well under the
                    points = [Points(self._next_request_id(), part)  # server's body limit
                              for part in metrics.chunks(POINTS_PER_REQUEST)]
                    metrics = _Columns()
                self._send_all(pending + self._batches(metrics, params, tags) + points)
            if report:
                self.raise_rejected()

    def _send_all(self, batches: list[Batch | Points]) -> None:
        """Send ``batches``: each run's in order, different runs' side by side (up to
        ``IN_FLIGHT`` requests, so a server that commits concurrent writes together
        answers them with one commit). What could not be delivered stays pending, in
        order, and the first such error is raised once every run had its turn."""
        groups: dict[str, list[Batch | Points]] = {}
        for batch in batches:
            groups.setdefault(batch.run_id if isinstance(batch, Batch) else "", []
                              ).append(batch)
        if len(groups) == 1:
            results = [self._send_run(next(iter(groups.values())))]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(IN_FLIGHT, len(groups)),
                                    thread_name_prefix="lakeml-rest-send") as pool:
                results = list(pool.map(self._send_run, groups.values()))
        unsent = [batch for left, _ in results for batch in left]
        errors = [error for _, error in results if error is not None]
        if unsent:
            with self._lock:
                self._pending[:0] = unsent
        if errors:
            raise errors[0]

    def _send_run(self, batches: list[Batch | Points]
                  ) -> tuple[list[Batch | Points], BaseException | None]:
        """Send one run's batches in order: (those left unsent, the error that stopped)."""
        for i, batch in enumerate(batches):
            try:
                refused = batch.send(self._http)
            except RETRIED as exc:
                return batches[i:], exc
            except LakemlError as exc:  # refused: set aside, the others go on
                refused = [exc]
            except BaseException as exc:
                return batches[i:], exc
            if refused:
                with self._lock:
                    self._rejected += refused
        return [], None

    def raise_rejected(self) -> None:
        """Raise the error of the batches refused since the last report, if any (the
        class and message of the first; a count of the others)."""
        with self._lock:
            rejected, self._rejected = self._rejected, []
        if not rejected:
            return
        first = rejected[0]
        if len(rejected) == 1:
            raise first
        raise type(first)(f"{first.message} (and {len(rejected) - 1} more logged batch(es) "
                          "refused by the tracking server)")

    def _batches(self, metrics: _Columns,
                 params: list[tuple[str, str, str]], tags: list[tuple[str, str, str]]
                 ) -> list[Batch]:
        """The rows as log-batch requests: per run, in order, within MLflow's limits."""
        per_run: dict[str, tuple[list[Any], list[Any], list[Any]]] = {}
        for run_id, key, value, ts, step in metrics.rows():
            per_run.setdefault(run_id, ([], [], []))[0].append(
                {"key": key, "value": wire_number(value), "timestamp": ts, "step": step})
        for run_id, key, value in params:
            per_run.setdefault(run_id, ([], [], []))[1].append({"key": key, "value": value})
        for run_id, key, value in tags:
            per_run.setdefault(run_id, ([], [], []))[2].append({"key": key, "value": value})
        batches = []
        for run_id, (ms, ps, ts_) in per_run.items():
            m = p = t = 0
            while m < len(ms) or p < len(ps) or t < len(ts_):
                batch = Batch(run_id, self._next_request_id())
                batch.params = ps[p:p + MAX_PARAMS]
                batch.tags = ts_[t:t + MAX_TAGS]
                p, t = p + len(batch.params), t + len(batch.tags)
                room = min(MAX_METRICS, MAX_ITEMS - len(batch.params) - len(batch.tags))
                batch.metrics = ms[m:m + room]
                m += len(batch.metrics)
                batches.append(batch)
        return batches

    def _next_request_id(self) -> str:
        self._seq += 1
        return f"{self._writer_id}-{self._seq}"

    # ---- the background flusher -------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, name="lakeml-rest-flusher",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._closed:
            self._wake.wait(self.interval if failures == 0 else min(30.0, 2.0 ** failures))
            self._wake.clear()
            if self._closed or not self.has_unflushed():
                continue
            try:
                self.flush(report=False)  # refusals are reported to the logging code
                failures = 0
            except LakemlError as exc:
                failures += 1
                if failures == 1:
                    log.warning("lakeml could not send logged rows to the tracking server "
                                "(kept in memory, will retry): %s", exc)
            except Exception:  # never let the flusher die silently
                failures += 1
                log.exception("lakeml REST flusher failed; rows kept in memory")

    def close(self) -> None:
        """Stop the flusher and send what is left; raise if that fails."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=60)
        self.flush()


def _after_fork_in_child() -> None:
    """A forked child starts with empty buffers (its parent sends the rows it holds) and
    no flusher; it logs and sends its own rows from then on."""
    for buffer in list(_live):
        buffer._lock = threading.Lock()
        buffer._flush_lock = threading.RLock()
        buffer._wake = threading.Event()
        buffer._metrics, buffer._params, buffer._tags = _Columns(), [], []
        buffer._buffered = 0
        buffer._pending, buffer._rejected = [], []
        buffer._thread = None
        buffer._writer_id, buffer._seq = os.urandom(8).hex(), 0


def _close_all_at_exit() -> None:
    for buffer in list(_live):
        try:
            buffer.close()
        except LakemlError as exc:
            print(f"lakeml: at exit, logged rows were not all stored by the tracking server:"
                  f" {exc}", file=sys.stderr)


atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
