"""Path parameters as request fields, for routes such as ``/logged-models/{model_id}``.

A route handler takes only the request's fields (query parameters, or the JSON body).
MLflow 3 puts some of them in the path instead; :func:`path_fields` wraps a route's
endpoint so that they reach the handler like any other field: added to the query of a
GET (or of a DELETE without a body), to the JSON object of any other request. A body
that is not a JSON object is passed on untouched, for the endpoint to refuse.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlencode

if TYPE_CHECKING:
    from starlette.requests import Request

Endpoint = Callable[["Request"], Any]


def path_fields(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, given its route's path parameters as fields too."""
    async def with_path(request: Request) -> Any:
        from starlette.requests import Request

        params = {k: str(v) for k, v in request.path_params.items()}
        if not params:
            return await endpoint(request)
        raw = await request.body()  # read now: the endpoint gets it replayed below
        scope = request.scope
        if request.method == "GET" or (request.method == "DELETE" and not raw.strip()):
            query = [*request.query_params.multi_items(), *params.items()]
            scope = {**scope, "query_string": urlencode(query).encode()}
        else:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                body = None
            if isinstance(body, dict):
                raw = json.dumps({**body, **params}).encode()
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:  # the body was given whole: what follows is the client's disconnect
                return await request.receive()
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        return await endpoint(Request(scope, receive))

    with_path.__name__ = getattr(endpoint, "__name__", "endpoint")
    return with_path
