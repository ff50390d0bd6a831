"""Which experiment a path of the ``mlflow-artifacts`` proxy belongs to, for its permission check.

Every file the proxy serves lies under some experiment's artifact location: a run's at
``<location>/<run_id>/artifacts/...``, a logged model's at ``<location>/models/<id>/...``.
An experiment made without ``artifact_location`` has ``<artifact root>/<experiment_id>``,
so the path's first segment is its id; one made with ``mlflow-artifacts:/team/churn``
has ``<artifact root>/team/churn``, and the first segment (``team``) names nothing.
The owner is therefore found by location, not by the first segment: the experiment (active
or deleted) whose location is the longest prefix of the path, so an experiment whose
location lies inside another's folder owns its own files.

A path under no experiment's location has no owner (None): the proxy leaves it to admins.

Each proxy request under users costs one search of every experiment (the tracking service
keeps the experiments themselves per version of their table, so it is one small query).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeml.entities import ViewType
from lakeml.tracking.experiments import every_experiment

if TYPE_CHECKING:
    from lakeml.client import Client


def locations_under(root: str, experiments: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(path under root, experiment id)`` of each experiment located under ``root``, longest
    path first; locations elsewhere (``s3://other/...``) are left out: the proxy never
    serves them."""
    root = root.rstrip("/")
    found = []
    for experiment_id, location in experiments:
        location = (location or "").rstrip("/")
        if location == root:
            found.append(("", experiment_id))
        elif location.startswith(root + "/"):
            found.append((location[len(root) + 1:], experiment_id))
    return sorted(found, key=lambda item: len(item[0]), reverse=True)


def owner(prefixes: list[tuple[str, str]], path: str) -> str | None:
    """The id of the experiment whose location (in ``prefixes``, longest first) holds
    ``path`` (relative to the artifact root), or None."""
    for prefix, experiment_id in prefixes:
        if not prefix or path == prefix or path.startswith(prefix + "/"):
            return experiment_id
    return None


def experiment_of_path(client: Client, path: str) -> str | None:
    """The experiment owning the proxy path ``path`` in ``client``'s store, or None."""
    pairs = [(e.experiment_id, e.artifact_location)
             for e in every_experiment(client, ViewType.ALL)]
    return owner(locations_under(client.store.artifact_root, pairs), path)
