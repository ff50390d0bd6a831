"""Every setting lakeml reads, with its type, default and meaning.

Precedence: an explicit argument > the environment variable > the conf file
(``conf/lakeml.yaml`` under the working directory, or the file named by
``LAKEML_CONF``) > the default. Nothing is read at import time.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlparse

from lakeml.arguments import path as path_argument
from lakeml.errors import InvalidArgument


@dataclass(frozen=True)
class Setting:
    """One setting: its conf-file key, environment variable, parser and default."""

    key: str
    env: str
    parse: Callable[[str], Any]
    default: Any
    help: str


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be > 0, got {text!r}")
    return value


def _progress(text: str) -> str:
    value = text.strip().lower()
    if value not in ("auto", "bar", "lines", "off"):
        raise ValueError(f"use auto, bar, lines or off, got {text!r}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError(f"must be >= 0 seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be > 0, got {text!r}")
    return value


_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _byte_size(text: str) -> int:
    """Bytes from ``1GB``, ``512MiB``, ``1000000`` (units as DuckDB reads them)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B|bytes)?\s*", text, re.IGNORECASE)
    if match is None:
        raise ValueError(f"expected a size such as 1GB or 512MiB, got {text!r}")
    unit = (match.group(2) or "B").upper().replace("BYTES", "B")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value <= 0:
        raise ValueError(f"must be > 0, got {text!r}")
    return value


DEFAULT_STORE = "lakeml-store"

SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("store", "LAKEML_STORE", str, DEFAULT_STORE,
                "Store URI: a local folder (relative to the working directory), "
                "file://, or an object store such as s3://bucket/prefix."),
        Setting("experiment_name", "LAKEML_EXPERIMENT_NAME", str, None,
                "Experiment that runs go to when no set_experiment() was called."),
        Setting("experiment_id", "LAKEML_EXPERIMENT_ID", str, None,
                "Like LAKEML_EXPERIMENT_NAME, by id."),
        Setting("run_id", "LAKEML_RUN_ID", str, None,
                "A run that start_run() resumes (set by `lakeml run` for child processes)."),
        Setting("user", "LAKEML_USER", str, None,
                "Acting user recorded on runs; defaults to the OS user."),
        Setting("tracking_username", "LAKEML_TRACKING_USERNAME", str, None,
                "User (HTTP Basic) lakeml's REST client signs in to a tracking server as; "
                "or give it in the URL, http://user:password@host:port."),
        Setting("tracking_password", "LAKEML_TRACKING_PASSWORD", str, None,
                "Password of LAKEML_TRACKING_USERNAME."),
        Setting("tracking_token", "LAKEML_TRACKING_TOKEN", str, None,
                "API token (HTTP Bearer) lakeml's REST client sends to a tracking server; "
                "outranks a user and password."),
        Setting("flush_interval", "LAKEML_FLUSH_INTERVAL", _positive_float, 1.0,
                "Seconds between background commits of buffered log rows: the "
                "most a kill -9 of a logging process can lose."),
        Setting("flush_rows", "LAKEML_FLUSH_ROWS", _positive_int, 200_000,
                "Buffered rows that trigger a background commit before the interval."),
        Setting("max_buffered_rows", "LAKEML_MAX_BUFFERED_ROWS", _positive_int, 2_000_000,
                "Buffered rows at which a log call waits for a commit (back-pressure)."),
        Setting("commit_retries", "LAKEML_COMMIT_RETRIES", _positive_int, 100,
                "Delta commit retries under concurrent writers."),
        Setting("auto_maintenance", "LAKEML_AUTO_MAINTENANCE", lambda t: t.lower() in
                ("1", "true", "yes", "on"), True,
                "Compact and checkpoint tables by themselves as commits pile up."),
        Setting("compact_every", "LAKEML_COMPACT_EVERY", _positive_int, 32,
                "Small data files (under 1 MiB) a table may gather before the writer "
                "compacts them."),
        Setting("compaction_lease", "LAKEML_COMPACTION_LEASE", _positive_int, 300,
                "Seconds a process holds a table's compaction lease: no other process "
                "compacts that table sooner, so a compaction must finish within it."),
        Setting("snapshot_memory", "LAKEML_SNAPSHOT_MEMORY", _byte_size, 10**9,
                "Memory DuckDB may use to write the run snapshot (e.g. 1GB, 512MiB); "
                "past it, it spills to disk beside the snapshot. Writing processes "
                "write it in the background."),
        Setting("materialize_views", "LAKEML_MATERIALIZE_VIEWS", lambda t: t.lower() in
                ("1", "true", "yes", "on"), False,
                "Writing processes keep the Delta tables under <store>/views/ (see `lakeml "
                "views materialize`) fresh by themselves, in the background and at exit."),
        Setting("materialize_views_at_exit", "LAKEML_MATERIALIZE_VIEWS_AT_EXIT", _seconds,
                30.0, "Seconds a writing process with LAKEML_MATERIALIZE_VIEWS waits at exit "
                "for the view tables' last refresh (0: no refresh at exit); past them it "
                "exits and the next refresh catches up. Writing processes never build the tables "
                "of a store past 50,000 run rows whole (`lakeml views materialize` does)."),
        Setting("permissions", "LAKEML_PERMISSIONS", str, None,
                "YAML file of model-registry users and roles (see "
                "conf/permissions.example.yaml); unset: everyone may do everything."),
        Setting("model_cache", "LAKEML_MODEL_CACHE", str, None,
                "Folder where models loaded from remote URIs (s3://, runs:/ on an object "
                "store) are downloaded, one subfolder per URI; default "
                "~/.cache/lakeml/models."),
        Setting("file_cache", "LAKEML_FILE_CACHE", str, None,
                "Folder where the data files of a remote store (s3://...) are copied for "
                "reading, once each (they never change); default ~/.cache/lakeml/files."),
        Setting("file_cache_size", "LAKEML_FILE_CACHE_SIZE", _byte_size, 10 * 10**9,
                "Most bytes the file cache keeps (e.g. 10GB); past it the least recently "
                "used copies go."),
        Setting("remote_freshness", "LAKEML_REMOTE_FRESHNESS", _seconds, 2.0,
                "Seconds a reader of a remote store (s3://...) reuses the table versions it "
                "last listed before listing again (each listing is a round trip per "
                "table); this process's own commits are always seen at once. 0: list on "
                "every read."),
        Setting("progress", "LAKEML_PROGRESS", _progress, "auto",
                "How long commands show progress on stderr: auto (a bar on a terminal, "
                "plain lines otherwise), bar, lines, or off."),
        Setting("env_cache", "LAKEML_ENV_CACHE", str, None,
                "Folder where `lakeml run` keeps the virtualenvs it builds from python_env "
                "files, one per content hash; default ~/.cache/lakeml/envs."),
        Setting("server_auth_file", "LAKEML_SERVER_AUTH_FILE", str, None,
                "Users, API tokens and permissions of `lakeml server` (JSON, written by "
                "`lakeml server users|permissions`); unset: the server is anonymous."),
        Setting("server_max_body_mb", "LAKEML_SERVER_MAX_BODY_MB", _positive_float, 32,
                "Largest request body (MB) `lakeml server` reads; larger ones get 413."),
        Setting("server_read_timeout", "LAKEML_SERVER_READ_TIMEOUT", _positive_float, 60,
                "Seconds `lakeml server` waits for each part of a request body; a body "
                "that stalls longer gets 408."),
        Setting("server_cors_origins", "LAKEML_SERVER_CORS_ORIGINS", str, None,
                "Comma-separated origins whose browsers may call `lakeml server` (CORS); "
                "unset: no cross-origin access."),
        Setting("server_allowed_hosts", "LAKEML_SERVER_ALLOWED_HOSTS", str, None,
                "Comma-separated Host header patterns `lakeml server` answers to (DNS "
                "rebinding protection; `*` any); unset: this machine's names, and private "
                "networks' when bound beyond loopback."),
        Setting("ui_sql_timeout", "LAKEML_UI_SQL_TIMEOUT", _positive_float, 30,
                "Seconds a query of the web UI's SQL box may run before it is stopped."),
        Setting("serve_max_body_mb", "LAKEML_SERVE_MAX_BODY_MB", _positive_float, 64,
                "Largest request body (MB) `lakeml models serve` reads; larger ones get "
                "413 unread."),
        Setting("serve_max_inflight_mb", "LAKEML_SERVE_MAX_INFLIGHT_MB", _positive_float,
                64, "Request body MB a scoring server process reads or scores at once "
                "(at least the max body); more gets 503. Bounds its memory."),
        Setting("serve_max_requests", "LAKEML_SERVE_MAX_REQUESTS", _positive_int, 16,
                "Requests a scoring server process reads or scores at once; more get 503."),
    )
}


def conf_file() -> Path | None:
    """The conf file in force: ``$LAKEML_CONF`` or ./conf/lakeml.yaml, if it exists."""
    named = os.environ.get("LAKEML_CONF")
    if named:
        path = Path(named)
        if not path.is_file():
            raise InvalidArgument(f"LAKEML_CONF={named!r} is not a file")
        return path
    # (one stat, no pathlib: a server asks on every run it creates)
    path = os.path.join(os.getcwd(), "conf", "lakeml.yaml")
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None  # (any other error, such as no permission, is raised: not ignored)
    return Path(path) if stat.S_ISREG(mode) else None


def _conf_values() -> dict[str, Any]:
    path = conf_file()
    if path is None:
        return {}
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path} must hold a mapping of settings, got {type(data).__name__}")
    # sections read by their own modules: monitor (lakeml.data.monitor.run.conf_thresholds)
    unknown = set(data) - set(SETTINGS) - {"storage_options", "artifact_storage_options",
                                           "monitor"}
    if unknown:
        raise InvalidArgument(
            f"{path}: unknown setting(s) {sorted(unknown)}; valid: {sorted(SETTINGS)}")
    return data


def get(key: str, explicit: Any = None) -> Any:
    """The value of setting ``key`` by the precedence above."""
    setting = SETTINGS[key]
    if explicit is not None:
        return explicit
    raw = os.environ.get(setting.env)
    source = setting.env
    if raw is None or raw == "":
        conf = _conf_values()
        if key not in conf or conf[key] is None:
            return setting.default
        raw, source = conf[key], f"{conf_file()}: {key}"
        if not isinstance(raw, str):
            raw = str(raw)
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise InvalidArgument(f"bad value {raw!r} for {source}: {exc}") from None


# Store URIs are normalised here, below the store, since the store in force is a setting.
REMOTE_SCHEMES = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl")


def normalize_uri(uri: str | os.PathLike[str]) -> str:
    """An absolute local path, or a ``scheme://…`` URI without a trailing slash."""
    text = path_argument(uri, "store URI").strip()
    if not text:
        raise InvalidArgument("store URI is empty; give a folder path or e.g. s3://bucket/prefix")
    if "://" not in text:
        return str(Path(text).expanduser().resolve())
    parsed = urlparse(text)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise InvalidArgument(f"file URI {text!r} names host {parsed.netloc!r}; "
                                  "use file:///absolute/path")
        return str(Path(unquote(parsed.path)).resolve())
    if parsed.scheme in ("http", "https"):  # a tracking server: lakeml's REST client
        if not parsed.hostname:
            raise InvalidArgument(f"tracking server URI {text!r} names no host; give "
                                  "http://host:port")
        return text.rstrip("/")
    if parsed.scheme not in REMOTE_SCHEMES:
        raise InvalidArgument(f"store URI {text!r} has unsupported scheme {parsed.scheme!r}; "
                              f"use a local path, file://, or one of {list(REMOTE_SCHEMES)}")
    return text.rstrip("/")


_active_store: str | None = None  # set_store()'s choice, which outranks the settings


def set_active_store(uri: str | None) -> None:
    """Record the store chosen in code (``lakeml.set_store``); None forgets it."""
    global _active_store
    _active_store = uri


def store_uri() -> str:
    """The store in force: set_store() > LAKEML_STORE > conf/lakeml.yaml > ./lakeml-store.

    Lower layers (models, artifacts) read it here, so they need not import the
    fluent API to learn which store the process uses.
    """
    if _active_store is not None:
        return _active_store
    return normalize_uri(get("store"))


#: The user a tracking server authenticated for the request being handled (None outside
#: one): it outranks LAKEML_USER, so runs, registry events and registry permissions name
#: the caller, not the server's own account.
_request_user: ContextVar[str | None] = ContextVar("lakeml_request_user", default=None)
_request_admin: ContextVar[bool] = ContextVar("lakeml_request_admin", default=False)


@contextlib.contextmanager
def acting_as(user: str, *, admin: bool = False) -> Iterator[None]:
    """Make ``user`` the acting user of this context (a thread or task) for the block;
    ``admin``: a server admin, whom the registry's permissions file lets do everything.

    Example::

        with acting_as("alice"):
            assert current_user() == "alice"
    """
    token, admin_token = _request_user.set(user), _request_admin.set(admin)
    try:
        yield
    finally:
        _request_user.reset(token)
        _request_admin.reset(admin_token)


def acting_admin() -> bool:
    """Whether the acting user is an admin of the tracking server serving this request."""
    return _request_admin.get()


def current_user() -> str:
    """The authenticated user of a server request (see :func:`acting_as`), else
    ``LAKEML_USER``, else the OS user, else ``unknown``: who runs and registry events are
    recorded as."""
    user = _request_user.get() or get("user")
    if user:
        return str(user)
    return _os_user()


@lru_cache(maxsize=1)
def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def storage_options() -> dict[str, str]:
    """deltalake's object-store options (``AWS_REGION``…) from the conf file, if any."""
    opts = _conf_values().get("storage_options") or {}
    return {str(k): str(v) for k, v in opts.items()}


def artifact_storage_options() -> dict[str, Any]:
    """fsspec's keyword arguments for artifacts on an object store (s3fs: ``key``…).

    deltalake and fsspec name their options differently, so the conf file keeps
    them apart; without either, both read the standard environment variables.
    """
    return dict(_conf_values().get("artifact_storage_options") or {})


def describe() -> str:
    """A table of every setting, for ``lakeml config``."""
    lines = [f"{'key':<18} {'environment':<26} {'default':<14} meaning"]
    for s in SETTINGS.values():
        lines.append(f"{s.key:<18} {s.env:<26} {s.default!s:<14} {s.help}")
    return "\n".join(lines)
