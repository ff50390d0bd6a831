"""The REST implementation of :class:`lakeml.services.RegistryService`.

Registered models and versions go through MLflow's ``registered-models/...`` and
``model-versions/...`` routes; what MLflow lacks (registering a ``runs:/`` URI in one
call, every version of a model, review requests and comments, bulk registration,
permission checks, the registry as of a past time) through lakeml's extensions. Before
each request the tracking service's buffered log rows are sent (``before``), so a
version registered from a run sees what the run logged.

The acting user is the one the server records: without authentication on the server,
the server process's user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from lakeml.errors import InvalidArgument
from lakeml.rest import wire
from lakeml.rest.http import LAKEML, Http, Remote
from lakeml.search.paging import PagedList

if TYPE_CHECKING:
    from lakeml.entities import Comment, ModelVersion, RegisteredModel, TransitionRequest


def _version(version: object) -> object:
    """A version for the wire: numbers and strings as given (the server checks them)."""
    return version if isinstance(version, (int, str)) and not isinstance(version, bool) \
        else str(version)


class RestRegistryService:
    """The model registry of a lakeml tracking server at ``url``.

    Args:
        url: ``http(s)://host:port``, or an :class:`~lakeml.rest.http.Http` to share.
        before: called before every request (the tracking service's flush).
        as_of: read the registry as it was then (read-only; see :meth:`registry_as_of`).
    """

    def __init__(self, url: str | Http, *, before: Callable[[], None] | None = None,
                 as_of: Any = None) -> None:
        self._http = url if isinstance(url, Http) else Http(url)
        self._before = before or (lambda: None)
        self._remote = Remote(self._http, self._before)
        self._as_of = as_of

    # ---- the wire -----------------------------------------------------------------------
    def _read(self, call: str, path: str, params: dict[str, Any], *, api: str | None = None,
              method: str = "GET") -> dict[str, Any]:
        """A read: MLflow's or lakeml's route now; lakeml's as-of route for a past registry."""
        if self._as_of is not None:
            return self._remote.post("/registry/as-of", {
                "as_of": self._as_of, "call": call, "args": params}, api=LAKEML)
        if method == "GET":
            return self._remote.get(path, params, **({"api": api} if api else {}))
        return self._remote.post(path, params, **({"api": api} if api else {}))

    def _write(self, path: str, body: dict[str, Any], *, api: str | None = None,
               method: str = "POST") -> dict[str, Any]:
        if self._as_of is not None:
            raise InvalidArgument(f"the registry as of {self._as_of!r} is read-only")
        return self._remote.post(path, body, method=method, **({"api": api} if api else {}))

    # ---- registered models ---------------------------------------------------------------
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model ``name`` with its tags, aliases and latest version per stage."""
        return wire.registered_model(self._read(
            "get_registered_model", "/registered-models/get", {"name": name}
        )["registered_model"])

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version that ``name@alias`` points at."""
        return wire.model_version(self._read(
            "get_model_version_by_alias", "/registered-models/alias",
            {"name": name, "alias": alias})["model_version"])

    def create_registered_model(self, name: str, tags: dict[str, object] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create an empty registered model; AlreadyExists if the name is taken."""
        return wire.registered_model(self._write("/registered-models/create", {
            "name": name, "tags": _tags(tags), "description": description})["registered_model"])

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give the model a new, unused name (versions, aliases and tags follow it)."""
        return wire.registered_model(self._write("/registered-models/rename", {
            "name": name, "new_name": new_name})["registered_model"])

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        """Replace the model's description (markdown)."""
        return wire.registered_model(self._write("/registered-models/update", {
            "name": name, "description": description}, method="PATCH")["registered_model"])

    def delete_registered_model(self, name: str) -> None:
        """Delete the model with its versions, aliases and tags (the log keeps the history)."""
        self._write("/registered-models/delete", {"name": name}, method="DELETE")

    def set_registered_model_tag(self, name: str, key: str, value: object) -> None:
        """Set tag ``key`` of the registered model."""
        self._write("/registered-models/set-tag", {"name": name, "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete tag ``key`` of the registered model; a key it lacks is a no-op."""
        self._write("/registered-models/delete-tag", {"name": name, "key": key},
                    method="DELETE")

    def set_registered_model_alias(self, name: str, alias: str, version: object) -> None:
        """Point ``name@alias`` at ``version`` (moving it if it pointed elsewhere)."""
        self._write("/registered-models/alias", {"name": name, "alias": alias,
                                                 "version": _version(version)})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias``; NotFound if the model has no such alias."""
        self._write("/registered-models/alias", {"name": name, "alias": alias},
                    method="DELETE")

    # ---- model versions -------------------------------------------------------------------
    def get_model_version(self, name: str, version: object) -> ModelVersion:
        """Version ``version`` of registered model ``name``."""
        return wire.model_version(self._read(
            "get_model_version", "/model-versions/get",
            {"name": name, "version": _version(version)})["model_version"])

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every live version of ``name``, oldest first."""
        body = self._read("list_model_versions", "/model-versions/list", {"name": name},
                          api=LAKEML)
        return [wire.model_version(mv) for mv in body.get("model_versions", ())]

    def get_latest_versions(self, name: str, stages: Iterable[str] | None = None
                            ) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage), by version."""
        body = self._read("get_latest_versions", "/registered-models/get-latest-versions",
                          {"name": name, "stages": list(stages) if stages else None},
                          method="POST")
        return [wire.model_version(mv) for mv in body.get("model_versions", ())]

    def get_model_version_download_uri(self, name: str, version: object) -> str:
        """The version's source as MLflow returns it (``runs:/…`` stays a ``runs:/`` URI)."""
        return str(self._read("get_model_version_download_uri",
                              "/model-versions/get-download-uri",
                              {"name": name, "version": _version(version)})["artifact_uri"])

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, object] | None = None,
                             description: str | None = None) -> ModelVersion:
        """Register the model at ``source`` as the next version of the existing model ``name``."""
        return wire.model_version(self._write("/model-versions/create", {
            "name": name, "source": source, "run_id": run_id, "tags": _tags(tags),
            "description": description})["model_version"])

    def register_model(self, model_uri: str, name: str,
                       tags: dict[str, object] | None = None) -> ModelVersion:
        """Register ``model_uri`` as a new version of ``name``, creating the model if needed."""
        return wire.model_version(self._write("/registered-models/register", {
            "model_uri": model_uri, "name": name, "tags": _tags(tags)},
            api=LAKEML)["model_version"])

    def update_model_version(self, name: str, version: object,
                             description: str | None) -> ModelVersion:
        """Replace the version's description (markdown)."""
        return wire.model_version(self._write("/model-versions/update", {
            "name": name, "version": _version(version), "description": description},
            method="PATCH")["model_version"])

    def delete_model_version(self, name: str, version: object) -> None:
        """Delete the version and the aliases that point at it (the log keeps the history)."""
        self._write("/model-versions/delete", {"name": name, "version": _version(version)},
                    method="DELETE")

    def set_model_version_tag(self, name: str, version: object, key: str, value: object) -> None:
        """Set tag ``key`` of the version."""
        self._write("/model-versions/set-tag", {"name": name, "version": _version(version),
                                                "key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: object, key: str) -> None:
        """Delete tag ``key`` of the version; a key it lacks is a no-op (as in MLflow)."""
        self._write("/model-versions/delete-tag", {"name": name, "version": _version(version),
                                                   "key": key}, method="DELETE")

    def transition_model_version_stage(self, name: str, version: object, stage: str,
                                       archive_existing_versions: bool = False,
                                       comment: str | None = None) -> ModelVersion:
        """Move the version into ``stage`` (None/Development, Staging, Production, Archived)."""
        return wire.model_version(self._write("/model-versions/transition-stage", {
            "name": name, "version": _version(version), "stage": stage,
            "archive_existing_versions": archive_existing_versions, "comment": comment},
        )["model_version"])

    # ---- review ----------------------------------------------------------------------------
    def get_transition_requests(self, name: str | None = None, version: object = None,
                                status: str | None = "PENDING") -> list[TransitionRequest]:
        """Requests (default: the pending ones) of every model, or of one model or version."""
        body = self._read("get_transition_requests", "/transition-requests/list", {
            "name": name, "version": None if version is None else _version(version),
            "status": status, "any_status": status is None}, api=LAKEML)
        return [wire.transition_request(r) for r in body.get("requests", ())]

    def _review(self, action: str, name: str, version: object, stage: str,
                comment: str | None, **more: Any) -> TransitionRequest:
        return wire.transition_request(self._write(f"/transition-requests/{action}", {
            "name": name, "version": _version(version), "stage": stage, "comment": comment,
            **more}, api=LAKEML)["request"])

    def request_transition(self, name: str, version: object, stage: str,
                           comment: str | None = None) -> TransitionRequest:
        """Ask reviewers to move the version into ``stage``."""
        return self._review("create", name, version, stage, comment)

    def approve_transition_request(self, name: str, version: object, stage: str,
                                   comment: str | None = None,
                                   archive_existing_versions: bool = False
                                   ) -> TransitionRequest:
        """Approve the pending request and move the version into ``stage``, in one commit."""
        return self._review("approve", name, version, stage, comment,
                            archive_existing_versions=archive_existing_versions)

    def reject_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Reject the pending request; the version stays where it is."""
        return self._review("reject", name, version, stage, comment)

    def cancel_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Withdraw a pending request (its requester or an admin)."""
        return self._review("cancel", name, version, stage, comment)

    def create_comment(self, name: str, version: object, comment: str) -> Comment:
        """Comment on a model version (anyone may)."""
        return wire.comment(self._write("/comments/create", {
            "name": name, "version": _version(version), "comment": comment},
            api=LAKEML)["comment"])

    def get_comments(self, name: str, version: object) -> list[Comment]:
        """The comments on a version, oldest first."""
        body = self._read("get_comments", "/comments/list",
                          {"name": name, "version": _version(version)}, api=LAKEML)
        return [wire.comment(c) for c in body.get("comments", ())]

    # ---- search, bulk, permissions, time travel ---------------------------------------------
    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = 10_000,
                              order_by: list[str] | None = None,
                              page_token: str | None = None) -> PagedList:
        """Model versions matching ``filter_string``, one page; ``.token`` fetches the next."""
        body = self._read("search_model_versions", "/model-versions/search", {
            "filter": filter_string, "max_results": max_results,
            "order_by": list(order_by) if order_by else None, "page_token": page_token})
        return PagedList([wire.model_version(mv) for mv in body.get("model_versions", ())],
                         body.get("next_page_token") or None)

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = 100,
                                 order_by: list[str] | None = None,
                                 page_token: str | None = None) -> PagedList:
        """Registered models matching ``filter_string``, one page; ``.token`` fetches the next."""
        body = self._read("search_registered_models", "/registered-models/search", {
            "filter": filter_string, "max_results": max_results,
            "order_by": list(order_by) if order_by else None, "page_token": page_token})
        return PagedList([wire.registered_model(rm)
                          for rm in body.get("registered_models", ())],
                         body.get("next_page_token") or None)

    def register_model_versions(self, versions: Any) -> int:
        """Register many versions in one commit; returns how many."""
        from lakeml.rest.tracking import bulk_arrow

        if self._as_of is not None:
            raise InvalidArgument(f"the registry as of {self._as_of!r} is read-only")
        return int(self._remote.post_arrow(
            "/model-versions/register-many",
            bulk_arrow(versions, "register_model_versions"))["count"])

    def require(self, capability: str, action: str, name: str) -> None:
        """PermissionDenied (recorded) unless the user holds ``capability`` on model ``name``."""
        self._remote.post("/registry/require", {"capability": capability, "action": action,
                                                "name": name}, api=LAKEML)

    def registry_as_of(self, as_of: Any) -> RestRegistryService:
        """A read-only registry as it was at ``as_of`` (a datetime or ISO 8601 string)."""
        self._remote.post("/registry/as-of", {"as_of": as_of, "call": "check"}, api=LAKEML)
        return RestRegistryService(self._http, before=self._before, as_of=as_of)

    # ---- lakeml's audit trail --------------------------------------------------------------
    def registry_events(self, name: str | None = None, max_results: int = 50
                        ) -> list[dict[str, Any]]:
        """The registry's audit trail, newest first (every change and every denial), of
        every model or of model ``name``: one dict per event."""
        body = self._read("registry_events", "/registry/events",
                          {"name": name, "max_results": max_results}, api=LAKEML)
        return list(body.get("events", ()))


def _tags(tags: dict[str, object] | None) -> list[dict[str, object]] | None:
    return [{"key": k, "value": v} for k, v in dict(tags).items()] if tags else None
