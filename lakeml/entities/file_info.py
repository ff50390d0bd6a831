"""An entry of an artifact listing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileInfo:
    """A file or folder under a run's artifact root; ``path`` is relative to it."""

    path: str
    is_dir: bool
    file_size: int | None
