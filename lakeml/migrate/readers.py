"""Which reader opens an MLflow tracking URI (see ``source`` for what readers return)."""

from __future__ import annotations

import os

from lakeml.errors import InvalidArgument, NotSupported
from lakeml.migrate.file_source import FileStoreSource
from lakeml.migrate.source import Source
from lakeml.migrate.sqlite_source import SqliteSource


def open_source(uri: str) -> Source:
    """The reader of MLflow tracking URI ``uri``: ``sqlite:///path``, a PostgreSQL or
    MySQL database (``postgresql://…``, ``mysql://…``, any ``+driver``), a file store
    folder (``./mlruns`` or ``file:///…``) or a running server (``http(s)://``); other
    schemes raise NotSupported naming them."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidArgument(f"the MLflow source must be a tracking URI, got {uri!r}")
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme == "sqlite" or (not scheme and uri.endswith((".db", ".sqlite"))
                              and os.path.isfile(uri)):
        return SqliteSource(uri if scheme else f"sqlite:///{os.path.abspath(uri)}")
    if scheme in ("", "file"):
        return FileStoreSource(uri)
    if scheme in ("http", "https"):
        from lakeml.migrate.rest_source import RestSource

        return RestSource(uri)
    from lakeml.migrate.server_db_source import MysqlSource, PostgresSource, db_kind

    kind = db_kind(uri)
    if kind == "postgresql":
        return PostgresSource(uri)
    if kind == "mysql":
        return MysqlSource(uri)
    raise NotSupported(
        f"cannot import from {uri.split('://', 1)[0]}:// URIs: lakeml imports an MLflow "
        "sqlite database (sqlite:///path/mlflow.db), a PostgreSQL or MySQL database "
        "(postgresql://user:password@host:port/db, mysql://…), a file store folder "
        "(./mlruns) or a running MLflow server (http(s)://host:port)")
