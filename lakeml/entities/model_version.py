"""What the model registry returns: registered models, versions, requests, comments.

Times are epoch milliseconds, as in MLflow's entities.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lakeml.errors import InvalidArgument

NONE = "None"
STAGING = "Staging"
PRODUCTION = "Production"
ARCHIVED = "Archived"
STAGES = (NONE, STAGING, PRODUCTION, ARCHIVED)
# Stages whose other versions archive_existing_versions may archive.
ARCHIVING_STAGES = (STAGING, PRODUCTION)
_STAGE_NAMES = {s.lower(): s for s in STAGES} | {"development": NONE, "dev": NONE}


def canonical_stage(stage: str) -> str:
    """``"production"`` -> ``"Production"``; Development (or None) is stored as ``"None"``."""
    found = _STAGE_NAMES.get(str(stage).strip().lower()) if stage is not None else NONE
    if found is None:
        raise InvalidArgument(f"stage {stage!r} is not one of None (Development), Staging, "
                              "Production, Archived")
    return found


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model."""

    name: str
    version: int
    current_stage: str
    source: str
    storage_location: str
    run_id: str | None
    status: str
    user_id: str | None
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    status_message: str | None = None  # MLflow's; lakeml versions are READY when made

    @property
    def run_link(self) -> str | None:
        """``runs:/<run_id>`` when the version came from a run."""
        return f"runs:/{self.run_id}" if self.run_id else None


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: a name with versions, tags, aliases and a description."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)


@dataclass(frozen=True)
class TransitionRequest:
    """A request to move a version into a stage, and how it ended."""

    request_id: str
    name: str
    version: int
    stage: str
    requested_by: str | None
    requested_at: int
    comment: str | None
    status: str  # PENDING, APPROVED, REJECTED, CANCELLED
    resolved_by: str | None = None
    resolved_at: int | None = None
    resolution_comment: str | None = None


@dataclass(frozen=True)
class Comment:
    """A comment on a model version."""

    comment_id: str
    name: str
    version: int
    comment: str
    user_id: str | None
    timestamp: int
