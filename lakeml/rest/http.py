"""The wire to a lakeml tracking server: JSON and Arrow requests, MLflow's errors mapped back.

One :class:`Http` per server URL holds an ``httpx.Client`` (a pool of kept-alive
connections, safe to share between threads). A request is sent to MLflow's REST API
2.0 (``/api/2.0/mlflow/...``) or to lakeml's extensions (``/api/2.0/lakeml/...``). An
error answer in MLflow's shape ``{"error_code", "message"}`` is raised as the lakeml
exception of that code, with the server's message (:meth:`LakemlError.from_dict`), so a
caller sees the same class and text the lake services raise. A server that cannot be
reached raises :class:`~lakeml.errors.StoreUnavailable` naming the URL.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, Mapping

from lakeml.errors import BadRequest, InvalidArgument, LakemlError, StoreUnavailable

if TYPE_CHECKING:
    import httpx
    import pyarrow as pa

MLFLOW = "/api/2.0/mlflow"
LAKEML = "/api/2.0/lakeml"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: Seconds a request may take: reads of big tables and commits of big batches included.
TIMEOUT = 300.0


def server_url(uri: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash; InvalidArgument if the
    URI names no host."""
    from urllib.parse import urlparse

    parsed = urlparse(uri.strip())
    shown = _without_secret(uri)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise InvalidArgument(f"tracking server URI {shown!r} must be http://host[:port] or "
                              "https://host[:port]")
    if parsed.query or parsed.fragment:
        raise InvalidArgument(f"tracking server URI {shown!r} must not carry a query or a "
                              "fragment")
    host = parsed.netloc.rpartition("@")[2]  # credentials stay out of the URL shown
    return f"{parsed.scheme.lower()}://{host}{parsed.path.rstrip('/')}"


def _without_secret(uri: str) -> str:
    """``uri`` with the password of its user part (if any) replaced by ``***``."""
    scheme, sep, rest = uri.partition("://")
    userinfo, at, host = rest.partition("@")
    if not at or "/" in userinfo:
        return uri
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{host}"


def credentials(uri: str) -> tuple[dict[str, str], tuple[str, str] | None]:
    """(headers, Basic credentials) to sign in to the server: LAKEML_TRACKING_TOKEN as a
    Bearer token, else the URL's ``user:password@``, else LAKEML_TRACKING_USERNAME and
    LAKEML_TRACKING_PASSWORD; nothing when none is given (an anonymous server)."""
    from urllib.parse import unquote, urlparse

    from lakeml import config

    token = config.get("tracking_token")
    if token:
        return {"Authorization": f"Bearer {token}"}, None
    parsed = urlparse(uri.strip())
    if parsed.username:
        return {}, (unquote(parsed.username), unquote(parsed.password or ""))
    user = config.get("tracking_username")
    if user:
        return {}, (user, config.get("tracking_password") or "")
    return {}, None


class Http:
    """Requests to one tracking server (``url``: ``http(s)://host:port``)."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = server_url(url)
        self._pid = os.getpid()
        headers, basic = credentials(url)
        self._options: dict[str, Any] = {
            "base_url": self.url, "timeout": TIMEOUT, "auth": basic,
            "headers": {"User-Agent": "lakeml-rest-client", **headers}}
        self._client = httpx.Client(**self._options)

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._client.close()

    # ---- JSON -------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            api: str = MLFLOW) -> dict[str, Any]:
        """GET ``api + path`` with ``params`` as query parameters (lists repeat the name)."""
        query = {k: (v if isinstance(v, list) else _query_value(v))
                 for k, v in (params or {}).items() if v is not None}
        return self._json(self._send("GET", api + path, params=query))

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, api: str = MLFLOW,
             method: str = "POST", headers: Mapping[str, str] | None = None
             ) -> dict[str, Any]:
        """``method`` (POST, PATCH, DELETE) ``api + path`` with a JSON body."""
        content = json.dumps({k: v for k, v in (body or {}).items() if v is not None},
                             allow_nan=False, default=_json_default).encode()
        return self._json(self._send(method, api + path, content=content, headers={
            "Content-Type": "application/json", **(headers or {})}))

    # ---- Arrow --------------------------------------------------------------------------
    def post_for_arrow(self, path: str, body: Mapping[str, Any]) -> pa.Table:
        """POST a JSON body to a lakeml route that answers an Arrow IPC stream."""
        content = json.dumps({k: v for k, v in body.items() if v is not None},
                             allow_nan=False, default=_json_default).encode()
        response = self._send("POST", LAKEML + path, content=content,
                              headers={"Content-Type": "application/json",
                                       "Accept": ARROW_STREAM})
        return read_arrow(response.content)

    def post_arrow(self, path: str, table: pa.Table, fields: Mapping[str, Any] | None = None,
                   *, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """POST ``table`` to a lakeml write route: JSON ``fields`` with the table as a
        base64 Arrow IPC stream in ``arrow``. A JSON body, so the server serves these
        routes like every other write (its permission check, its commit)."""
        import base64

        body = {**(fields or {}), "arrow": base64.b64encode(write_arrow(table)).decode()}
        return self.post(path, body, api=LAKEML, headers=headers)

    # ---- files (MLflow's artifact proxy) ---------------------------------------------------
    def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``method`` ``path`` (the full path under the server's URL) as given: bytes or a
        file object as ``content=``; the answer unread but checked for errors."""
        return self._send(method, path, **kwargs)

    def download(self, path: str, local: Any) -> None:
        """GET ``path`` into the file ``local``, streamed."""
        import httpx

        try:
            with self._client.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error_of(response, "GET", path)
                with open(local, "wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"tracking server {self.url} did not answer GET {path}: "
                                   f"{type(exc).__name__}: {exc}") from None

    # ---- the exchange ---------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        if self._pid != os.getpid():  # a forked child: its parent's connections are not its own
            self._pid = os.getpid()
            self._client = httpx.Client(**self._options)
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"tracking server {self.url} did not answer {method} "
                                   f"{path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise _error_of(response, method, path)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise LakemlError(f"tracking server answered {response.request.method} "
                              f"{response.request.url.path} with a body that is not JSON: "
                              f"{response.text[:200]!r}") from None
        return body if isinstance(body, dict) else {}


def _error_of(response: httpx.Response, method: str, path: str) -> LakemlError:
    """The lakeml error an error answer stands for (MLflow's body, else its status)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        return LakemlError.from_dict(body, http_status=response.status_code)
    text = response.text.strip()[:300] or response.reason_phrase
    return LakemlError.from_dict(
        {"message": f"tracking server answered {method} {path} with HTTP "
                    f"{response.status_code}: {text}"}, http_status=response.status_code)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json_default(value: Any) -> Any:
    """Values JSON lacks: datetimes as ISO 8601, anything else as its text."""
    iso = getattr(value, "isoformat", None)
    return iso() if callable(iso) else str(value)


def write_arrow(table: pa.Table) -> bytes:
    """``table`` as Arrow IPC stream bytes."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def read_arrow(data: bytes) -> pa.Table:
    """The table of Arrow IPC stream bytes."""
    import pyarrow as pa

    with pa.ipc.open_stream(data) as reader:
        return reader.read_all()


class Remote:
    """An :class:`Http` whose every request first calls ``before`` (the service's flush of
    its buffered log rows: a read sees this process's writes, a write lands after them)."""

    def __init__(self, http: Http, before: Any) -> None:
        self.http = http
        self._before = before

    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            api: str = MLFLOW) -> dict[str, Any]:
        self._before()
        return self.http.get(path, params, api=api)

    def post(self, path: str, body: Mapping[str, Any] | None = None, *, api: str = MLFLOW,
             method: str = "POST") -> dict[str, Any]:
        self._before()
        return self.http.post(path, body, api=api, method=method)

    def post_for_arrow(self, path: str, body: Mapping[str, Any]) -> pa.Table:
        self._before()
        return self.http.post_for_arrow(path, body)

    def post_arrow(self, path: str, table: pa.Table,
                   fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self._before()
        return self.http.post_arrow(path, table, fields)


def arrow_field(text: Any) -> pa.Table:
    """The table a bulk request carries in its ``arrow`` field (a base64 Arrow IPC stream);
    BadRequest naming the problem if it is not one."""
    import base64
    import binascii

    import pyarrow as pa

    if not isinstance(text, str) or not text:
        raise BadRequest("field 'arrow' must hold the rows as a base64 Arrow IPC stream")
    try:
        return read_arrow(base64.b64decode(text, validate=True))
    except (binascii.Error, pa.ArrowInvalid, OSError) as exc:
        raise BadRequest(f"field 'arrow' is not a base64 Arrow IPC stream: {exc}") from None
