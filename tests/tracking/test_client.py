"""The explicit-id Client: experiments, runs, batches, soft deletes."""

from __future__ import annotations

import inspect
import time

import pytest

import lakeml
from lakeml.entities import Metric, Param, RunTag
from lakeml.errors import AlreadyExists, InvalidArgument, InvalidState, NotFound
from lakeml.tracking import backend as backend_module
from tests.conftest import run_python


def test_experiment_lifecycle(client: lakeml.Client) -> None:
    exp_id = client.create_experiment("a", tags={"owner": "me"})
    exp = client.get_experiment(exp_id)
    assert (exp.name, exp.lifecycle_stage, exp.tags) == ("a", "active", {"owner": "me"})
    assert exp.artifact_location.endswith(f"/artifacts/{exp_id}")
    with pytest.raises(AlreadyExists, match="'a' already exists"):
        client.create_experiment("a")
    client.rename_experiment(exp_id, "b")
    assert client.get_experiment_by_name("a") is None
    assert client.get_experiment_by_name("b").experiment_id == exp_id
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert exp_id not in [e.experiment_id for e in client.search_experiments()]
    assert exp_id in [e.experiment_id for e in client.search_experiments("DELETED_ONLY")]
    with pytest.raises(AlreadyExists, match="deleted"):
        client.create_experiment("b")
    with pytest.raises(InvalidState, match="deleted"):
        client.create_run(exp_id)
    client.restore_experiment(exp_id)
    assert client.create_run(exp_id).info.experiment_id == exp_id
    client.set_experiment_tag(exp_id, "k", "v")
    client.delete_experiment_tag(exp_id, "owner")
    assert client.get_experiment(exp_id).tags == {"k": "v"}


def test_missing_things_raise_not_found(client: lakeml.Client) -> None:
    with pytest.raises(NotFound, match="no experiment with id '42'"):
        client.get_experiment("42")
    with pytest.raises(NotFound, match="no run with id 'nope'"):
        client.get_run("nope")
    with pytest.raises(NotFound, match="no run"):
        client.log_metric("nope", "m", 1.0)


def test_default_experiment_cannot_be_deleted(client: lakeml.Client) -> None:
    assert client.get_experiment("0").name == "Default"
    with pytest.raises(InvalidArgument, match="Default"):
        client.delete_experiment("0")


def test_log_batch_with_dicts_and_entities(client: lakeml.Client) -> None:
    run_id = client.create_run(run_name="r").info.run_id
    client.log_batch(run_id, metrics={"a": 1.0, "b": 2}, params={"p": 1}, tags={"t": "x"})
    client.log_batch(run_id, metrics=[Metric("a", 3.0, 1_700_000_000_000, 5)],
                     params=[Param("q", "2")], tags=[RunTag("t", "y")])
    client.set_terminated(run_id)
    run = client.get_run(run_id)
    assert run.data.metrics == {"a": 3.0, "b": 2.0}
    assert run.data.params == {"p": "1", "q": "2"}
    assert run.data.tags["t"] == "y"
    history = client.get_metric_history(run_id, "a")
    assert [(m.value, m.step) for m in history] == [(1.0, 0), (3.0, 5)]
    assert history[1].timestamp == 1_700_000_000_000


def test_params_are_immutable(client: lakeml.Client) -> None:
    run_id = client.create_run().info.run_id
    client.log_param(run_id, "alpha", 0.5)
    client.log_param(run_id, "alpha", "0.5")  # the same value again is fine
    with pytest.raises(InvalidArgument, match="'alpha'.*'0.5'.*'0.7'"):
        client.log_param(run_id, "alpha", 0.7)
    with pytest.raises(InvalidArgument, match="'beta'"):
        client.log_batch(run_id, params=[Param("beta", "1"), Param("beta", "2")])
    assert client.get_run(run_id).data.params == {"alpha": "0.5"}


def test_params_immutable_across_processes_and_clients(client: lakeml.Client,
                                                       store_uri: str) -> None:
    run_id = client.create_run().info.run_id
    client.log_param(run_id, "alpha", 1)
    client.flush()
    from lakeml.tracking import backend

    backend.close_all()  # forget everything this process knew about the run
    fresh = lakeml.Client(store_uri)
    with pytest.raises(InvalidArgument, match="immutable"):
        fresh.log_param(run_id, "alpha", 2)


def test_tags_set_overwrite_and_delete(client: lakeml.Client) -> None:
    run_id = client.create_run().info.run_id
    client.set_tag(run_id, "k", "1")
    client.set_tag(run_id, "k", "2")
    assert client.get_run(run_id).data.tags["k"] == "2"
    client.delete_tag(run_id, "k")
    assert "k" not in client.get_run(run_id).data.tags
    with pytest.raises(NotFound, match="no tag 'k'"):
        client.delete_tag(run_id, "k")
    client.set_tag(run_id, "k", "3")
    assert client.get_run(run_id).data.tags["k"] == "3"


def test_delete_restore_and_list_runs(client: lakeml.Client) -> None:
    exp_id = client.create_experiment("e")
    # Distinct start times: runs started in the same millisecond tie, and ties
    # go by run id (as in MLflow), which would not test "newest first".
    ids = [client.create_run(exp_id, run_name=f"r{i}",
                             start_time=1_700_000_000_000 + i).info.run_id for i in range(3)]
    client.delete_run(ids[1])
    assert [r.run_id for r in client.list_runs(exp_id)] == [ids[2], ids[0]]
    assert [r.run_id for r in client.list_runs(exp_id, "DELETED_ONLY")] == [ids[1]]
    assert len(client.list_runs(exp_id, lakeml.ViewType.ALL)) == 3
    with pytest.raises(InvalidState, match="deleted"):
        client.log_metric(ids[1], "m", 1.0)
    client.restore_run(ids[1])
    client.log_metric(ids[1], "m", 1.0)
    assert client.get_run(ids[1]).info.lifecycle_stage == "active"


def test_an_ended_run_takes_logging_and_a_deleted_one_refuses_it(client: lakeml.Client) -> None:
    """MLflow's rule: the lifecycle decides, not the status."""
    run_id = client.create_run().info.run_id
    client.log_metric(run_id, "m", 1.0)
    client.set_terminated(run_id, "FAILED")
    client.log_metric(run_id, "m", 2.0, step=1)
    client.log_param(run_id, "p", 1)
    client.set_tag(run_id, "t", 1)
    run = client.get_run(run_id)
    assert run.info.status == "FAILED" and run.data.metrics == {"m": 2.0}
    assert run.data.params == {"p": "1"} and run.data.tags["t"] == "1"
    client.delete_run(run_id)
    for call in (lambda: client.log_metric(run_id, "m", 3.0),
                 lambda: client.log_param(run_id, "q", 1),
                 lambda: client.set_tag(run_id, "t", 2)):
        with pytest.raises(InvalidState, match=f"run '{run_id}' is deleted"):
            call()
    client.restore_run(run_id)
    run = client.get_run(run_id)
    assert run.data.metrics == {"m": 2.0} and run.data.tags["t"] == "1"
    with pytest.raises(InvalidArgument, match="'DONE'"):
        client.set_terminated(run_id, "DONE")


def test_update_run_renames(client: lakeml.Client) -> None:
    run_id = client.create_run(run_name="old").info.run_id
    client.update_run(run_id, name="new")
    run = client.get_run(run_id)
    assert run.info.run_name == "new" and run.data.tags["mlflow.runName"] == "new"


def test_two_clients_share_one_writer(store_uri: str) -> None:
    a, b = lakeml.Client(store_uri), lakeml.Client(store_uri)
    run_id = a.create_run().info.run_id
    a.log_metric(run_id, "m", 1.0)
    assert b.get_run(run_id).data.metrics == {"m": 1.0}  # read-your-writes, no flush call


def test_deleted_experiment_refuses_new_runs(client: lakeml.Client, store_uri: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    exp_id = client.create_experiment("short-lived")
    client.create_run(exp_id)  # caches the experiment as active
    client.delete_experiment(exp_id)  # this process's change applies at once
    with pytest.raises(InvalidState, match="short-lived"):
        client.create_run(exp_id)
    client.restore_experiment(exp_id)
    client.create_run(exp_id)

    # Another process's deletion is seen once the cached copy is older than
    # EXPERIMENT_CACHE_SECONDS.
    monkeypatch.setattr(backend_module, "EXPERIMENT_CACHE_SECONDS", 0.2)
    run_python(f"import lakeml; lakeml.Client({store_uri!r}).delete_experiment({exp_id!r})")
    time.sleep(0.3)
    with pytest.raises(InvalidState, match="deleted"):
        client.create_run(exp_id)


def test_reads_see_this_process_writes_at_once(client: lakeml.Client) -> None:
    run_id = client.create_run().info.run_id
    client.log_batch(run_id, metrics={"m": 1.5}, params={"p": "x"}, tags={"t": "y"})
    run = client.get_run(run_id)  # nothing flushed explicitly
    assert (run.data.metrics, run.data.params, run.data.tags["t"]) == ({"m": 1.5}, {"p": "x"}, "y")


def test_times_returned_at_creation_match_what_is_read(client: lakeml.Client) -> None:
    run = client.create_run()
    client.set_terminated(run.info.run_id)
    read = client.get_run(run.info.run_id).info
    assert read.start_time == run.info.start_time
    assert read.end_time is not None and read.end_time >= read.start_time
    found = client.search_runs([run.info.experiment_id], f"attributes.start_time = "
                               f"{run.info.start_time}")
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_no_two_parts_of_client_define_the_same_method(client: lakeml.Client) -> None:
    # The services are assembled from parts whose calls they bind as their own; a name
    # two parts (or a part and its service) define would leave one of them unreachable
    # (runs' and registry's _page once clashed), and a name both services offer would
    # make the Client's target ambiguous.
    owners: dict[str, str] = {}
    clashes = []
    for service in (client.tracking, client.registry):
        parts = {type(service)} | {type(bound.__self__) for bound in vars(service).values()
                                   if inspect.ismethod(bound)}
        for cls in sorted(parts, key=lambda c: c.__qualname__):
            for name, value in vars(cls).items():
                if not callable(value) or name.startswith("_"):
                    continue
                if name in owners and not _overrides(owners[name], cls, name):
                    clashes.append(f"{name}: {owners[name]} and {cls.__qualname__}")
                owners.setdefault(name, cls.__qualname__)
    assert clashes == []


def _overrides(first: str, cls: type, name: str) -> bool:
    """Whether the first definer deliberately overrides ``cls``'s method (calls super)."""
    owner = next((c for c in type.mro(cls)[1:] if c.__qualname__ == first), None)
    return owner is not None and "super()" in inspect.getsource(vars(owner)[name])
