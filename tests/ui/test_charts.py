"""The chart API's series that are read exactly (bucket_width null: short ones, or ones
whose steps span too few buckets, see lakeml/ui/chart_buckets.py) are the plain path's:
the run's whole history (as get_metric_history gives it), put in step order and cut
down by min_max. tests/ui/test_chart_buckets.py checks the others."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import lakeml
from lakeml.ui import charts
from lakeml.ui.args import Args
from lakeml.ui.downsample import min_max


def plain(client: lakeml.Client, run_id: str, key: str, max_points: int) -> dict:
    """One series the slow, obvious way."""
    history = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    steps = np.array([m.step for m in history], dtype=np.int64)
    values = np.array([m.value for m in history], dtype=np.float64)
    keep = min_max(steps, values, max_points) if history else []
    return {"run_id": run_id, "points": len(history), "bucket_width": None,
            "step": [history[i].step for i in keep],
            "timestamp": [history[i].timestamp for i in keep],
            "value": [history[i].value if math.isfinite(history[i].value) else None
                      for i in keep]}


def chart(client: lakeml.Client, run_ids: list[str], key: str, max_points: int) -> dict:
    response = charts.metric_history(client, Args({"run_id": run_ids, "key": key,
                                                   "max_points": str(max_points)}))
    return json.loads(response.body)


def test_series_are_the_plain_paths_whatever_the_files_and_order(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "RUNS_PER_READ", 2)  # several reads for five runs
    client = lakeml.Client(str(tmp_path / "lake"))
    exp = client.create_experiment("curves")
    ids = [client.create_run(exp).info.run_id for _ in range(5)]
    rng = np.random.default_rng(7)
    for part in range(3):  # each run's history spread over three commits (data files)
        for i, run_id in enumerate(ids[:4]):
            steps = np.arange(part * 300, (part + 1) * 300)
            if i == 1:
                steps = steps[::-1]  # logged backwards
            for step in steps.tolist():
                value = float(rng.standard_normal())
                if i == 2 and step % 97 == 0:
                    value = [math.nan, math.inf, -math.inf][step % 3]
                client.log_metric(run_id, "loss", value, step=step,
                                  timestamp=1_780_000_000_000 + step * 10 + i)
        client.flush()
    client.log_metric(ids[3], "loss", 1e9, step=450, timestamp=1_790_000_000_000)  # a re-log
    client.log_metric(ids[4], "other", 1.0)  # no loss at all
    client.flush()
    for max_points in (4, 200, 2000):  # 900 steps: too few buckets of 64 for 200
        got = chart(client, ids, "loss", max_points)
        assert got["series"] == [plain(client, r, "loss", max_points) for r in ids], max_points
    assert 1e9 in chart(client, ids, "loss", 200)["series"][3]["value"]  # the spike is kept


def test_a_kept_answer_follows_new_points(tmp_path) -> None:
    client = lakeml.Client(str(tmp_path / "lake"))
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    client.log_metric(run_id, "loss", 1.0, step=0)
    client.flush()
    assert chart(client, [run_id], "loss", 100)["series"][0]["value"] == [1.0]
    assert chart(client, [run_id], "loss", 100)["series"][0]["value"] == [1.0]  # kept
    client.log_metric(run_id, "loss", 2.0, step=1)
    client.flush()
    assert chart(client, [run_id], "loss", 100)["series"][0]["value"] == [1.0, 2.0]
