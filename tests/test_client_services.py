"""The Client is a facade: it holds a tracking and a registry service and forwards to them.

A fake service, in memory and with only the calls a test makes, stands in for the
lake; the lake services must offer every call of the protocols, and the Client
must forward every one of them with the same signature.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import lakeml
from lakeml import fluent
from lakeml.client import lake_services
from lakeml.entities import Metric, RegisteredModel, Run, RunData, RunInfo
from lakeml.errors import InvalidArgument, NotFound
from lakeml.services import RegistryService, TrackingService


class FakeTracking:
    """A TrackingService in memory: experiments, runs and metric points in dicts."""

    def __init__(self) -> None:
        self.experiments: dict[str, str] = {}
        self.runs: dict[str, RunInfo] = {}
        self.points: list[Metric] = []

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str:
        exp_id = str(len(self.experiments) + 1)
        self.experiments[exp_id] = name
        return exp_id

    def create_run(self, experiment_id: str | None = None, start_time: int | None = None,
                   tags: Any = None, run_name: str | None = None, *,
                   parent_run_id: str | None = None) -> Run:
        run_id = f"run-{len(self.runs)}"
        self.runs[run_id] = RunInfo(run_id, experiment_id or "0", run_name, "fake", "RUNNING",
                                    start_time or 0, None, "memory://", "active")
        return Run(self.runs[run_id], RunData())

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                   step: int | None = None) -> None:
        self.points.append(Metric(key, value, timestamp or 0, step or 0, run_id))

    def get_run(self, run_id: str) -> Run:
        if run_id not in self.runs:
            raise NotFound(f"no run with id {run_id!r}")
        latest = {p.key: p.value for p in self.points if p.run_id == run_id}
        return Run(self.runs[run_id], RunData(metrics=latest))


class FakeRegistry:
    """A RegistryService in memory, with the one call the test makes."""

    def __init__(self) -> None:
        self.models = {"churn": RegisteredModel("churn", 1, 2)}

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.models[name]


def test_client_forwards_to_the_services_it_is_given(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a lake store would appear here as ./lakeml-store
    tracking, registry = FakeTracking(), FakeRegistry()
    client = lakeml.Client(tracking=tracking, registry=registry)
    assert client.tracking is tracking and client.registry is registry
    exp_id = client.create_experiment("fake")
    run = client.create_run(exp_id, run_name="r")
    client.log_metric(run.info.run_id, "loss", 0.5, step=3)
    client.log_metric(run.info.run_id, "loss", 0.25, step=4)
    assert tracking.experiments == {exp_id: "fake"}
    assert [(p.value, p.step) for p in tracking.points] == [(0.5, 3), (0.25, 4)]
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.25}
    with pytest.raises(NotFound):
        client.get_run("missing")
    assert client.get_registered_model("churn") is registry.models["churn"]
    assert list(tmp_path.iterdir()) == []  # nothing of a lake was opened


def test_both_services_are_given_together_and_without_a_store() -> None:
    with pytest.raises(InvalidArgument, match="both tracking= and registry="):
        lakeml.Client(tracking=FakeTracking())
    with pytest.raises(InvalidArgument, match="no store_uri"):
        lakeml.Client("/tmp/lake", tracking=FakeTracking(), registry=FakeRegistry())


@pytest.mark.parametrize("uri", ["http://127.0.0.1:5000", "https://tracking.example.com",
                                 "HTTP://127.0.0.1:5000/"])
def test_http_stores_are_served_by_the_rest_client(uri: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from lakeml.rest import RestRegistryService, RestTrackingService

    monkeypatch.chdir(tmp_path)
    clients = [lakeml.Client(uri)]
    lakeml.set_store(uri)
    clients.append(fluent.state.client())
    monkeypatch.setenv("LAKEML_STORE", uri)
    lakeml.set_store(tmp_path / "unused")
    fluent.reset()
    clients.append(lakeml.Client())
    for client in clients:  # made without a request: the server is asked on first use
        assert isinstance(client.tracking, RestTrackingService)
        assert isinstance(client.registry, RestRegistryService)
        assert client.store_uri == uri.rstrip("/").replace("HTTP", "http")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidArgument, match="names a tracking server, not a lake"):
        lake_services(uri)


def test_the_rest_services_offer_every_call_of_the_protocols() -> None:
    from lakeml.rest import rest_services

    tracking, registry = rest_services("http://127.0.0.1:9")  # nothing is sent
    for protocol, service in ((TrackingService, tracking), (RegistryService, registry)):
        assert isinstance(service, protocol)
        for name, member in _protocol_members(protocol).items():
            if isinstance(member, property):
                continue
            expected = list(inspect.signature(member).parameters.values())[1:]
            found = list(inspect.signature(getattr(service, name)).parameters.values())
            assert found == expected, name


def test_a_subclass_that_overrides_log_metric_is_called(tmp_path: Path) -> None:
    seen = []

    class Counting(lakeml.Client):
        def log_metric(self, run_id: str, key: str, value: float, timestamp: int | None = None,
                       step: int | None = None) -> None:
            seen.append((key, value))
            super().log_metric(run_id, key, value, timestamp, step)

    client = Counting(tracking=FakeTracking(), registry=FakeRegistry())
    run = client.create_run(client.create_experiment("sub"))
    client.log_metric(run.info.run_id, "loss", 0.5)
    assert seen == [("loss", 0.5)]
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}


def test_client_has_no_lakeml_base_class() -> None:
    assert lakeml.Client.__mro__ == (lakeml.Client, object)


def _protocol_members(protocol: type) -> dict[str, Any]:
    return {name: value for name, value in vars(protocol).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))}


@pytest.mark.parametrize("protocol", [TrackingService, RegistryService])
def test_the_client_forwards_every_call_of_the_protocols(protocol: type) -> None:
    members = _protocol_members(protocol)
    assert len(members) > 30
    for name, member in members.items():
        mine = vars(lakeml.Client).get(name)
        assert mine is not None, f"Client lacks {protocol.__name__}.{name}"
        if isinstance(member, property):
            assert isinstance(mine, property), name
            continue
        assert inspect.signature(mine) == inspect.signature(member), name
        assert mine.__doc__ == member.__doc__, name


def test_the_two_protocols_share_no_call() -> None:
    # Each Client call forwards to exactly one service.
    assert set(_protocol_members(TrackingService)) & set(_protocol_members(RegistryService)) \
        == set()


def test_the_lake_services_offer_every_call_of_the_protocols(store_uri: str) -> None:
    client = lakeml.Client(store_uri)
    for protocol, service in ((TrackingService, client.tracking),
                              (RegistryService, client.registry)):
        assert isinstance(service, protocol)
        for name, member in _protocol_members(protocol).items():
            if isinstance(member, property):
                continue
            # the parameters as the protocol's (a return type may be narrower)
            expected = list(inspect.signature(member).parameters.values())[1:]
            found = list(inspect.signature(getattr(service, name)).parameters.values())
            assert found == expected, name
    past = client.registry_as_of("2000-01-01")
    assert isinstance(past, RegistryService) and past.search_registered_models() == []


def test_service_classes_compose_instead_of_inheriting() -> None:
    # No class of the client, services, tracking or registry has two lakeml bases, and no
    # lakeml chain is deeper than two (a part and its base).
    too_deep = []
    for package in ("lakeml.tracking", "lakeml.registry", "lakeml.services", "lakeml.rest"):
        modules = [importlib.import_module(f"{package}.{m.name}")
                   for m in pkgutil.iter_modules(importlib.import_module(package).__path__)]
        for module in [*modules, importlib.import_module("lakeml.client")]:
            for cls in vars(module).values():
                if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                    continue
                ours = [c for c in cls.__mro__ if c.__module__.startswith("lakeml.")]
                bases = [b for b in cls.__bases__ if b.__module__.startswith("lakeml.")]
                if len(bases) > 1 or len(ours) > 2:
                    too_deep.append(cls.__qualname__)
    assert too_deep == []
