"""How much a scoring server takes on at once: body size, bytes in flight, requests.

Parsing a JSON body costs several times its size in Python objects and
arrays (about 3x for a ``dataframe_split`` of full-precision floats, more
for short numbers), so memory is bounded by bounding the bytes being read or
scored at any moment, not only the size of one body:

- a body over ``max_body_bytes`` is refused with 413 before it is read;
- a request that would take the bytes in flight over ``max_inflight_bytes``,
  or the requests in flight over ``max_requests``, is refused at once with
  503 ``TEMPORARILY_UNAVAILABLE`` and ``Retry-After: 1``, without parsing
  its body (which is read in small pieces and dropped, so that a client
  still sending it sees the answer rather than a broken pipe).

By default one body of the largest size is in flight at a time: scoring is
bound to one core per process (the GIL), so a second large body in the same
process would double the memory without finishing any sooner; small
requests still run side by side (up to ``max_requests``), and ``--workers``
adds processes, each with its own limits. Defaults come from
LAKEML_SERVE_MAX_BODY_MB, LAKEML_SERVE_MAX_INFLIGHT_MB and
LAKEML_SERVE_MAX_REQUESTS (see lakeml/config.py) or the CLI's flags.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lakeml import config
from lakeml.errors import InvalidArgument

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The limits of one server process (sizes in bytes)."""

    max_body_bytes: int = 64 * MB
    max_inflight_bytes: int = 64 * MB
    max_requests: int = 16

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_inflight_bytes", "max_requests"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value!r}")
        if self.max_inflight_bytes < self.max_body_bytes:
            raise InvalidArgument(
                f"max_inflight_bytes ({self.max_inflight_bytes}) must be at least "
                f"max_body_bytes ({self.max_body_bytes}), or no body of the largest size "
                "could ever be scored")

    @classmethod
    def configured(cls, *, max_body_mb: float | None = None,
                   max_inflight_mb: float | None = None,
                   max_requests: int | None = None) -> Limits:
        """The limits from explicit values, else the settings (environment, conf file)."""
        body = _mb(config.get("serve_max_body_mb", max_body_mb), "max body MB")
        inflight_mb = config.get("serve_max_inflight_mb", max_inflight_mb)
        inflight = max(body, _mb(inflight_mb, "max in-flight MB")) \
            if max_inflight_mb is None else _mb(inflight_mb, "max in-flight MB")
        return cls(body, inflight, int(config.get("serve_max_requests", max_requests)))


def _mb(value: float, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidArgument(f"{what} must be a positive number, got {value!r}")
    return max(1, int(value * MB))


class Admission:
    """Counts the requests and body bytes in flight; refuses what would exceed the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._requests = 0
        self._bytes = 0

    def enter(self, nbytes: int) -> bool:
        """Take a place for a request of ``nbytes``; False (and nothing taken) when full."""
        with self._lock:
            if self._requests >= self.limits.max_requests or \
                    self._bytes + nbytes > self.limits.max_inflight_bytes:
                return False
            self._requests += 1
            self._bytes += nbytes
            return True

    def leave(self, nbytes: int) -> None:
        """Give back the place taken by :meth:`enter`."""
        with self._lock:
            self._requests -= 1
            self._bytes -= nbytes

    def busy_message(self, nbytes: int) -> str:
        with self._lock:
            requests, inflight = self._requests, self._bytes
        return (f"the server is busy: {requests} request(s) with {inflight} body bytes in "
                f"flight; this one ({nbytes} bytes) would exceed the limit of "
                f"{self.limits.max_requests} requests or {self.limits.max_inflight_bytes} "
                "bytes; retry shortly")
