"""Bad input: a clear error naming the value, and nothing logged is lost."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import lakeml
from lakeml.errors import InvalidArgument, LakemlError, StoreUnavailable


@pytest.fixture
def run_id(client: lakeml.Client) -> str:
    run_id = client.create_run().info.run_id
    client.log_metric(run_id, "good", 1.0)
    client.log_param(run_id, "kept", "yes")
    return run_id


@pytest.mark.parametrize("key, message", [
    ("", "must not be empty"),
    ("bad!key", "invalid metric key 'bad!key'"),
    ("x" * 251, "251 characters"),
    ("../escape", "'..'"),
    ("/abs", "relative path"),
    (42, "must be a string, got int 42"),
])
def test_bad_metric_keys(client: lakeml.Client, run_id: str, key: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        client.log_metric(run_id, key, 1.0)  # type: ignore[arg-type]


def test_accepted_key_characters(client: lakeml.Client, run_id: str) -> None:
    client.log_metric(run_id, "train/loss-1.x y_z", 1.0)
    assert "train/loss-1.x y_z" in client.get_run(run_id).data.metrics


@pytest.mark.parametrize("value", ["1.5", None, [1.0], object()])
def test_bad_metric_values(client: lakeml.Client, run_id: str, value: object) -> None:
    with pytest.raises(InvalidArgument, match="'m' got value"):
        client.log_metric(run_id, "m", value)  # type: ignore[arg-type]


def test_numpy_scalars_are_numbers(client: lakeml.Client, run_id: str) -> None:
    import numpy as np

    client.log_metric(run_id, "np", np.float32(0.5), step=np.int64(3))
    (m,) = client.get_metric_history(run_id, "np")
    assert (m.value, m.step) == (0.5, 3)


@pytest.mark.parametrize("step", [1.5, "3", True])
def test_bad_steps(client: lakeml.Client, run_id: str, step: object) -> None:
    with pytest.raises(InvalidArgument, match="step"):
        client.log_metric(run_id, "m", 1.0, step=step)  # type: ignore[arg-type]


def test_param_value_length(client: lakeml.Client, run_id: str) -> None:
    client.log_param(run_id, "ok", "v" * 6000)
    with pytest.raises(InvalidArgument, match="6001 characters; the limit is 6000"):
        client.log_param(run_id, "long", "v" * 6001)


def test_bad_batch_logs_nothing(client: lakeml.Client, run_id: str) -> None:
    with pytest.raises(InvalidArgument, match="bad key"):
        client.log_batch(run_id, metrics={"fine": 1.0, "bad key!": 2.0}, params={"p": 1})
    run = client.get_run(run_id)
    assert run.data.metrics == {"good": 1.0} and run.data.params == {"kept": "yes"}


def test_bad_names_and_ids(client: lakeml.Client) -> None:
    with pytest.raises(InvalidArgument, match="experiment name must not be empty"):
        client.create_experiment("  ")
    with pytest.raises(InvalidArgument, match="run_id must be a non-empty string"):
        client.get_run("has space")
    with pytest.raises(InvalidArgument, match="exactly one"):
        lakeml.set_experiment()


def test_errors_share_one_base(client: lakeml.Client) -> None:
    with pytest.raises(LakemlError):
        client.get_run("missing")
    with pytest.raises(ValueError):  # InvalidArgument is also a ValueError
        client.create_experiment("")


def test_store_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "not-a-folder"
    path.write_text("x")
    with pytest.raises(StoreUnavailable, match="is a file"):
        lakeml.Client(str(path))


def test_unwritable_store(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores permission bits: use a path below a file instead
        (tmp_path / "f").write_text("x")
        target = tmp_path / "f" / "lake"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "lake"
    with pytest.raises(StoreUnavailable, match=str(target)):
        lakeml.Client(str(target))


def test_unsupported_scheme() -> None:
    with pytest.raises(InvalidArgument, match="unsupported scheme 'ftp'"):
        lakeml.set_store("ftp://host/lake")


def test_store_lost_mid_run_keeps_rows_until_it_is_back(tmp_path: Path) -> None:
    import shutil

    uri = tmp_path / "lake"
    client = lakeml.Client(str(uri))
    run_id = client.create_run().info.run_id
    client.log_metric(run_id, "m", 1.0, step=0)
    client.flush()
    moved = tmp_path / "moved"
    shutil.move(str(uri), str(moved))
    (uri).write_text("the store is gone")  # the folder is now unreachable
    client.log_metric(run_id, "m", 2.0, step=1)
    with pytest.raises(LakemlError):
        client.flush()
    assert client.store.writer.unflushed_rows() >= 1
    uri.unlink()
    shutil.move(str(moved), str(uri))
    client.flush()
    assert [m.value for m in client.get_metric_history(run_id, "m")] == [1.0, 2.0]


@pytest.mark.parametrize("log", [
    lambda c, r: c.log_metric(r, "loss\n", 1.0),
    lambda c, r: c.log_param(r, "p\n", 1),
    lambda c, r: c.set_tag(r, "t\n", "v"),
    lambda c, r: c.log_batch(r, metrics={"a\n": 1.0}),
])
def test_a_trailing_newline_is_not_a_valid_key(client: lakeml.Client, run_id: str,
                                               log) -> None:  # noqa: ANN001
    with pytest.raises(InvalidArgument, match=r"\\n'"):
        log(client, run_id)
    run = client.get_run(run_id)
    assert run.data.metrics == {"good": 1.0} and run.data.params == {"kept": "yes"}


@pytest.mark.parametrize("name", ["evil\nname", "a\x1b[31mred", "nul\x00", "tab\there",
                                  "c1\x85", "del\x7f"])
def test_names_with_control_characters_are_refused(client: lakeml.Client, name: str) -> None:
    shown = repr(name)[1:-1]
    with pytest.raises(InvalidArgument, match=re.escape(shown)):
        client.create_experiment(name)
    with pytest.raises(InvalidArgument, match="run name .*control characters"):
        client.create_run(run_name=name)
    exp_id = client.create_experiment("fine")
    with pytest.raises(InvalidArgument, match="control characters"):
        client.rename_experiment(exp_id, name)
    run_id = client.create_run(run_name="ok").info.run_id
    with pytest.raises(InvalidArgument, match="control characters"):
        client.update_run(run_id, name=name)
    assert client.get_experiment(exp_id).name == "fine"
    assert client.get_run(run_id).info.run_name == "ok"
    assert client.get_experiment_by_name(name) is None  # looking a name up is no error


def test_printable_names_with_unicode_are_accepted(client: lakeml.Client) -> None:
    exp_id = client.create_experiment("modèle – 実験 ✓")
    assert client.get_experiment_by_name("modèle – 実験 ✓").experiment_id == exp_id
