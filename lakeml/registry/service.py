"""The lake implementation of :class:`lakeml.services.RegistryService`.

The service holds one part per group of calls (registered models, versions,
review, search, bulk registration), each a :class:`~lakeml.registry.base.RegistryBase`
over the same tracking service, and binds their public calls as its own: a
call costs no forwarding frame, and no part can shadow another's method.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lakeml.registry.base import LakeRuns
from lakeml.registry.bulk import BulkCalls
from lakeml.registry.models import RegisteredModelCalls
from lakeml.registry.review import ReviewCalls
from lakeml.registry.search import RegistrySearch
from lakeml.registry.versions import ModelVersionCalls


class LakeRegistryService:
    """The model registry of the store of ``tracking`` (MLflow's MlflowClient names).

    Args:
        tracking: the lake tracking service of the same store; the registry reads
            run artifact locations from it and keeps its mirror in its per-store slot.
        as_of: a past time: the registry as it was then, read-only (see
            :meth:`registry_as_of`).
    """

    def __init__(self, tracking: LakeRuns, *, as_of: datetime | None = None) -> None:
        self._tracking = tracking
        self._models = models = RegisteredModelCalls(tracking, as_of)
        versions = ModelVersionCalls(tracking, as_of, self)
        review = ReviewCalls(tracking, as_of, versions)
        search = RegistrySearch(tracking, as_of)
        bulk = BulkCalls(tracking, as_of)
        self.get_registered_model = models.get_registered_model
        self.get_model_version_by_alias = models.get_model_version_by_alias
        self.create_registered_model = models.create_registered_model
        self.rename_registered_model = models.rename_registered_model
        self.update_registered_model = models.update_registered_model
        self.delete_registered_model = models.delete_registered_model
        self.set_registered_model_tag = models.set_registered_model_tag
        self.delete_registered_model_tag = models.delete_registered_model_tag
        self.set_registered_model_alias = models.set_registered_model_alias
        self.delete_registered_model_alias = models.delete_registered_model_alias
        self.require = models.require
        self.record_denied = models.record_denied  # the tracking server's audit of denials
        self.get_model_version = versions.get_model_version
        self.list_model_versions = versions.list_model_versions
        self.get_latest_versions = versions.get_latest_versions
        self.get_model_version_download_uri = versions.get_model_version_download_uri
        self.create_model_version = versions.create_model_version
        self.register_model = versions.register_model
        self.update_model_version = versions.update_model_version
        self.delete_model_version = versions.delete_model_version
        self.set_model_version_tag = versions.set_model_version_tag
        self.delete_model_version_tag = versions.delete_model_version_tag
        self.transition_model_version_stage = versions.transition_model_version_stage
        self.get_transition_requests = review.get_transition_requests
        self.request_transition = review.request_transition
        self.approve_transition_request = review.approve_transition_request
        self.reject_transition_request = review.reject_transition_request
        self.cancel_transition_request = review.cancel_transition_request
        self.create_comment = review.create_comment
        self.get_comments = review.get_comments
        self.search_model_versions = search.search_model_versions
        self.search_registered_models = search.search_registered_models
        self.register_model_versions = bulk.register_model_versions

    def registry_as_of(self, as_of: Any) -> LakeRegistryService:
        """A read-only registry as it was at ``as_of`` (a datetime or ISO 8601 string).

        Example:
            >>> past = client.registry_as_of("2026-03-01")                   # doctest: +SKIP
            >>> past.get_latest_versions("churn", ["Production"])            # doctest: +SKIP
        """
        from lakeml.errors import InvalidArgument
        from lakeml.query.as_of import parse_as_of

        when = parse_as_of(as_of)
        if not isinstance(when, datetime):
            raise InvalidArgument(f"registry as_of must be a time, got {as_of!r}")
        return LakeRegistryService(self._tracking, as_of=when)

    def _registry_state(self) -> Any:
        """The mirror of the store's registry log (tests and benchmarks look inside)."""
        return self._models._registry_state()
