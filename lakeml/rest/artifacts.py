"""Artifact calls of the REST tracking service.

``get_artifact_uri`` is answered from the run's artifact root, which the server sent.
Moving files to and from a tracking server goes through MLflow's artifact proxy
(``/api/2.0/mlflow-artifacts/artifacts/<path>``: PUT to upload, GET to download or to
list), which the server gains separately; until this client speaks it, the calls that
move files raise NotSupported saying so.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Mapping

from lakeml.errors import NotSupported
from lakeml.uris import clean_relative

if TYPE_CHECKING:
    from lakeml.entities import FileInfo

PROXY = "/api/2.0/mlflow-artifacts/artifacts/<path>"


class RestArtifacts:
    """A part of :class:`~lakeml.rest.tracking.RestTrackingService`: its artifact calls.

    ``state(run_id)`` gives what the service knows of the run (its ``artifact_uri``),
    ``writable(run_id)`` checks that the run takes log calls.
    """

    CALLS = ("get_artifact_uri", "log_artifact", "log_artifacts", "log_text", "log_dict",
             "log_figure", "list_artifacts", "download_artifacts")

    def __init__(self, state: Callable[[str], Any], writable: Callable[[str], Any]) -> None:
        self._state = state
        self._writable = writable

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        """The URI of the run's artifact root, or of ``artifact_path`` under it."""
        root = self._state(run_id).artifact_uri
        rel = clean_relative(artifact_path)
        return f"{root}/{rel}" if rel else root

    def _refuse(self, call: str, run_id: str) -> NotSupported:
        self._state(run_id)  # an unknown run is NotFound first, as in the lake
        return NotSupported(
            f"{call} through a tracking server needs MLflow's artifact proxy ({PROXY}), "
            "which lakeml's REST client does not speak yet; log artifacts from a process "
            "that opens the store itself (lakeml.set_store('<the server's store>')), or "
            "with MLflow's client against the server")

    def log_artifact(self, run_id: str, local_path: str | os.PathLike[str],
                     artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts (NotSupported over REST, see above)."""
        raise self._refuse("log_artifact", run_id)

    def log_artifacts(self, run_id: str, local_dir: str | os.PathLike[str],
                      artifact_path: str | None = None) -> None:
        """Copy a local folder's files into the run's artifacts (NotSupported over REST)."""
        raise self._refuse("log_artifacts", run_id)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save ``text`` as the artifact ``artifact_file`` (NotSupported over REST)."""
        raise self._refuse("log_text", run_id)

    def log_dict(self, run_id: str, dictionary: Mapping[str, Any], artifact_file: str) -> None:
        """Save a dict as JSON or YAML (NotSupported over REST)."""
        raise self._refuse("log_dict", run_id)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        """Save a matplotlib figure (NotSupported over REST)."""
        raise self._refuse("log_figure", run_id)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` (NotSupported over REST)."""
        raise self._refuse("list_artifacts", run_id)

    def download_artifacts(self, run_id: str, path: str = "",
                           dst_path: str | os.PathLike[str] | None = None) -> str:
        """Copy artifacts to ``dst_path`` (NotSupported over REST)."""
        raise self._refuse("download_artifacts", run_id)
