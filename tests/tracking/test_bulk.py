"""Bulk logging: a table of trials becomes finished runs, checked as a whole."""

from __future__ import annotations

import pandas as pd
import pytest

import lakeml
from lakeml.errors import InvalidArgument


def test_log_runs_from_a_dataframe(client: lakeml.Client) -> None:
    exp = client.create_experiment("grid")
    trials = pd.DataFrame({"params.alpha": [0.1, 1.0, 10.0], "params.solver": ["a", "b", "a"],
                           "metrics.rmse": [0.5, 0.25, float("nan")],
                           "tags.team": ["x", "x", "y"], "run_name": ["t0", "t1", "t2"],
                           "start_time": [1_700_000_000_000] * 3})
    ids = client.log_runs(exp, trials, tags={"source": "grid-search"})
    assert len(ids) == 3 and ids == sorted(ids)
    runs = [client.get_run(i) for i in ids]
    assert [r.info.run_name for r in runs] == ["t0", "t1", "t2"]
    assert [r.data.params for r in runs][1] == {"alpha": "1.0", "solver": "b"}
    assert runs[0].data.metrics == {"rmse": 0.5}
    assert runs[2].data.metrics["rmse"] != runs[2].data.metrics["rmse"]  # NaN kept
    assert runs[2].data.tags["team"] == "y" and runs[0].data.tags["source"] == "grid-search"
    assert runs[0].data.tags["mlflow.runName"] == "t0"
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert runs[0].info.start_time == 1_700_000_000_000
    assert runs[0].info.experiment_id == exp

    points = pd.DataFrame({"run_id": [ids[0]] * 3, "key": ["loss"] * 3,
                           "value": [3.0, 2.0, 1.0], "step": [0, 1, 2],
                           "timestamp": [1_700_000_000_000] * 3})
    assert client.log_metric_histories(points) == 3
    assert [m.value for m in client.get_metric_history(ids[0], "loss")] == [3.0, 2.0, 1.0]
    assert client.get_run(ids[0]).data.metrics == {"rmse": 0.5, "loss": 1.0}
    # Arrow nulls mean "this trial has no such metric or param".
    import pyarrow as pa

    (sparse,) = client.log_runs(exp, pa.table({"metrics.a": pa.array([None], pa.float64()),
                                               "params.p": pa.array([None], pa.string())}))
    assert client.get_run(sparse).data.metrics == {} and client.get_run(sparse).data.params == {}
    # A bulk-logged run is an ordinary run: it can be deleted like any other.
    client.delete_run(ids[1])
    assert client.get_run(ids[1]).info.lifecycle_stage == "deleted"


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"alpha": [1]}), "'alpha'"),
    (pd.DataFrame({"params.bad key!": [1]}), "bad key!"),
    (pd.DataFrame({"metrics.m": ["high"]}), "metrics.m"),
    (pd.DataFrame({"params.p": ["x" * 6001]}), "6001"),
    (pd.DataFrame({"metrics.m": [1.0], "status": ["DONE"]}), "DONE"),
    (pd.DataFrame({"metrics.m": [1.0, 2.0], "run_name": ["ok", "fake\nrow"]}),
     r"run name 'fake\\nrow' holds control characters"),
    (pd.DataFrame({"metrics.m": [1.0], "run_name": ["c1\x9b[2J"]}), r"'c1\\x9b\[2J'"),
])
def test_bad_tables_are_refused_whole(client: lakeml.Client, frame: pd.DataFrame,
                                      message: str) -> None:
    exp = client.create_experiment("bad")
    with pytest.raises(InvalidArgument, match=message.replace("!", r"\!")):
        client.log_runs(exp, frame)
    assert client.sql("SELECT count(*) FROM runs WHERE experiment_id = ?", [exp]
                      ).fetchall() == [(0,)]
