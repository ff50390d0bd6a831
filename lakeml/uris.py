"""Parsing the URIs that name models: ``runs:/<run_id>/<path>`` and ``models:/…``.

Text work shared by the registry (a version's source) and by models (loading):
no store is opened here. Looking a URI up (a run's artifact root, a registry
version) is the caller's part, passed in as a function.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

from lakeml.errors import InvalidArgument

MLMODEL = "MLmodel"  # the file that makes a folder a model
_VERSION = re.compile(r"^\d+$")


def clean_relative(path: str | None, what: str = "artifact path") -> str:
    """A normalised relative POSIX path; rejects absolute paths and ``..``."""
    if path is None or path in ("", "."):
        return ""
    if not isinstance(path, str):
        raise InvalidArgument(f"{what} must be a string, got {type(path).__name__} {path!r}")
    norm = posixpath.normpath(path.replace("\\", "/"))
    if norm.startswith("/") or norm == ".." or norm.startswith("../") or ":" in norm.split("/")[0]:
        raise InvalidArgument(f"{what} {path!r} must be relative and stay inside the run's "
                              "artifact folder")
    return "" if norm == "." else norm


def parse_runs_uri(model_uri: str) -> tuple[str, str]:
    """(run_id, path) of ``runs:/<run_id>/<path>``."""
    rest = model_uri[len("runs:/"):].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id or not path.strip("/"):
        raise InvalidArgument(f"model URI {model_uri!r} must look like runs:/<run_id>/<path>")
    if path.startswith("/"):  # runs:/<id>//etc: an absolute path after the run id
        raise InvalidArgument(f"model URI {model_uri!r}: the path after the run id must be "
                              "relative and stay inside the run's artifact folder")
    try:
        return run_id, clean_relative(path.strip("/"), f"the path in model URI {model_uri!r}")
    except InvalidArgument:
        raise InvalidArgument(f"model URI {model_uri!r}: the path after the run id must be "
                              "relative and stay inside the run's artifact folder (no '..')") \
            from None


def parse_models_uri(model_uri: str, canonical_stage: Callable[[str], str]
                     ) -> tuple[str, str, str]:
    """(name, kind, ref) of ``models:/<name>/<version|stage|latest>`` or ``models:/<name>@<alias>``.

    ``kind`` is ``version``, ``stage``, ``latest`` or ``alias``; a stage is
    named by ``canonical_stage`` (which raises InvalidArgument for a word that is
    no stage), passed in because the stage names are the registry entities'.
    """
    rest = model_uri[len("models:"):].lstrip("/")
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        if name and alias and "/" not in name:
            return name, "alias", alias
    else:
        name, _, ref = rest.partition("/")
        if name and ref and "/" not in ref:
            if _VERSION.match(ref):
                return name, "version", ref
            if ref.lower() == "latest":
                return name, "latest", ref
            try:
                return name, "stage", canonical_stage(ref)
            except InvalidArgument:
                pass
    raise InvalidArgument(f"model URI {model_uri!r} must look like models:/<name>/<version>, "
                          "models:/<name>/<stage> (None, Staging, Production, Archived), "
                          "models:/<name>/latest or models:/<name>@<alias>")


def model_location(model_uri: str, run_location: Callable[[str, str], str],
                   version_location: Callable[[str], str]) -> str:
    """The storage URI (a local path or ``scheme://…``) behind ``model_uri``.

    ``runs:/<run_id>/<path>`` is ``run_location(run_id, path)``; ``models:/…`` is
    ``version_location(model_uri)``; ``file://`` gives its path; anything else
    (a path, ``s3://…``) is its own location.
    """
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise InvalidArgument(f"model URI must be a non-empty string, got {model_uri!r}")
    if model_uri.startswith("runs:"):
        return run_location(*parse_runs_uri(model_uri))
    if model_uri.startswith("models:"):
        return version_location(model_uri)
    if model_uri.startswith("file:"):
        parsed = urlparse(model_uri)
        return unquote(parsed.path)
    return model_uri


def default_layout_model(store: str, run_id: str, path: str) -> str | None:
    """The model folder of a run whose artifacts sit where a local store puts them, or None.

    A local store keeps a run's artifacts at ``<store>/artifacts/<experiment
    id>/<run id>/artifacts`` unless its experiment names another location.
    Finding the model there takes a directory listing instead of opening
    the store's tables (~0.2 s in a fresh process); anything else (an object
    store, a custom location, no such folder) is looked up in the store.
    """
    import re

    if "://" in store or not re.fullmatch(r"[0-9A-Za-z_-]+", run_id):
        return None
    roots = list(Path(store, "artifacts").glob(f"*/{run_id}/artifacts"))
    if len(roots) != 1:
        return None
    root = roots[0].resolve()
    folder = (root / path).resolve()
    if not folder.is_relative_to(root):  # a symlink out of the run: let the store decide
        return None
    return str(folder) if (folder / MLMODEL).is_file() else None
