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

import threading

from lakeml.rest.http import credentials, server_url
from lakeml.rest.registry import RestRegistryService
from lakeml.rest.tracking import RestTrackingService

__all__ = ["RestRegistryService", "RestTrackingService", "rest_services"]

_services: dict[str, tuple[RestTrackingService, RestRegistryService]] = {}
_lock = threading.Lock()


def rest_services(url: str) -> tuple[RestTrackingService, RestRegistryService]:
    """The tracking and registry services of the tracking server at ``url``, made once per
    server in a process (as the lake's are once per store): Clients of one server share
    its log buffer, its connections and what is known of its runs. The registry sends
    the tracking service's buffered rows before each request."""
    key = (server_url(url), credentials(url))  # one per server and sign-in
    with _lock:
        found = _services.get(repr(key))
        if found is None:
            tracking = RestTrackingService(url)
            found = _services[repr(key)] = (tracking, RestRegistryService(
                tracking._http, before=tracking._send_buffer))
        return found
