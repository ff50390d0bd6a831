"""lakeml's errors as MLflow's JSON error body ``{"error_code": ..., "message": ...}``.

The HTTP status and code come from each error class (``error_code`` and ``http_status``
in lakeml/errors.py). Anything else is a 500 INTERNAL_ERROR whose body says nothing of
the cause: the traceback goes to the server's log, never to the caller.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lakeml.errors import LakemlError

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

log = logging.getLogger("lakeml.server")

#: MLflow's codes for the HTTP errors the framework raises itself (no such route...).
_FRAMEWORK_CODES = {404: "ENDPOINT_NOT_FOUND", 405: "BAD_REQUEST", 413: "BAD_REQUEST"}


def error_response(code: str, message: str, status: int) -> JSONResponse:
    """MLflow's error body with ``status``."""
    from fastapi.responses import JSONResponse

    return JSONResponse({"error_code": code, "message": message}, status_code=status)


def internal_error_response() -> JSONResponse:
    """MLflow's 500 for a failure the caller cannot act on: nothing of its cause (the
    traceback goes to the server's log)."""
    return error_response("INTERNAL_ERROR", "internal server error (see the server's log)",
                          500)


def install(app: FastAPI) -> None:
    """Make ``app`` answer every error in MLflow's shape."""
    from starlette.exceptions import HTTPException

    async def lakeml_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LakemlError)
        return error_response(exc.error_code, exc.message, exc.http_status)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _FRAMEWORK_CODES.get(exc.status_code, "BAD_REQUEST"
                                    if exc.status_code < 500 else "INTERNAL_ERROR")
        message = (f"no endpoint {request.method} {request.url.path}"
                   if exc.status_code in (404, 405) else str(exc.detail))
        return error_response(code, message, exc.status_code)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return internal_error_response()

    app.add_exception_handler(LakemlError, lakeml_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)
