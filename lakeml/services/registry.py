"""The registry service: registered models, versions, stages, aliases, review, search.

A :class:`RegistryService` takes and returns the registry entities of
:mod:`lakeml.entities` (ModelVersion, RegisteredModel, TransitionRequest,
Comment) and raises the errors of :mod:`lakeml.errors`. ``lakeml.Client``
holds one and forwards to it. Implementation:
:class:`lakeml.registry.service.LakeRegistryService` (one append-only Delta
table, ``registry_log``) and :class:`lakeml.rest.RestRegistryService` (a tracking
server, for ``http(s)://`` stores).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from lakeml.entities import Comment, ModelVersion, RegisteredModel, TransitionRequest
    from lakeml.search.paging import PagedList


@runtime_checkable
class RegistryService(Protocol):
    """Every model registry operation lakeml offers (MLflow's MlflowClient names)."""

    # ---- registered models ---------------------------------------------------------
    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model ``name`` with its tags, aliases and latest version per stage."""
        ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version that ``name@alias`` points at."""
        ...

    def create_registered_model(self, name: str, tags: dict[str, object] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create an empty registered model; AlreadyExists if the name is taken."""
        ...

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        """Give the model a new, unused name (versions, aliases and tags follow it)."""
        ...

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        """Replace the model's description (markdown)."""
        ...

    def delete_registered_model(self, name: str) -> None:
        """Delete the model with its versions, aliases and tags (the log keeps the history)."""
        ...

    def set_registered_model_tag(self, name: str, key: str, value: object) -> None:
        """Set tag ``key`` of the registered model."""
        ...

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Delete tag ``key`` of the registered model; a key it lacks is a no-op."""
        ...

    def set_registered_model_alias(self, name: str, alias: str, version: object) -> None:
        """Point ``name@alias`` at ``version`` (moving it if it pointed elsewhere)."""
        ...

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias``; NotFound if the model has no such alias."""
        ...

    # ---- model versions -------------------------------------------------------------
    def get_model_version(self, name: str, version: object) -> ModelVersion:
        """Version ``version`` of registered model ``name``."""
        ...

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        """Every live version of ``name``, oldest first."""
        ...

    def get_latest_versions(self, name: str, stages: Iterable[str] | None = None
                            ) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (default: every stage), by version."""
        ...

    def get_model_version_download_uri(self, name: str, version: object) -> str:
        """The version's source as MLflow returns it (``runs:/…`` stays a ``runs:/`` URI)."""
        ...

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, object] | None = None,
                             description: str | None = None) -> ModelVersion:
        """Register the model at ``source`` as the next version of the existing model ``name``."""
        ...

    def register_model(self, model_uri: str, name: str,
                       tags: dict[str, object] | None = None) -> ModelVersion:
        """Register ``model_uri`` as a new version of ``name``, creating the model if needed."""
        ...

    def update_model_version(self, name: str, version: object,
                             description: str | None) -> ModelVersion:
        """Replace the version's description (markdown)."""
        ...

    def delete_model_version(self, name: str, version: object) -> None:
        """Delete the version and the aliases that point at it (the log keeps the history)."""
        ...

    def set_model_version_tag(self, name: str, version: object, key: str, value: object) -> None:
        """Set tag ``key`` of the version."""
        ...

    def delete_model_version_tag(self, name: str, version: object, key: str) -> None:
        """Delete tag ``key`` of the version; a key it lacks is a no-op (as in MLflow)."""
        ...

    def transition_model_version_stage(self, name: str, version: object, stage: str,
                                       archive_existing_versions: bool = False,
                                       comment: str | None = None) -> ModelVersion:
        """Move the version into ``stage`` (None/Development, Staging, Production, Archived)."""
        ...

    # ---- review -------------------------------------------------------------------------
    def get_transition_requests(self, name: str | None = None, version: object = None,
                                status: str | None = "PENDING") -> list[TransitionRequest]:
        """Requests (default: the pending ones) of every model, or of one model or version."""
        ...

    def request_transition(self, name: str, version: object, stage: str,
                           comment: str | None = None) -> TransitionRequest:
        """Ask reviewers to move the version into ``stage``."""
        ...

    def approve_transition_request(self, name: str, version: object, stage: str,
                                   comment: str | None = None,
                                   archive_existing_versions: bool = False
                                   ) -> TransitionRequest:
        """Approve the pending request and move the version into ``stage``, in one commit."""
        ...

    def reject_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Reject the pending request; the version stays where it is."""
        ...

    def cancel_transition_request(self, name: str, version: object, stage: str,
                                  comment: str | None = None) -> TransitionRequest:
        """Withdraw a pending request (its requester or an admin)."""
        ...

    def create_comment(self, name: str, version: object, comment: str) -> Comment:
        """Comment on a model version (anyone may)."""
        ...

    def get_comments(self, name: str, version: object) -> list[Comment]:
        """The comments on a version, oldest first."""
        ...

    # ---- search, bulk, permissions, time travel ------------------------------------------
    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = 10_000,
                              order_by: list[str] | None = None,
                              page_token: str | None = None) -> PagedList:
        """Model versions matching ``filter_string``, one page; ``.token`` fetches the next."""
        ...

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = 100,
                                 order_by: list[str] | None = None,
                                 page_token: str | None = None) -> PagedList:
        """Registered models matching ``filter_string``, one page; ``.token`` fetches the next."""
        ...

    def register_model_versions(self, versions: Any) -> int:
        """Register many versions in one commit; returns how many."""
        ...

    def require(self, capability: str, action: str, name: str) -> None:
        """PermissionDenied (recorded) unless the user holds ``capability`` on model ``name``."""
        ...

    def registry_as_of(self, as_of: Any) -> RegistryService:
        """A read-only registry as it was at ``as_of`` (a datetime or ISO 8601 string)."""
        ...
