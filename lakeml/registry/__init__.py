"""The model registry: registered models, versions, stages, aliases, review and audit.

All of it is one append-only Delta table, ``registry_log`` (see
lakeml/store/schemas.py): the views of sql/views/ fold it into current state,
``lakeml.sql("SELECT * FROM registry_events")`` is the audit trail, and
``Client().registry_as_of(t)`` reads the registry as it was at time ``t``.
Policy (who may do what) comes from the permissions file, see
:mod:`lakeml.registry.permissions`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakeml.registry.bulk import BulkCalls

if TYPE_CHECKING:
    from lakeml.tracking.backend import Backend


class RegistryCalls(BulkCalls):
    """Every registry call of :class:`lakeml.Client` (MLflow's MlflowClient names)."""

    def registry_as_of(self, as_of: Any) -> RegistryAsOf:
        """A read-only registry as it was at ``as_of`` (a datetime or ISO 8601 string).

        Example:
            >>> past = client.registry_as_of("2026-03-01")                   # doctest: +SKIP
            >>> past.get_latest_versions("churn", ["Production"])            # doctest: +SKIP
        """
        return RegistryAsOf(self._b, as_of)


class RegistryAsOf(RegistryCalls):
    """The registry's read calls as of a past time; every write raises InvalidArgument."""

    def __init__(self, backend: Backend, as_of: Any) -> None:
        from lakeml.errors import InvalidArgument
        from lakeml.query.as_of import parse_as_of

        when = parse_as_of(as_of)
        if not isinstance(when, datetime):
            raise InvalidArgument(f"registry as_of must be a time, got {as_of!r}")
        self._b = backend
        self._registry_as_of = when
