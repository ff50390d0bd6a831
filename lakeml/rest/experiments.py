"""Experiment calls of the REST tracking service: MLflow's ``experiments/...`` routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from lakeml.entities import ViewType
from lakeml.errors import NotFound
from lakeml.rest import wire
from lakeml.rest.http import LAKEML
from lakeml.search.paging import PagedList

if TYPE_CHECKING:
    from lakeml.entities import Experiment
    from lakeml.rest.http import Remote


class RestExperiments:
    """A part of :class:`~lakeml.rest.tracking.RestTrackingService`: its experiment calls.

    ``forget_runs`` is called after a delete or restore, which changes the lifecycle of
    every run of the experiment: the service then reads runs again on their next log.
    """

    CALLS = ("get_experiment", "get_experiment_by_name", "search_experiments",
             "create_experiment", "rename_experiment", "delete_experiment",
             "restore_experiment", "set_experiment_tag", "delete_experiment_tag")

    def __init__(self, remote: Remote, forget_runs: Callable[[], None]) -> None:
        self._remote = remote
        self._forget_runs = forget_runs

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with id ``experiment_id``; NotFound if there is none."""
        return wire.experiment(self._remote.get(
            "/experiments/get", {"experiment_id": experiment_id})["experiment"])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment named ``name`` (active or deleted), or None."""
        try:
            body = self._remote.get("/experiments/get-by-name", {"experiment_name": name})
        except NotFound:
            return None
        return wire.experiment(body["experiment"])

    def search_experiments(self, view_type: ViewType | int | str = ViewType.ACTIVE_ONLY,
                           max_results: int | None = 1000,
                           filter_string: str | None = None,
                           order_by: Sequence[str] | None = None,
                           page_token: str | None = None) -> PagedList:
        """Experiments in ``view_type`` matching ``filter_string``, a page at a time."""
        body = self._remote.post("/experiments/search", {
            "view_type": view_type, "max_results": max_results, "filter": filter_string,
            "order_by": list(order_by) if order_by is not None else None,
            "page_token": page_token})
        return PagedList([wire.experiment(e) for e in body.get("experiments", ())],
                         body.get("next_page_token") or None)

    def create_experiment(self, name: str, artifact_location: str | None = None,
                          tags: dict[str, str] | None = None) -> str:
        """Create an experiment and return its id; AlreadyExists if the name is taken.

        A relative ``artifact_location`` is resolved by the server, against its folder.
        """
        body: dict[str, Any] = {"name": name, "artifact_location": artifact_location}
        if tags:
            body["tags"] = [{"key": k, "value": val} for k, val in dict(tags).items()]
        return str(self._remote.post("/experiments/create", body)["experiment_id"])

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give the experiment a new, unused name."""
        self._remote.post("/experiments/update", {"experiment_id": experiment_id,
                                                  "new_name": new_name})

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and its runs: their rows stay, marked ``deleted``."""
        self._remote.post("/experiments/delete", {"experiment_id": experiment_id})
        self._forget_runs()

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo a soft delete: the experiment and every run in it are active again."""
        self._remote.post("/experiments/restore", {"experiment_id": experiment_id})
        self._forget_runs()

    def set_experiment_tag(self, experiment_id: str, key: str, value: object) -> None:
        """Set a tag on an experiment."""
        self._remote.post("/experiments/set-experiment-tag", {
            "experiment_id": experiment_id, "key": key, "value": value})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Delete a tag from an experiment."""
        self._remote.post("/experiments/delete-tag", {"experiment_id": experiment_id,
                                                      "key": key}, api=LAKEML)
