"""Datasets that are Parquet or CSV files (one file or a folder of them).

Files can change in place, so the digest hashes their bytes (and relative paths), and
``load`` checks it: data that changed since it was logged is refused, never returned as
if it were the logged data. ``snapshot=True`` copies the files into the store
(``<store>/datasets/<digest>/``) so the logged data stays loadable whatever happens to
the originals.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from lakeml import config
from lakeml.entities.dataset import Dataset
from lakeml.errors import InvalidArgument, NotFound, NotSupported

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_CHUNK = 1 << 20


def from_files(uri: str | os.PathLike[str], format: str | None = None,
               name: str | None = None, targets: str | None = None, *,
               snapshot: bool = False, profile: bool = True) -> Dataset:
    """Describe a Parquet or CSV file, or a folder of them (``format`` from the suffix
    unless given), by a digest of their bytes, schema and profile. ``snapshot=True``
    copies them into the active store so :func:`lakeml.data.load` returns them even
    after the originals change or disappear."""
    from lakeml.data.profile import profile_arrow

    root = os.fspath(uri)
    if "://" not in root:  # recorded absolute, so it loads from any working directory
        root = os.path.abspath(root)
    fs, base = filesystem(root)
    files = list_files(fs, base, root)
    kind = format or _format_of(files, root)
    if kind not in ("parquet", "csv"):
        raise InvalidArgument(f"format must be 'parquet' or 'csv', got {kind!r}")
    digest = files_digest(fs, base, files)
    arrow = read_arrow(fs, [f for _, f in files], kind)
    schema = {"columns": [{"name": f.name, "type": str(f.type)} for f in arrow.schema]}
    described = profile_arrow(arrow) if profile else {"num_rows": arrow.num_rows}
    if targets is not None:
        if targets not in arrow.schema.names:
            raise InvalidArgument(f"targets {targets!r} is not a column of {root!r} "
                                  f"(columns: {', '.join(arrow.schema.names)})")
        described["targets"] = targets
    source: dict[str, Any] = {"uri": root, "format": kind}
    if snapshot:
        source["snapshot"] = _snapshot(fs, files, digest)
    scheme = root.split("://", 1)[0] if "://" in root else "local"
    return Dataset(name or f"{os.path.basename(root.rstrip('/')) or root}-{digest[:8]}",
                   digest, scheme, json.dumps(source), json.dumps(schema),
                   json.dumps(described))


def list_files(fs: Any, base: str, shown: str) -> list[tuple[str, str]]:
    """(relative path, full path) of the data files under ``base``, sorted; one pair
    for a single file. Hidden files and ``_``-prefixed ones (``_SUCCESS``) are skipped."""
    if not fs.exists(base):
        raise NotFound(f"no file or folder at {shown!r}")
    if not fs.isdir(base):
        return [(os.path.basename(base), base)]
    found = []
    for full in sorted(fs.find(base)):
        rel = full[len(base.rstrip("/")) + 1:]
        if any(part.startswith((".", "_")) for part in rel.split("/")):
            continue
        if os.path.splitext(full)[1].lower() in FORMATS:
            found.append((rel, full))
    if not found:
        raise NotFound(f"no .parquet or .csv files under {shown!r}")
    return found


def files_digest(fs: Any, base: str, files: list[tuple[str, str]]) -> str:
    """sha256 over each file's relative path, size and bytes, in path order."""
    h = hashlib.sha256()
    for rel, full in files:
        h.update(f"{rel}\0{fs.size(full)}\0".encode())
        with fs.open(full, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()[:16]


def read_arrow(fs: Any, paths: list[str], kind: str) -> Any:
    """The files as one Arrow table."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    tables = []
    for path in paths:
        with fs.open(path, "rb") as handle:
            tables.append(pq.read_table(handle) if kind == "parquet"
                          else pacsv.read_csv(handle))
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 \
        else tables[0]


def _format_of(files: list[tuple[str, str]], root: str) -> str:
    kinds = {FORMATS[os.path.splitext(full)[1].lower()] for _, full in files
             if os.path.splitext(full)[1].lower() in FORMATS}
    if len(kinds) != 1:
        raise InvalidArgument(f"cannot tell the format of {root!r} from its files "
                              f"({sorted(kinds) or 'no known suffix'}); pass format=")
    return kinds.pop()


def filesystem(uri: str) -> tuple[Any, str]:
    import fsspec

    options = config.artifact_storage_options() if "://" in uri else {}
    fs, path = fsspec.core.url_to_fs(uri, **options)
    return fs, path


def _snapshot(fs: Any, files: list[tuple[str, str]], digest: str) -> str:
    """Copy the files to ``<store>/datasets/<digest>/`` (once: the digest names the
    content) and return that location."""
    import fsspec

    store = config.store_uri().rstrip("/")
    if store.startswith(("http://", "https://")):
        raise NotSupported(f"snapshot=True copies the files into the store, and store "
                           f"{store!r} is a tracking server; snapshot into a store folder "
                           f"or bucket, or log without a snapshot")
    target = f"{store}/datasets/{digest}"
    out, out_base = fsspec.core.url_to_fs(
        target, **(config.artifact_storage_options() if "://" in target else {}))
    for rel, full in files:
        dest = f"{out_base}/{rel}"
        if out.exists(dest) and out.size(dest) == fs.size(full):
            continue
        out.makedirs(os.path.dirname(dest), exist_ok=True)
        with fs.open(full, "rb") as src, out.open(dest + ".part", "wb") as dst:
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
        out.mv(dest + ".part", dest)
    return target
