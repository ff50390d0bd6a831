"""Artifact storage through fsspec."""

from __future__ import annotations

from lakeml.artifacts.repository import ArtifactRepository, clean_relative

__all__ = ["ArtifactRepository", "clean_relative"]
