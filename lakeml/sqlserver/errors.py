"""Errors the server sends as ErrorResponse, each with its SQLSTATE, and DuckDB's errors
mapped onto them."""

from __future__ import annotations

SYNTAX = "42601"
UNDEFINED_TABLE = "42P01"
READ_ONLY = "25006"
NOT_SUPPORTED = "0A000"
BAD_PASSWORD = "28P01"
TLS_REQUIRED = "28000"  # invalid_authorization_specification, as PostgreSQL's hostssl-only
PROTOCOL = "08P01"
TOO_LONG = "54000"
CANCELED = "57014"
IN_FAILED_TRANSACTION = "25P02"
UNDEFINED_CURSOR = "34000"
UNDEFINED_STATEMENT = "26000"
UNDEFINED_OBJECT = "42704"


class SqlError(Exception):
    """An error for the client: SQLSTATE ``code`` and a message naming what was wrong."""

    def __init__(self, code: str, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint

    @classmethod
    def from_duckdb(cls, exc: Exception) -> SqlError:
        """The SQLSTATE for a DuckDB exception, by its class and message."""
        name = type(exc).__name__
        text = str(exc)
        lowered = text.lower()
        if name == "ParserException":
            code = SYNTAX
        elif name == "CatalogException":
            if "table with name" in lowered or "table or view" in lowered:
                code = UNDEFINED_TABLE
            elif "function" in lowered or "macro" in lowered:
                code = "42883"
            else:
                code = UNDEFINED_OBJECT
        elif name == "BinderException":
            code = "42703" if "column" in lowered else "42804"
        elif name == "PermissionException":
            code = "42501"
        elif name == "InterruptException":
            code, text = CANCELED, "canceling statement due to user request"
        elif name in ("ConversionException", "InvalidInputException"):
            code = "22P02"
        elif name == "OutOfRangeException":
            code = "22003"
        elif name == "OutOfMemoryException":
            code = "53200"
        elif name == "NotImplementedException":
            code = NOT_SUPPORTED
        else:
            code = "XX000"
        return cls(code, text)
