"""lakeml's REST client: the services over HTTP, for ``http(s)://`` stores.

``lakeml.set_store("http://host:port")``, ``lakeml.Client("http://host:port")`` and
``LAKEML_STORE=http://host:port`` give a Client whose services are
:class:`RestTrackingService` and :class:`RestRegistryService`: the same protocols
(lakeml.services) as the lake's, spoken to ``lakeml server`` over MLflow's REST API 2.0
and lakeml's extensions of it (``/api/2.0/lakeml/...``). Log calls stay buffered in
this process (lakeml/rest/buffer.py) and reach the server as one ``runs/log-batch`` per
run per flush; every other call sends the buffer first, so a process reads its writes.

Only what a client needs is imported here: httpx loads when a service is made.
"""

from __future__ import annotations

from lakeml.rest.registry import RestRegistryService
from lakeml.rest.tracking import RestTrackingService

__all__ = ["RestRegistryService", "RestTrackingService", "rest_services"]


def rest_services(url: str) -> tuple[RestTrackingService, RestRegistryService]:
    """The tracking and registry services of the tracking server at ``url``, sharing one
    connection pool; the registry sends the tracking service's buffered rows first."""
    tracking = RestTrackingService(url)
    return tracking, RestRegistryService(tracking._http, before=tracking.flush)
