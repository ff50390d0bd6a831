"""``lakeml.data.monitor``: drift, data-quality and model-quality monitoring of the
traffic a served model logged (``lakeml models serve --log-inferences``).

:func:`run_monitor` compares each window of a model version's ``inference_log`` rows
with a baseline (by default the training dataset its run logged) and appends the
statistics, with thresholds and alerts, to ``monitor_metrics``; :func:`log_labels`
brings the ground truth that quality metrics need; :func:`connect` opens DuckDB with
the views ``inference_log``, ``inference_labels`` and ``monitor_metrics``.
"""

from __future__ import annotations

from lakeml.data.monitor.quality import log_labels
from lakeml.data.monitor.run import MonitorResult, run_monitor
from lakeml.data.monitor.views import connect

__all__ = ["MonitorResult", "connect", "log_labels", "run_monitor"]
