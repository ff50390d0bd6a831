"""The services a ``lakeml.Client`` holds: typed protocols of every operation.

:class:`TrackingService` (experiments, runs, logging, artifacts, search,
analytics, SQL) and :class:`RegistryService` (the model registry) say what the
platform offers, entities in and entities out, lakeml errors raised. The lake
implementations live in :mod:`lakeml.tracking.service` and
:mod:`lakeml.registry.service`; ``lakeml.Client`` picks them by store URI
(see :mod:`lakeml.client`), or takes others, such as a test's fakes.
"""

from __future__ import annotations

from lakeml.services.registry import RegistryService
from lakeml.services.tracking import TrackingService

__all__ = ["RegistryService", "TrackingService"]
