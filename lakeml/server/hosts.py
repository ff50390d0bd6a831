"""DNS-rebinding protection: requests whose ``Host`` header the server does not answer to.

A web page on ``evil.example`` can make its own name resolve to 127.0.0.1 after it has
loaded (DNS rebinding); its scripts then reach a server on this machine as a same-origin
site, past CORS. What gives the attack away is the ``Host`` header, which still names
``evil.example``. So every request must name an allowed host, else it gets 403 with the
host named in the message (MLflow 3's server does the same, ``--allowed-hosts``).

The rules are MLflow's: ``--allowed-hosts`` (or LAKEML_SERVER_ALLOWED_HOSTS) is a
comma-separated list of patterns matched against the whole header, port included; ``*``
matches any run of characters (``localhost:*``, ``*.corp.example:*``), a pattern without it
must equal the header, and a lone ``*`` turns the check off. Unlike MLflow, ``?`` and
``[...]`` are plain characters (so ``[::1]:*`` needs no escaping) and names compare without
regard to case, as DNS does. ``/health`` and ``/version`` answer any host (load balancers
probe them by address; with an auth file ``/version`` still asks the caller to sign in).

Default: a server bound to a loopback address answers to this machine's names only
(``localhost``, ``127.0.0.1``, ``[::1]``, ``0.0.0.0``, on any port). One bound elsewhere also
answers to MLflow's default private-network patterns (10.*, 172.16-31.*, 192.168.*,
fc00:*, fd00:*) and to the address it is bound to; a name in DNS (``mlflow.corp.example``)
must be given with ``--allowed-hosts``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from typing import Any

log = logging.getLogger("lakeml.server")

OPEN_PATHS = ("/health", "/version")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "0.0.0.0")
# The private networks a server bound beyond loopback answers to by default. They are
# matched as addresses, not as globs over the Host header: a glob "10.*" would also let
# a rebinding name like "10.evil.example" through.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
#: The pattern that stands for PRIVATE_NETWORKS in a list of patterns (no Host holds "<").
PRIVATE = "<private network addresses>"


def is_loopback(host: str) -> bool:
    """Whether the bind address ``host`` is this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bind_host: str) -> list[str]:
    """The allowed-host patterns of a server bound to ``bind_host`` when none are given."""
    names = list(LOOPBACK_NAMES)
    private = []
    if not is_loopback(bind_host):
        private = [PRIVATE]
        bare = bind_host.strip("[]")
        if bare not in ("0.0.0.0", "::", ""):
            names.append(f"[{bare}]" if ":" in bare else bare)
    return [*names, *(f"{name}:*" for name in names), *private]


def host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address a Host header names (``10.0.0.5:5000``, ``[fd00::1]:80``), or None
    when it names a host by name."""
    if host.startswith("["):
        bare = host[1:host.find("]")] if "]" in host else ""
    else:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return None


def parse_allowed_hosts(text: str) -> list[str]:
    """The patterns of a comma-separated ``--allowed-hosts`` value; InvalidArgument (a
    ValueError) naming it if it holds none."""
    from lakeml.errors import InvalidArgument

    patterns = [part.strip() for part in text.split(",") if part.strip()]
    if not patterns:
        raise InvalidArgument(f"--allowed-hosts {text!r} names no host: give patterns such as "
                         "'mlflow.corp.example,mlflow.corp.example:*' or '*' for any")
    return patterns


def _regex(patterns: list[str]) -> re.Pattern[str]:
    parts = (".*".join(re.escape(piece) for piece in p.lower().split("*")) for p in patterns)
    return re.compile("|".join(f"(?:{part})" for part in parts))


class AllowedHosts:
    """Pure ASGI middleware answering 403 to a request whose Host is not allowed."""

    def __init__(self, app: Any, *, patterns: list[str]) -> None:
        self.app = app
        self.patterns = patterns
        self.any = "*" in patterns
        self.private = PRIVATE in patterns
        self._match = _regex([p for p in patterns if p != PRIVATE] or ["<none>"])

    def allows(self, host: str) -> bool:
        if self.any or (bool(host) and self._match.fullmatch(host.lower()) is not None):
            return True
        address = host_address(host) if self.private else None
        return address is not None and any(address in net for net in PRIVATE_NETWORKS)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.any or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        host = next((value.decode("latin-1") for key, value in scope.get("headers", [])
                     if key.lower() == b"host"), "")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        shown = repr(host[:200]) if host else "(none)"
        log.warning("403 %s %s: Host %s is not an allowed host", scope.get("method"),
                    scope.get("path"), shown)
        body = json.dumps({"error_code": "PERMISSION_DENIED", "message": (
            f"Host header {shown} is not one this server answers to (possible DNS "
            "rebinding attack); if it is this server's name, add it to the server's "
            "--allowed-hosts (lakeml server --help)")}).encode()
        await send({"type": "http.response.start", "status": 403, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
