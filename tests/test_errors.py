"""Errors with MLflow's codes, and a walk of the public API with bad arguments.

Every public call, given a wrongly typed or out-of-range argument, must raise
a LakemlError subclass with a message (an InvalidArgument or NotFound names
the value): never a raw TypeError, DuckDB, pyarrow or deltalake error.
"""

from __future__ import annotations

import inspect
import math
import pkgutil
import re
from pathlib import Path
from typing import Any, Callable

import pytest

import lakeml
import lakeml.pyfunc
from lakeml import errors
from lakeml.entities import Metric
from lakeml.errors import (
    AlreadyExists,
    CommitConflict,
    InvalidArgument,
    InvalidState,
    LakemlError,
    NotFound,
    NotSupported,
    PermissionDenied,
    StoreUnavailable,
)
from lakeml.tracking import backend

# ---- the error classes ----------------------------------------------------------

# MLflow's own mapping (mlflow/exceptions.py ERROR_CODE_TO_HTTP_STATUS), as lakeml uses it.
MLFLOW = {InvalidArgument: ("INVALID_PARAMETER_VALUE", 400),
          NotFound: ("RESOURCE_DOES_NOT_EXIST", 404),
          AlreadyExists: ("RESOURCE_ALREADY_EXISTS", 400),
          InvalidState: ("INVALID_STATE", 500),
          PermissionDenied: ("PERMISSION_DENIED", 403),
          CommitConflict: ("ABORTED", 409),
          NotSupported: ("NOT_IMPLEMENTED", 501),
          StoreUnavailable: ("TEMPORARILY_UNAVAILABLE", 503),
          LakemlError: ("INTERNAL_ERROR", 500)}


def _all_error_classes() -> list[type[LakemlError]]:
    """Every LakemlError subclass defined anywhere in lakeml (modules imported first)."""
    import importlib

    for info in pkgutil.walk_packages(lakeml.__path__, "lakeml."):
        if any(part in info.name for part in (".spark", "pytorch", "lightgbm", "xgboost",
                                               "__main__", ".demo")):
            continue
        importlib.import_module(info.name)
    found, todo = [], [LakemlError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [c for c in found if c.__module__.startswith("lakeml")]


@pytest.mark.parametrize("cls", list(MLFLOW), ids=lambda c: c.__name__)
def test_each_class_carries_mlflows_code_and_status(cls: type[LakemlError]) -> None:
    code, status = MLFLOW[cls]
    assert (cls.error_code, cls.http_status) == (code, status)
    assert errors.http_status_of(code) == status
    err = cls("the message")
    assert err.to_dict() == {"error_code": code, "message": "the message"}
    back = LakemlError.from_dict(err.to_dict())
    # the class itself, or the most general class of that code (StoreUnavailable's
    # TEMPORARILY_UNAVAILABLE comes back as TemporarilyUnavailable, its base)
    assert isinstance(err, type(back)) and back.error_code == code
    assert str(back) == "the message"


def test_a_deleted_target_is_an_invalid_state_sent_as_mlflows_400() -> None:
    from lakeml.errors import Deleted

    err = Deleted("run 'r1' is deleted; restore it before logging")
    assert isinstance(err, InvalidState) and isinstance(err, InvalidArgument)
    assert (err.error_code, err.http_status) == ("INVALID_PARAMETER_VALUE", 400)
    back = LakemlError.from_dict(err.to_dict(), http_status=400)
    assert type(back) is Deleted and str(back) == str(err)  # a REST client raises it too
    other = LakemlError.from_dict({"error_code": "INVALID_PARAMETER_VALUE", "message": "x"})
    assert type(other) is InvalidArgument
    quoting = "run 'r1' has no tag 'is deleted; restore it'"  # the words, in a bad value
    assert type(LakemlError.from_dict({"error_code": "INVALID_PARAMETER_VALUE",
                                       "message": quoting})) is InvalidArgument
    for name in ("it's", 'say "hi"', 'it\'s "v2"', "back\\slash"):  # every repr() quoting
        said = Deleted(f"experiment {name!r} (id '7') is deleted; restore it first")
        assert type(LakemlError.from_dict(said.to_dict())) is Deleted, name


def test_every_lakeml_error_has_a_known_code() -> None:
    classes = _all_error_classes()
    assert len(classes) >= len(MLFLOW) + 2  # the projects' and payloads' own errors too
    for cls in classes:
        assert cls.error_code in errors.HTTP_STATUS, cls
        assert cls.http_status == errors.HTTP_STATUS[cls.error_code], cls
        assert issubclass(errors.error_for_code(cls.error_code), LakemlError)


def test_existing_except_sites_keep_working() -> None:
    with pytest.raises(ValueError):
        raise InvalidArgument("x")
    with pytest.raises(KeyError):
        raise NotFound("x")
    with pytest.raises(NotImplementedError):
        raise NotSupported("x")
    assert str(NotFound("no run 'a'")) == "no run 'a'"  # KeyError would quote it


def test_unknown_codes_fall_back_on_the_status_then_the_base() -> None:
    assert type(LakemlError.from_dict({"error_code": "MYSTERY", "message": "m"},
                                      http_status=404)) is NotFound
    assert type(LakemlError.from_dict({"message": "m"})) is LakemlError
    assert str(LakemlError.from_dict({"error_code": "MYSTERY"})) == "error MYSTERY"
    assert errors.error_for_code("RESOURCE_ALREADY_EXISTS") is AlreadyExists
    assert errors.error_for_code("TEMPORARILY_UNAVAILABLE").http_status == 503
    assert errors.error_for_code("BAD_REQUEST").http_status == 400
    assert issubclass(errors.error_for_code("BAD_REQUEST"), InvalidArgument)


# ---- the API walk --------------------------------------------------------------------


class Bad:
    """An object of no type the API knows (its repr names it)."""

    def __repr__(self) -> str:
        return "<Bad>"


NAN = float("nan")
HUGE = 2**70
NOT_STRINGS = [None, 7, 1.5, NAN, ["x"], {"a": 1}, b"x", Bad(), True]
NOT_COUNTS = [-1, 0, "x", "10", 1.5, NAN, HUGE, [], {"a": 1}, b"x", True, Bad()]
NOT_MAPPINGS = ["x", 7, 1.5, ["x"], Bad(), True, b"x"]
NOT_COLLECTIONS = ["x", 7, 1.5, Bad(), True, b"x", ["x"], [None]]
NOT_STRING_LISTS = [7, 1.5, {"a": 1}, b"x", Bad(), True, [1.5], [None], [["x"]]]
NOT_RUN_IDS = [None, 7, 1.5, ["x"], {"a": 1}, b"x", Bad(), "", " ", "no-such-run"]
NOT_EXPERIMENT_IDS = [1.5, ["x"], {"a": 1}, b"x", Bad(), True, "no-such-experiment"]
NOT_NUMBERS = [None, "x", "1", [], {"a": 1}, b"x", Bad()]
NOT_INTS = ["x", 1.5, NAN, [], {"a": 1}, b"x", Bad()]
NOT_TIMES = ["x", NAN, [], {"a": 1}, b"x", Bad()]  # a float of milliseconds is truncated
NOT_TOKENS = [7, 1.5, [], {"a": 1}, b"x", Bad(), True, "garbage", "e30="]


class World:
    """A store with one experiment, one RUNNING run and one registered model."""

    def __init__(self, uri: str, exp: str, run: str) -> None:
        self.uri, self.exp, self.run = uri, exp, run
        self.client: lakeml.Client


def _tiny_model(folder: Path) -> str:
    from sklearn.linear_model import LinearRegression

    import lakeml.sklearn

    path = str(folder / "model")
    lakeml.sklearn.save_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), path)
    return path


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> World:
    uri = str(tmp_path_factory.mktemp("walk") / "lake")
    client = lakeml.Client(uri)
    exp = client.create_experiment("walk")
    run = client.create_run(exp).info.run_id
    client.log_metric(run, "m", 1.0)
    client.create_registered_model("model")
    client.create_model_version("model", _tiny_model(tmp_path_factory.mktemp("m")), run)
    client.flush()
    backend.close_all()
    return World(uri, exp, run)


@pytest.fixture
def world(made: World) -> World:
    lakeml.set_store(made.uri)
    made.client = lakeml.Client(made.uri)
    return made


Call = Callable[[World, Any], Any]
CASES: list[tuple[str, Call, list[Any]]] = [
    # fluent
    ("start_run(run_id)", lambda w, b: lakeml.start_run(run_id=b),
     [x for x in NOT_RUN_IDS if x not in (None, "")]),
    ("start_run(experiment_id)", lambda w, b: lakeml.start_run(experiment_id=b),
     NOT_EXPERIMENT_IDS),
    ("start_run(tags)", lambda w, b: lakeml.start_run(tags=b), NOT_MAPPINGS),
    ("log_param(key)", lambda w, b: lakeml.log_param(b, 1, run_id=w.run), NOT_STRINGS),
    ("log_param(run_id)", lambda w, b: lakeml.log_param("p", 1, run_id=b),
     [x for x in NOT_RUN_IDS if x is not None and x != ""]),
    ("log_metric(key)", lambda w, b: lakeml.log_metric(b, 1.0, run_id=w.run), NOT_STRINGS),
    ("log_metric(value)", lambda w, b: lakeml.log_metric("m", b, run_id=w.run), NOT_NUMBERS),
    ("log_metric(step)", lambda w, b: lakeml.log_metric("m", 1.0, b, run_id=w.run), NOT_INTS),
    ("log_metric(timestamp)", lambda w, b: lakeml.log_metric("m", 1.0, timestamp=b,
                                                            run_id=w.run), NOT_TIMES),
    ("log_params", lambda w, b: lakeml.log_params(b, run_id=w.run), [None, *NOT_MAPPINGS]),
    ("log_metrics", lambda w, b: lakeml.log_metrics(b, run_id=w.run), [None, *NOT_MAPPINGS]),
    ("log_metrics(step)", lambda w, b: lakeml.log_metrics({"m": 1.0}, b, run_id=w.run),
     NOT_INTS),
    ("set_tag(key)", lambda w, b: lakeml.set_tag(b, "v", run_id=w.run), NOT_STRINGS),
    ("set_tags", lambda w, b: lakeml.set_tags(b, run_id=w.run), [None, *NOT_MAPPINGS]),
    ("delete_tag(key)", lambda w, b: lakeml.delete_tag(b, run_id=w.run),
     [*NOT_STRINGS, "no-such-tag"]),
    ("search_runs(max_results)", lambda w, b: lakeml.search_runs([w.exp], max_results=b),
     NOT_COUNTS),
    ("search_runs(max_results, list)", lambda w, b: lakeml.search_runs(
        [w.exp], max_results=b, output_format="list"), NOT_COUNTS),
    ("search_runs(filter_string)", lambda w, b: lakeml.search_runs([w.exp], b),
     [x for x in NOT_STRINGS if x is not None] + ["metrics.m <", "nonsense = 1"]),
    ("search_runs(order_by)", lambda w, b: lakeml.search_runs([w.exp], order_by=b),
     [*NOT_STRING_LISTS, "metrics.m SIDEWAYS"]),
    ("search_runs(experiment_ids)", lambda w, b: lakeml.search_runs(b), NOT_STRING_LISTS),
    # [None] and unknown names find no run, as in MLflow (tests/tracking/test_mlflow_parity.py)
    ("search_runs(experiment_names)", lambda w, b: lakeml.search_runs(experiment_names=b),
     [x for x in NOT_STRING_LISTS if x != [None]]),
    ("search_runs(output_format)", lambda w, b: lakeml.search_runs([w.exp], output_format=b),
     NOT_STRINGS),
    ("search_runs(run_view_type)", lambda w, b: lakeml.search_runs([w.exp], run_view_type=b),
     ["x", 99, NAN, HUGE, [], Bad(), None]),
    ("get_run", lambda w, b: lakeml.get_run(b), NOT_RUN_IDS),
    ("get_experiment", lambda w, b: lakeml.get_experiment(b), [None, *NOT_EXPERIMENT_IDS]),
    ("get_experiment_by_name", lambda w, b: lakeml.get_experiment_by_name(b), NOT_STRINGS),
    ("set_experiment(name)", lambda w, b: lakeml.set_experiment(b), NOT_STRINGS),
    ("set_experiment(id)", lambda w, b: lakeml.set_experiment(experiment_id=b),
     NOT_EXPERIMENT_IDS),
    ("create_experiment(name)", lambda w, b: lakeml.create_experiment(b), NOT_STRINGS),
    ("create_experiment(tags)", lambda w, b: lakeml.create_experiment(f"t{id(b)}", tags=b),
     NOT_MAPPINGS),
    ("create_experiment(artifact_location)", lambda w, b: lakeml.create_experiment(
        f"a{id(b)}", artifact_location=b), [x for x in NOT_STRINGS if x is not None]),
    ("delete_experiment", lambda w, b: lakeml.delete_experiment(b),
     [None, *NOT_EXPERIMENT_IDS]),
    ("register_model(uri)", lambda w, b: lakeml.register_model(b, "model"),
     [*NOT_STRINGS, "runs:/no-such-run/model", "nonsense:/x"]),
    ("register_model(name)", lambda w, b: lakeml.register_model(f"runs:/{w.run}/model", b),
     NOT_STRINGS),
    ("pyfunc.load_model", lambda w, b: lakeml.pyfunc.load_model(b),
     [*NOT_STRINGS, "/no/such/folder", "runs:/no-such-run/model"]),
    ("sql(query)", lambda w, b: lakeml.sql(b), [*NOT_STRINGS, "SELECT nonsense FROM runs"]),
    ("sql(params)", lambda w, b: lakeml.sql("SELECT ?", b), ["x", 7, 1.5, Bad(), b"x"]),
    ("set_store", lambda w, b: lakeml.set_store(b), [None, 7, ["x"], {"a": 1}, Bad(), "",
                                                     "ftp://host/x"]),
    # Client: tracking
    ("Client(store_uri)", lambda w, b: lakeml.Client(b), [7, ["x"], {"a": 1}, Bad(), b"x"]),
    ("Client.search_runs(max_results)", lambda w, b: w.client.search_runs(
        [w.exp], max_results=b), [*NOT_COUNTS, 50_001]),
    ("Client.search_runs(page_token)", lambda w, b: w.client.search_runs(
        [w.exp], page_token=b), NOT_TOKENS),
    ("Client.search_runs(filter_string)", lambda w, b: w.client.search_runs([w.exp], b),
     [x for x in NOT_STRINGS if x is not None]),
    ("Client.search_runs(order_by)", lambda w, b: w.client.search_runs([w.exp], order_by=b),
     NOT_STRING_LISTS),
    ("Client.search_runs(experiment_ids)", lambda w, b: w.client.search_runs(b),
     [None, *NOT_STRING_LISTS]),
    ("Client.search_runs_table(max_results)", lambda w, b: w.client.search_runs_table(
        [w.exp], max_results=b), NOT_COUNTS),
    ("Client.list_runs(max_results)", lambda w, b: w.client.list_runs(w.exp, max_results=b),
     NOT_COUNTS),
    ("Client.search_experiments(max_results)", lambda w, b: w.client.search_experiments(
        max_results=b), NOT_COUNTS),
    ("Client.search_experiments(view_type)", lambda w, b: w.client.search_experiments(b),
     ["x", 99, NAN, [], Bad()]),
    ("Client.create_run(experiment_id)", lambda w, b: w.client.create_run(b),
     NOT_EXPERIMENT_IDS),
    ("Client.create_run(tags)", lambda w, b: w.client.create_run(w.exp, tags=b), NOT_MAPPINGS),
    ("Client.create_run(start_time)", lambda w, b: w.client.create_run(w.exp, start_time=b),
     NOT_TIMES),
    ("Client.create_run(run_name)", lambda w, b: w.client.create_run(w.exp, run_name=b),
     [x for x in NOT_STRINGS if x is not None]),
    ("Client.update_run(status)", lambda w, b: w.client.update_run(w.run, status=b),
     [x for x in NOT_STRINGS if x is not None] + ["SLEEPING"]),
    ("Client.set_terminated(status)", lambda w, b: w.client.set_terminated(w.run, b),
     [*NOT_STRINGS, "RUNNING"]),
    ("Client.set_terminated(run_id)", lambda w, b: w.client.set_terminated(b), NOT_RUN_IDS),
    ("Client.log_batch(metrics)", lambda w, b: w.client.log_batch(w.run, metrics=b),
     NOT_COLLECTIONS),
    ("Client.log_batch(params)", lambda w, b: w.client.log_batch(w.run, params=b),
     NOT_COLLECTIONS),
    ("Client.log_batch(tags)", lambda w, b: w.client.log_batch(w.run, tags=b),
     NOT_COLLECTIONS),
    ("Client.log_batch(run_id)", lambda w, b: w.client.log_batch(b, tags={"a": "b"}),
     NOT_RUN_IDS),
    ("Client.log_batch(Metric)", lambda w, b: w.client.log_batch(
        w.run, metrics=[Metric("m", b, 0, 0)]), NOT_NUMBERS),
    ("Client.log_metric(run_id)", lambda w, b: w.client.log_metric(b, "m", 1.0), NOT_RUN_IDS),
    ("Client.get_metric_history(key)", lambda w, b: w.client.get_metric_history(w.run, b),
     NOT_STRINGS),
    ("Client.get_metric_history(run_id)", lambda w, b: w.client.get_metric_history(b, "m"),
     [x for x in NOT_RUN_IDS if x != "no-such-run"]),
    ("Client.get_metric_histories", lambda w, b: w.client.get_metric_histories(b),
     [None, [], *NOT_STRING_LISTS]),
    ("Client.leaderboard(metric)", lambda w, b: w.client.leaderboard(w.exp, b), NOT_STRINGS),
    ("Client.leaderboard(max_results)", lambda w, b: w.client.leaderboard(
        w.exp, "m", max_results=b), NOT_COUNTS),
    ("Client.export_runs(experiment_ids)", lambda w, b: w.client.export_runs(b),
     [None, *NOT_STRING_LISTS]),
    ("Client.log_runs(data)", lambda w, b: w.client.log_runs(w.exp, b), NOT_STRINGS),
    ("Client.log_text(text)", lambda w, b: w.client.log_text(w.run, b, "a.txt"),
     [None, 7, b"x", Bad()]),
    ("Client.get_artifact_uri(path)", lambda w, b: w.client.get_artifact_uri(w.run, b),
     ["../up", "/abs"]),
    ("Client.set_experiment_tag(key)", lambda w, b: w.client.set_experiment_tag(w.exp, b, 1),
     NOT_STRINGS),
    ("Client.rename_experiment(name)", lambda w, b: w.client.rename_experiment(w.exp, b),
     NOT_STRINGS),
    # Client: registry
    ("Client.create_registered_model(name)", lambda w, b: w.client.create_registered_model(
        b), [*NOT_STRINGS, "model"]),
    ("Client.get_registered_model(name)", lambda w, b: w.client.get_registered_model(b),
     [*NOT_STRINGS, "no-such-model"]),
    ("Client.get_model_version(version)", lambda w, b: w.client.get_model_version("model", b),
     [None, "x", -1, 0, 1.5, NAN, HUGE, [], {"a": 1}, Bad(), 7]),
    ("Client.get_latest_versions(name)", lambda w, b: w.client.get_latest_versions(b),
     NOT_STRINGS),
    ("Client.search_model_versions(max_results)", lambda w, b: w.client.search_model_versions(
        max_results=b), NOT_COUNTS),
    ("Client.search_model_versions(filter_string)",
     lambda w, b: w.client.search_model_versions(b),
     [x for x in NOT_STRINGS if x is not None] + ["nonsense = 1"]),
    ("Client.search_model_versions(order_by)", lambda w, b: w.client.search_model_versions(
        order_by=b), [*NOT_STRING_LISTS, "name SIDEWAYS"]),
    ("Client.search_model_versions(page_token)", lambda w, b: w.client.search_model_versions(
        page_token=b), NOT_TOKENS),
    ("Client.search_registered_models(max_results)",
     lambda w, b: w.client.search_registered_models(max_results=b), NOT_COUNTS),
    ("Client.search_registered_models(filter_string)",
     lambda w, b: w.client.search_registered_models(b),
     [x for x in NOT_STRINGS if x is not None]),
    ("Client.search_registered_models(page_token)",
     lambda w, b: w.client.search_registered_models(page_token=b), NOT_TOKENS),
    ("Client.set_registered_model_alias(version)",
     lambda w, b: w.client.set_registered_model_alias("model", "champion", b),
     [None, "x", -1, 1.5, [], Bad(), 7]),
    ("Client.transition_model_version_stage(stage)",
     lambda w, b: w.client.transition_model_version_stage("model", 1, b),
     [x for x in NOT_STRINGS if x is not None] + ["Nowhere"]),  # None: MLflow's "None"
]


def _names(message: str, value: Any) -> bool:
    """Whether ``message`` names ``value``: its repr or text, a part of it, or its type."""
    if isinstance(value, float) and math.isnan(value) and "nan" in message:
        return True
    if repr(value)[:40] in message or type(value).__name__ in message:
        return True
    if isinstance(value, str):  # a filter, URI or query: the message quotes the bad part
        return value in message or any(len(w) > 3 and w in message
                                       for w in re.split(r"[^\w-]+", value))
    if isinstance(value, (list, tuple)):
        return any(_names(message, item) for item in value)
    return False


@pytest.mark.parametrize("call, bads", [(c, b) for _, c, b in CASES],
                         ids=[name for name, _, _ in CASES])
def test_bad_arguments_raise_lakeml_errors(world: World, call: Call, bads: list[Any]) -> None:
    problems = []
    for bad in bads:
        try:
            call(world, bad)
        except LakemlError as exc:
            message = str(exc)
            if not message:
                problems.append(f"{bad!r}: {type(exc).__name__} with no message")
            elif isinstance(exc, (InvalidArgument, NotFound)) and not _names(message, bad) \
                    and bad not in ("", " "):
                problems.append(f"{bad!r}: {type(exc).__name__} does not name it: {message}")
        except BaseException as exc:  # noqa: BLE001 - the point of the test
            problems.append(f"{bad!r}: raw {type(exc).__module__}.{type(exc).__name__}: "
                            f"{exc}"[:300])
        else:
            problems.append(f"{bad!r}: accepted")
        finally:
            while lakeml.active_run() is not None:
                lakeml.end_run()
    assert not problems, "\n".join(problems)


def test_the_walk_covers_the_fluent_api() -> None:
    """Every public function of ``lakeml`` that takes an argument is walked (or excused)."""
    walked = {name.split("(")[0] for name, _, _ in CASES}
    excused = {"set_store", "log_artifact", "log_artifacts", "log_dict", "log_figure",
               "log_input", "log_text", "end_run", "get_artifact_uri"}  # tested elsewhere
    for name in lakeml.__all__:
        obj = getattr(lakeml, name)
        if inspect.isfunction(obj) and inspect.signature(obj).parameters:
            assert name in walked | excused, f"lakeml.{name} is not walked with bad arguments"


def test_log_batch_none_logs_nothing_else(world: World) -> None:
    """Issue 15: log_batch(tags=None) was a TypeError; None means "none", as MLflow's ()."""
    world.client.log_batch(world.run, metrics={"n": 2.0}, params=None, tags=None)
    world.client.flush()
    assert world.client.get_run(world.run).data.metrics["n"] == 2.0


def test_search_runs_max_results_none_is_the_default(world: World) -> None:
    assert len(world.client.search_runs([world.exp], max_results=None)) >= 1
    assert len(lakeml.search_runs([world.exp], max_results=None)) >= 1


def test_walk_leaves_nothing_half_logged(world: World, tmp_path: Path) -> None:
    """A refused batch logs none of its parts (all are checked first)."""
    client = world.client
    before = client.get_run(world.run).data
    with pytest.raises(InvalidArgument):
        client.log_batch(world.run, metrics={"fresh": 1.0}, params={"fresh": "p"},
                         tags=["not a RunTag"])
    client.flush()
    after = client.get_run(world.run).data
    assert "fresh" not in after.metrics and "fresh" not in after.params
    assert after.params == before.params


def test_text_without_a_utf8_form_is_refused_by_name_everywhere(tmp_path) -> None:
    # os.fsdecode of non-UTF-8 bytes gives lone surrogates: filters, SQL and registry
    # names/descriptions refuse them as values, never as raw DuckDB/encoding errors
    lakeml.set_store(str(tmp_path / "lake"))
    client = lakeml.Client()
    bad = "x\udcff"
    calls = [lambda: client.search_runs(["0"], f"params.p = '{bad}'"),
             lambda: lakeml.search_runs(["0"], f"tags.t = '{bad}'"),
             lambda: client.search_experiments(filter_string=f"name = '{bad}'"),
             lambda: lakeml.sql(f"SELECT '{bad}'"),
             lambda: client.create_registered_model(f"m{bad}"),
             lambda: client.create_registered_model("ok", description=bad)]
    for call in calls:
        with pytest.raises(InvalidArgument, match="no UTF-8 form"):
            call()
