"""Artifact storage through fsspec."""

from __future__ import annotations

from lakeml.artifacts.repository import ArtifactRepository, Upload, clean_relative

__all__ = ["ArtifactRepository", "Upload", "clean_relative"]
