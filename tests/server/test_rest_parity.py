"""The Client's own tests (tests/tracking/test_client.py), run on both backends: a lake
store and a ``lakeml server`` through lakeml's REST client.

The server here is this module's own, over a fresh store, because these tests name
their experiments ("a", "e") as if each had a store to itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

import lakeml
from tests.server.conftest import Server, start_server
from tests.tracking import test_client as client_tests

#: The Client tests that take only a Client (no second process, no store folder), but
#: test_experiment_lifecycle: it expects a store path as the artifact location, which a
#: server with MLflow's artifact proxy shows as an mlflow-artifacts:/ URI.
CASES: list[Callable[[lakeml.Client], None]] = [
    client_tests.test_missing_things_raise_not_found,
    client_tests.test_default_experiment_cannot_be_deleted,
    client_tests.test_log_batch_with_dicts_and_entities,
    client_tests.test_params_are_immutable,
    client_tests.test_tags_set_overwrite_and_delete,
    client_tests.test_delete_restore_and_list_runs,
    client_tests.test_an_ended_run_takes_logging_and_a_deleted_one_refuses_it,
    client_tests.test_update_run_renames,
    client_tests.test_reads_see_this_process_writes_at_once,
    client_tests.test_times_returned_at_creation_match_what_is_read,
]


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with start_server(tmp_path_factory.mktemp("parity-server")) as running:
        yield running


@pytest.fixture(params=["lake", "rest"])
def any_client(request: pytest.FixtureRequest, tmp_path: Path) -> lakeml.Client:
    if request.param == "lake":
        return lakeml.Client(str(tmp_path / "lake"))
    return lakeml.Client(request.getfixturevalue("fresh_server").url)


@pytest.mark.parametrize("case", CASES, ids=[case.__name__[5:] for case in CASES])
def test_client_behaves_the_same_on_both_backends(case: Callable[[lakeml.Client], None],
                                                  any_client: lakeml.Client) -> None:
    case(any_client)
