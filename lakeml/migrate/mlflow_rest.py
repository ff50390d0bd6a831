"""A small client of a running MLflow server's REST API, for the import and the export.

MLflow's REST API 2.0 (``/api/2.0/mlflow/...``) and its artifact proxy
(``/api/2.0/mlflow-artifacts/artifacts/...``, the server's default since 2.0),
over httpx: JSON in and out, searches followed through their page tokens,
and MLflow's error codes raised as lakeml's classes with the server's message.
Credentials come from MLflow's own variables (``MLFLOW_TRACKING_TOKEN``, or
``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``), so a server
that MLflow's client can reach, lakeml can too.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from lakeml.errors import LakemlError, StoreUnavailable, error_for_code, error_for_status

if TYPE_CHECKING:
    from collections.abc import Iterator

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
_RETRIES = 4


class MlflowRest:
    """MLflow server ``uri`` (``http(s)://host:port[/prefix]``)."""

    def __init__(self, uri: str, *, timeout: float = 120.0) -> None:
        import httpx

        self.uri = uri.rstrip("/")
        auth = None
        headers = {}
        if os.environ.get("MLFLOW_TRACKING_TOKEN"):
            headers["Authorization"] = f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"
        elif os.environ.get("MLFLOW_TRACKING_USERNAME"):
            auth = (os.environ["MLFLOW_TRACKING_USERNAME"],
                    os.environ.get("MLFLOW_TRACKING_PASSWORD", ""))
        self._http = httpx.Client(base_url=self.uri, timeout=timeout, headers=headers,
                                  auth=auth)

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request, retried on a dropped connection or a 429/503 (with back-off)."""
        import httpx

        for attempt in range(_RETRIES):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt + 1 == _RETRIES:
                    raise StoreUnavailable(f"cannot reach the MLflow server {self.uri}: "
                                           f"{exc}") from exc
            else:
                if response.status_code not in (429, 503) or attempt + 1 == _RETRIES:
                    return response
            time.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _raise(response: Any, what: str) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = body.get("error_code") if isinstance(body, dict) else None
        message = (body.get("message") if isinstance(body, dict) else None) or response.text
        cls = error_for_code(code) if code else error_for_status(response.status_code)
        raise cls(f"MLflow server {what}: {message[:500]}")

    def call(self, method: str, endpoint: str, body: dict[str, Any] | None = None, *,
             params: dict[str, Any] | None = None, missing_ok: bool = False) -> Any:
        """``method`` ``/api/2.0/mlflow/<endpoint>``; the JSON answer (None for a missing
        resource when ``missing_ok``)."""
        response = self._send(method, f"{API}/{endpoint}", json=body, params=params)
        if response.status_code == 200:
            return response.json()
        if missing_ok and response.status_code == 404:
            return None
        try:
            self._raise(response, f"{method} {endpoint}")
        except LakemlError as exc:
            if missing_ok and getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return None

    def pages(self, endpoint: str, body: dict[str, Any], key: str, *,
              method: str = "POST", page_size: int = 1000) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` of a search, following its page tokens."""
        token = None
        while True:
            request = dict(body, max_results=page_size)
            if token:
                request["page_token"] = token
            if method == "GET":
                answer = self.call("GET", endpoint, params=request)
            else:
                answer = self.call("POST", endpoint, request)
            yield from answer.get(key, [])
            token = answer.get("next_page_token")
            if not token:
                return

    # ---- the artifact proxy -------------------------------------------------------------
    @staticmethod
    def proxied_path(artifact_uri: str) -> str:
        """The proxy path of an ``mlflow-artifacts:`` URI (``mlflow-artifacts:/1/abc`` ->
        ``1/abc``; a ``mlflow-artifacts://host/...`` URI names its own path the same)."""
        rest = artifact_uri.split(":", 1)[1]
        if rest.startswith("//"):
            rest = rest[2:].split("/", 1)[1] if "/" in rest[2:] else ""
        return rest.strip("/")

    def put_artifact(self, path: str, data: bytes) -> None:
        response = self._send("PUT", f"{ARTIFACTS}/{quote(path)}", content=data)
        if response.status_code != 200:
            self._raise(response, f"upload of artifact {path}")

    def list_artifacts(self, path: str) -> list[dict[str, Any]]:
        """The entries (``path``, ``is_dir``, ``file_size``) right under ``path``."""
        response = self._send("GET", ARTIFACTS, params={"path": path})
        if response.status_code != 200:
            self._raise(response, f"listing of artifacts {path}")
        return response.json().get("files", [])

    def download_artifact(self, path: str, out: Any) -> None:
        """Stream artifact ``path`` into the binary file ``out`` (never whole in memory)."""
        import httpx

        try:
            with self._http.stream("GET", f"{ARTIFACTS}/{quote(path)}") as response:
                if response.status_code != 200:
                    response.read()
                    self._raise(response, f"download of artifact {path}")
                for block in response.iter_bytes(1 << 20):
                    out.write(block)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"cannot download artifact {path} from the MLflow server "
                                   f"{self.uri}: {exc}") from exc

    def get_artifact(self, path: str) -> bytes:
        response = self._send("GET", f"{ARTIFACTS}/{quote(path)}")
        if response.status_code != 200:
            self._raise(response, f"download of artifact {path}")
        return response.content
