"""The exceptions lakeml raises, grouped by what the caller can do about them.

Engine errors (deltalake, DuckDB, Spark) are translated into these at the
store boundary only; everything above the store sees nothing else.
"""

from __future__ import annotations


class LakemlError(Exception):
    """Base class of every error lakeml raises on purpose."""


class InvalidArgument(LakemlError, ValueError):
    """A value passed in is not acceptable; the message names it."""


class NotFound(LakemlError, KeyError):
    """The experiment, run, artifact or version asked for does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AlreadyExists(LakemlError):
    """Something with that unique name or key exists already."""


class InvalidState(LakemlError):
    """The target exists but is in a state that forbids the call (a finished run…)."""


class PermissionDenied(LakemlError):
    """The acting user may not perform this action on this target."""


class CommitConflict(LakemlError):
    """A concurrent writer won a conflict-checked commit; retrying may succeed."""


class NotSupported(LakemlError, NotImplementedError):
    """The call is well formed but this part of lakeml is not available (yet, or here)."""


class StoreUnavailable(LakemlError):
    """The store URI cannot be read or written (missing, unreachable, not writable)."""
