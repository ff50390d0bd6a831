"""The exceptions lakeml raises, grouped by what the caller can do about them.

Engine errors (deltalake, DuckDB, Spark) are translated into these at the
store boundary only; everything above the store sees nothing else.

Every class carries MLflow's ``error_code`` (the names of the ``ErrorCode``
enum of MLflow's protocol, databricks.proto) and the HTTP status MLflow's
server answers with for that code (``ERROR_CODE_TO_HTTP_STATUS`` in
mlflow/exceptions.py), so a REST server and its client map errors both ways:

    >>> err = NotFound("no run with id 'x'")
    >>> err.to_dict(), err.http_status
    ({'error_code': 'RESOURCE_DOES_NOT_EXIST', 'message': "no run with id 'x'"}, 404)
    >>> type(LakemlError.from_dict(err.to_dict())).__name__
    'NotFound'
"""

from __future__ import annotations

import re
from typing import Any, Mapping

#: MLflow's HTTP status for each error code (mlflow/exceptions.py, MLflow 2.x-3.x).
#: Note MLflow's own choices: RESOURCE_ALREADY_EXISTS is 400 (not 409) and
#: INVALID_STATE is 500.
HTTP_STATUS: dict[str, int] = {
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "CANCELLED": 499,
    "RESOURCE_EXHAUSTED": 429,
    "ABORTED": 409,
    "RESOURCE_CONFLICT": 409,
    "ALREADY_EXISTS": 409,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "PERMISSION_DENIED": 403,
    "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_PARAMETER_VALUE": 400,
}


class LakemlError(Exception):
    """Base class of every error lakeml raises on purpose.

    Class attributes ``error_code`` (MLflow's name) and ``http_status`` say
    how the error crosses a wire; :meth:`to_dict` / :meth:`from_dict` convert
    to and from MLflow's JSON error body ``{"error_code": ..., "message": ...}``.
    """

    error_code: str = "INTERNAL_ERROR"
    http_status: int = 500

    @property
    def message(self) -> str:
        """The message given when raised."""
        return str(self.args[0]) if self.args else ""

    def to_dict(self) -> dict[str, str]:
        """MLflow's JSON error body of this error."""
        return {"error_code": self.error_code, "message": self.message}

    @staticmethod
    def from_dict(body: Mapping[str, Any], *, http_status: int | None = None) -> LakemlError:
        """The error an MLflow-shaped JSON error body stands for.

        The class comes from ``error_code`` (see :func:`error_for_code`); an
        unknown or missing code falls back on ``http_status`` (see
        :func:`error_for_status`), else on :class:`LakemlError`.
        """
        code = body.get("error_code") if isinstance(body, Mapping) else None
        message = body.get("message") if isinstance(body, Mapping) else None
        cls = _BY_CODE.get(code) if isinstance(code, str) else None
        if cls is None:
            cls = error_for_status(http_status) if http_status is not None else LakemlError
        if cls is InvalidArgument and Deleted.said_by(str(message)):
            cls = Deleted
        return cls(str(message) if message is not None else f"error {code or http_status}")


class InvalidArgument(LakemlError, ValueError):
    """A value passed in is not acceptable; the message names it."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class NotFound(LakemlError, KeyError):
    """The experiment, run, artifact or version asked for does not exist."""

    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AlreadyExists(LakemlError):
    """Something with that unique name or key exists already."""

    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400  # MLflow's choice for this code (not 409)


class InvalidState(LakemlError):
    """The target exists but is in a state that forbids the call (a finished run…)."""

    error_code = "INVALID_STATE"
    http_status = 500  # MLflow's choice for this code


class Deleted(InvalidState, InvalidArgument):
    """The run or experiment is deleted: a call that needs it active waits for a restore.

    An InvalidState to lakeml's callers; on the wire it is what MLflow's server answers
    for it, INVALID_PARAMETER_VALUE (400: a client does not retry it as it retries a
    500). Its message has the form of SAID, ``run 'r1' is deleted; restore it…``, by
    which :meth:`LakemlError.from_dict` knows it again, so a client of a lakeml server
    raises it as the library does.
    """

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400
    # what the run or experiment is (its id or name as repr() quotes it), then the words
    SAID = re.compile(r"""(run|experiment) ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
                      r""" (\(id '[^']*'\) )?is deleted; restore it""")

    @classmethod
    def said_by(cls, message: str) -> bool:
        """Whether ``message`` is one of a Deleted error (a message of another form is
        still raised, but a client of a server takes it for an InvalidArgument)."""
        return cls.SAID.match(message) is not None


class PermissionDenied(LakemlError):
    """The acting user may not perform this action on this target."""

    error_code = "PERMISSION_DENIED"
    http_status = 403


class Unauthenticated(LakemlError):
    """The caller did not say who they are, or said it wrongly (a server's 401)."""

    error_code = "UNAUTHENTICATED"
    http_status = 401


class CommitConflict(LakemlError):
    """A concurrent writer won a conflict-checked commit; retrying may succeed."""

    error_code = "ABORTED"
    http_status = 409


class NotSupported(LakemlError, NotImplementedError):
    """The call is well formed but this part of lakeml is not available (yet, or here)."""

    error_code = "NOT_IMPLEMENTED"
    http_status = 501


class BadRequest(InvalidArgument):
    """A request that is malformed as a whole (bad JSON, wrong shape); not one bad value."""

    error_code = "BAD_REQUEST"
    http_status = 400


class TemporarilyUnavailable(LakemlError):
    """The service is busy (all workers taken) or restarting; retry with a backoff."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class StoreUnavailable(TemporarilyUnavailable):
    """The store URI cannot be read or written (missing, unreachable, not writable)."""


class RowsRejected(InvalidArgument):
    """Logged rows that were set aside instead of committed (every other row was).

    ``keys`` holds the first column of each rejected row (a run id for a run's params,
    metrics and tags), so that a server committing many requests' rows at once can tell
    which requests the rejection concerns.
    """

    def __init__(self, message: str, keys: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.keys = keys


# The class each MLflow error code maps back to. A code that several classes
# carry maps to the most general of them (TEMPORARILY_UNAVAILABLE: not
# StoreUnavailable); codes MLflow has that lakeml never raises map to the
# closest class.
_BY_CODE: dict[str, type[LakemlError]] = {
    "INTERNAL_ERROR": LakemlError,
    "INVALID_PARAMETER_VALUE": InvalidArgument,
    "BAD_REQUEST": BadRequest,
    "MALFORMED_REQUEST": BadRequest,
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "NOT_FOUND": NotFound,
    "ENDPOINT_NOT_FOUND": NotFound,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
    "ALREADY_EXISTS": AlreadyExists,
    "INVALID_STATE": InvalidState,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAUTHENTICATED": Unauthenticated,
    "CUSTOMER_UNAUTHORIZED": Unauthenticated,
    "ABORTED": CommitConflict,
    "RESOURCE_CONFLICT": CommitConflict,
    "NOT_IMPLEMENTED": NotSupported,
    "TEMPORARILY_UNAVAILABLE": TemporarilyUnavailable,
}

_BY_STATUS: dict[int, type[LakemlError]] = {
    400: InvalidArgument, 401: Unauthenticated, 403: PermissionDenied, 404: NotFound,
    409: CommitConflict, 501: NotSupported, 503: TemporarilyUnavailable,
}


def error_for_code(code: str) -> type[LakemlError]:
    """The lakeml class for MLflow error code ``code`` (LakemlError if unknown).

    >>> error_for_code("RESOURCE_ALREADY_EXISTS").__name__
    'AlreadyExists'
    """
    return _BY_CODE.get(code, LakemlError)


def error_for_status(status: int) -> type[LakemlError]:
    """The lakeml class for an HTTP status with no usable error code."""
    return _BY_STATUS.get(status, LakemlError)


def http_status_of(code: str) -> int:
    """MLflow's HTTP status for error code ``code`` (500 if unknown)."""
    return HTTP_STATUS.get(code, 500)
