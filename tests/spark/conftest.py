"""One local Spark session for every Spark test (it takes seconds to start on 2 cores),
and a small store with every kind of row for them to read."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lakeml
import lakeml.data
import lakeml.fluent
import lakeml.tracking.backend


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """py4j leaves its local result sockets to the garbage collector, which reports them
    as unraisable ResourceWarnings in whatever test runs next: not ours to fix."""
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).parent == here:
            item.add_marker(pytest.mark.filterwarnings(
                "ignore:Exception ignored in. <socket.socket"
                ":pytest.PytestUnraisableExceptionWarning"))


@pytest.fixture(scope="session")
def spark():
    import lakeml.spark

    session = lakeml.spark.session("lakeml-tests", conf={
        "spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2"})
    yield session
    session.stop()


def build_store(uri: str) -> dict[str, str]:
    """Two experiments of runs with histories, NaN, tags deleted and changed, a renamed,
    a failed, a nested, a deleted run and a dataset input; returns the experiment ids."""
    client = lakeml.Client(uri)
    grid = client.create_experiment("grid")
    other = client.create_experiment("other")
    client.set_experiment_tag(grid, "owner", "ml")
    client.set_experiment_tag(other, "owner", "bi")
    client.delete_experiment_tag(other, "owner")
    base = 1_790_000_000_000
    for i in range(12):
        run = client.create_run(grid, start_time=base + i * 3_600_000 * 7,
                                run_name=f"trial-{i}")
        rid = run.info.run_id
        client.log_param(rid, "depth", str(i % 3))
        client.log_param(rid, "lr", ["0.1", "0.01"][i % 2])
        for step in range(3):
            client.log_metric(rid, "loss", 1.0 / (i + step + 1), step=step,
                              timestamp=base + step)
        client.log_metric(rid, "accuracy", math.nan if i == 5 else i / 16, timestamp=base)
        client.set_tag(rid, "team", "a" if i < 6 else "b")
        if i == 3:
            client.delete_tag(rid, "team")
        if i == 4:
            client.update_run(rid, name="renamed")
        client.set_terminated(rid, "FAILED" if i == 7 else "FINISHED", end_time=base + i)
        if i == 9:
            client.delete_run(rid)
    parent = client.create_run(other, start_time=base, run_name="parent")
    child = client.create_run(other, start_time=base + 1, run_name="child",
                              tags={"mlflow.parentRunId": parent.info.run_id})
    client.log_metric(child.info.run_id, "loss", math.inf, timestamp=base)
    lakeml.set_store(uri)
    with lakeml.start_run(run_id=parent.info.run_id):
        lakeml.log_input(lakeml.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="tiny"),
                         context="training")
    _registry(client, str(Path(uri).parent / "model"))
    client.flush()
    return {"grid": grid, "other": other}


def _registry(client: lakeml.Client, folder: str) -> None:
    """Every kind of registry event: versions, stages, alias, tags, review, comment, rename."""
    from sklearn.dummy import DummyClassifier

    import lakeml.sklearn

    lakeml.sklearn.save_model(DummyClassifier().fit([[0], [1]], [0, 1]), folder)
    for _ in range(3):
        client.register_model(folder, "churn", tags={"t": "1"})
    client.transition_model_version_stage("churn", 2, "Production", comment="go")
    client.set_registered_model_alias("churn", "champion", 2)
    client.set_registered_model_tag("churn", "team", "risk")
    client.request_transition("churn", 3, "Staging", comment="try")
    client.approve_transition_request("churn", 3, "Staging")
    client.request_transition("churn", 1, "Archived")
    client.create_comment("churn", 2, "shipped")
    client.register_model(folder, "old")
    client.rename_registered_model("old", "renamed")


def normalized(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows comparable across engines: NaN as a marker, timestamps as UTC microseconds."""
    def one(value: Any) -> Any:
        if isinstance(value, float) and math.isnan(value):
            return "NaN"
        if isinstance(value, datetime):  # Spark gives local naive times, DuckDB aware ones
            return value.astimezone(timezone.utc).isoformat()
        if isinstance(value, dict):  # a map (runs_wide's metrics may hold NaN)
            return {k: one(v) for k, v in value.items()}
        return value
    return sorted((tuple(one(v) for v in row) for row in rows), key=repr)


def rounded(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Floats to 12 significant digits: sums in another order may differ in the last bit."""
    return [tuple(float(f"{v:.12g}") if isinstance(v, float) else v for v in r) for r in rows]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """Built once per module: tests that read it share it; tests that write build their own."""
    uri = str(tmp_path_factory.mktemp("sample") / "lake")
    ids = build_store(uri)
    lakeml.tracking.backend.close_all()
    lakeml.fluent.reset()
    return uri, ids
