"""The storage layer: Delta tables, the batched writer and maintenance."""

from __future__ import annotations

from lakeml.store.store import Store, normalize_uri

__all__ = ["Store", "normalize_uri"]
