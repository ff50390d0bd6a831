"""The fluent API end to end, on a real store."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

import lakeml
from lakeml.errors import InvalidState


def test_issue_example_round_trip(store_uri: str, tmp_path: Path) -> None:
    plot = tmp_path / "plot.png"
    plot.write_bytes(b"\x89PNG fake")
    lakeml.set_experiment("churn")
    with lakeml.start_run(run_name="ridge-1") as run:
        lakeml.log_params({"alpha": 0.5, "model": "ridge"})
        for step in range(20_000):
            lakeml.log_metric("loss", 1 / (step + 1), step=step)
        lakeml.set_tag("team", "growth")
        lakeml.log_artifact(str(plot))
    client = lakeml.Client()
    got = client.get_run(run.info.run_id)
    assert got.data.params == {"alpha": "0.5", "model": "ridge"}
    assert got.data.tags["team"] == "growth"
    assert got.data.metrics == {"loss": 1 / 20_000}
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "ridge-1"
    assert got.info.end_time >= got.info.start_time
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(20_000))
    assert [m.value for m in history] == [1 / (s + 1) for s in range(20_000)]
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["plot.png"]
    assert client.get_experiment_by_name("churn").experiment_id == got.info.experiment_id


def test_exception_inside_with_ends_run_failed(store_uri: str) -> None:
    with pytest.raises(ZeroDivisionError):
        with lakeml.start_run() as run:
            lakeml.log_metric("x", 1.0)
            1 / 0  # noqa: B018
    got = lakeml.Client().get_run(run.info.run_id)
    assert got.info.status == "FAILED"
    assert got.data.metrics == {"x": 1.0}
    assert lakeml.active_run() is None


def test_keyboard_interrupt_ends_run_killed(store_uri: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        with lakeml.start_run() as run:
            raise KeyboardInterrupt
    assert lakeml.get_run(run.info.run_id).info.status == "KILLED"


def test_nested_runs_record_parent(store_uri: str) -> None:
    with lakeml.start_run(run_name="parent") as parent:
        with lakeml.start_run(run_name="child", nested=True) as child:
            lakeml.log_param("depth", 1)
        assert lakeml.active_run().info.run_id == parent.info.run_id
    got = lakeml.get_run(child.info.run_id)
    assert got.info.parent_run_id == parent.info.run_id
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert got.data.params == {"depth": "1"}


def test_second_run_without_nested_is_refused(store_uri: str) -> None:
    with lakeml.start_run():
        with pytest.raises(InvalidState, match="already active"):
            lakeml.start_run()


def test_log_call_without_run_starts_one_and_default_experiment(store_uri: str) -> None:
    lakeml.log_metric("m", 2.0)
    run = lakeml.active_run()
    assert run is not None and run.info.experiment_id == "0"
    lakeml.end_run()
    assert lakeml.get_experiment("0").name == "Default"
    assert lakeml.last_active_run().data.metrics == {"m": 2.0}


def test_generated_run_name_and_system_tags(store_uri: str) -> None:
    with lakeml.start_run() as run:
        pass
    tags = lakeml.get_run(run.info.run_id).data.tags
    assert run.info.run_name and tags["mlflow.runName"] == run.info.run_name
    assert tags["lakeml.version"] == lakeml.__version__
    assert tags["mlflow.user"] == run.info.user_id
    assert "mlflow.source.name" in tags


def test_git_commit_tag_in_a_checkout(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "train.py").write_text(
        "import lakeml\n"
        f"lakeml.set_store({str(tmp_path / 'lake')!r})\n"
        "with lakeml.start_run() as r:\n"
        "    pass\n"
        "print(lakeml.get_run(r.info.run_id).data.tags['mlflow.source.git.commit'])\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    import sys

    out = subprocess.run([sys.executable, str(repo / "train.py")], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == head


def test_nan_and_infinities_round_trip(store_uri: str) -> None:
    with lakeml.start_run() as run:
        lakeml.log_metric("a", float("nan"), step=0)
        lakeml.log_metric("a", float("inf"), step=1)
        lakeml.log_metric("a", float("-inf"), step=2)
    values = [m.value for m in lakeml.Client().get_metric_history(run.info.run_id, "a")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf]


def test_resume_finished_run(store_uri: str) -> None:
    with lakeml.start_run() as run:
        lakeml.log_metric("m", 1.0, step=0)
    with lakeml.start_run(run_id=run.info.run_id):
        lakeml.log_metric("m", 2.0, step=1)
    got = lakeml.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.data.metrics == {"m": 2.0}


def test_log_metrics_dict_text_and_figure(store_uri: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with lakeml.start_run() as run:
        lakeml.log_metrics({"a": 1, "b": 2.5}, step=3)
        lakeml.log_dict({"k": [1, 2]}, "cfg/config.json")
        lakeml.log_dict({"k": 1}, "cfg/config.yaml")
        lakeml.log_text("hello", "notes.txt")
        lakeml.log_figure(fig, "plots/curve.png")
    plt.close(fig)
    client = lakeml.Client()
    assert client.get_run(run.info.run_id).data.metrics == {"a": 1.0, "b": 2.5}
    assert client.get_metric_history(run.info.run_id, "a")[0].step == 3
    paths = {f.path for f in client.list_artifacts(run.info.run_id, "cfg")}
    assert paths == {"cfg/config.json", "cfg/config.yaml"}
    local = Path(client.download_artifacts(run.info.run_id, "plots/curve.png",
                                           str(Path.cwd() / "dl")))
    assert local.read_bytes().startswith(b"\x89PNG")
    assert Path(client.download_artifacts(run.info.run_id, "notes.txt",
                                          str(Path.cwd() / "dl"))).read_text() == "hello"


def test_log_input_records_dataset(store_uri: str) -> None:
    import pandas as pd

    df = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    ds = lakeml.data.from_pandas(df, source="memory", name="toy", targets="y")
    assert ds.digest == lakeml.data.from_pandas(df.copy(), name="toy").digest
    assert ds.digest != lakeml.data.from_pandas(df.assign(x=[1, 2, 4]), name="toy").digest
    with lakeml.start_run() as run:
        lakeml.log_input(ds, context="training")
    (got,) = lakeml.get_run(run.info.run_id).inputs.dataset_inputs
    assert (got.dataset.name, got.dataset.digest, got.context) == ("toy", ds.digest, "training")
    assert '"x"' in got.dataset.schema


def test_threads_have_their_own_runs(store_uri: str) -> None:
    import threading

    ids: dict[int, str] = {}

    def work(i: int) -> None:
        with lakeml.start_run(run_name=f"t{i}") as run:
            for s in range(100):
                lakeml.log_metric("m", float(i), step=s)
            ids[i] = run.info.run_id

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client = lakeml.Client()
    for i, run_id in ids.items():
        history = client.get_metric_history(run_id, "m")
        assert len(history) == 100 and {m.value for m in history} == {float(i)}
