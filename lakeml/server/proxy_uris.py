"""Artifact locations as MLflow's client sees them through the server: ``mlflow-artifacts:/``.

The store keeps real locations (``<store>/artifacts/<experiment>/<run>/artifacts``),
which lakeml reads directly. Over the wire a location under the store's artifact root
is shown as ``mlflow-artifacts:/<path under the root>``: MLflow's client then sends
its uploads, downloads and listings to this server's ``/api/2.0/mlflow-artifacts``
proxy (artifacts.py) instead of touching the store, and a location it sends back (a
model version's source, say) is turned into the real one before it is stored.
Locations outside the root (an experiment created with ``s3://other/...``) pass as
they are, as with MLflow's own server.

The roots are those of the stores this process serves, registered when an app is built
(normally one; the server runs one app per worker process).
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from lakeml.errors import InvalidArgument
from lakeml.uris import clean_relative

SCHEME = "mlflow-artifacts"
_roots: list[str] = []


def serve_root(root: str) -> None:
    """Show locations under artifact root ``root`` as ``mlflow-artifacts:/`` URIs."""
    root = root.rstrip("/")
    if root not in _roots:
        _roots.append(root)


def public(uri: str | None) -> str | None:
    """``uri`` as MLflow's client is given it."""
    if not uri:
        return uri
    for root in _roots:
        if uri == root:
            return f"{SCHEME}:/"
        if uri.startswith(root + "/"):
            return f"{SCHEME}:/{uri[len(root) + 1:]}"
    return uri


def relative(uri_or_path: str, what: str = "artifact path") -> str:
    """The path under the artifact root that ``mlflow-artifacts:[//host]/<path>`` names
    (or a bare path's own clean form); refuses ``..`` and absolute paths, naming them."""
    if uri_or_path.startswith(f"{SCHEME}:"):
        return clean_relative(unquote(urlparse(uri_or_path).path).lstrip("/"), what)
    return clean_relative(uri_or_path, what)


def stored(root: str, uri: str | None) -> str | None:
    """The real location behind ``uri`` in the store whose artifact root is ``root``:
    ``mlflow-artifacts:/x`` becomes ``<root>/x``, anything else stays as it is."""
    if not isinstance(uri, str) or not uri.startswith(f"{SCHEME}:"):
        return uri
    try:
        rel = relative(uri, "artifact location")
    except InvalidArgument:
        raise InvalidArgument(f"artifact location {uri!r} must stay inside the server's "
                              "artifact root (no '..')") from None
    return f"{root.rstrip('/')}/{rel}" if rel else root.rstrip("/")
